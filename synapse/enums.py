"""Enumerations of the backend's wire values.

Members are strings: ``StorageProvider.AMAZON_S3 == "amazon_s3"`` holds, and they
serialize as their wire strings. Values the server sends that a member does not name
yet are kept as plain strings where responses are parsed (see
[`parse_enum()`][synapse.enums.parse_enum]).
Values a caller sends are checked strictly (see [`require_enum()`][synapse.enums.require_enum]).
"""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from synapse.errors import InvalidInputError

__all__ = [
    "AnnotateAction",
    "JobStatus",
    "StorageCategory",
    "StorageProvider",
    "TagAction",
    "WireEnum",
    "parse_enum",
    "require_enum",
]


class WireEnum(str, Enum):
    """A string enum whose members are their wire strings."""

    def __str__(self) -> str:
        return str(self.value)


class StorageCategory(WireEnum):
    """Where a storage lives: managed by Synapse or brought by the tenant."""

    INTERNAL = "internal"
    EXTERNAL = "external"


class StorageProvider(WireEnum):
    """Storage back ends known to the SDK; the server may know more."""

    AMAZON_S3 = "amazon_s3"
    AZURE = "azure"
    DIGITAL_OCEAN = "digital_ocean"
    FILE_SYSTEM = "file_system"
    FTP = "ftp"
    SFTP = "sftp"
    MINIO = "minio"
    GCP = "gcp"
    SYNOLOGY = "synology"
    SMB = "smb"


class JobStatus(WireEnum):
    """Life cycle of a plugin job (uppercase on the wire)."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    STOPPED = "STOPPED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"

    @property
    def is_finished(self) -> bool:
        """True once the job will not change status any more."""
        return self in (JobStatus.STOPPED, JobStatus.SUCCEEDED, JobStatus.FAILED)


class AnnotateAction(WireEnum):
    """What ``annotate_task_data`` does with the data."""

    SAVE = "save"
    SUBMIT = "submit"


class TagAction(WireEnum):
    """Whether set-tags adds or removes the tags."""

    ADD = "add"
    REMOVE = "remove"


E = TypeVar("E", bound=WireEnum)

#: Words the original documentation uses for a member (``update_job(..., {'status':
#: 'completed'})``), matched like the wire values: case-insensitively.
ALIASES: dict[type[WireEnum], dict[str, str]] = {
    JobStatus: {"completed": "SUCCEEDED", "complete": "SUCCEEDED", "success": "SUCCEEDED"},
}


def _lookup(enum: type[E], value: object) -> E | None:
    if isinstance(value, enum):
        return value
    if not isinstance(value, str):
        return None
    try:
        return enum(value)
    except ValueError:
        pass
    key = value.strip().lower()
    for member in enum:
        if key in (member.value.lower(), member.name.lower()):
            return member
    alias = ALIASES.get(enum, {}).get(key)
    return enum(alias) if alias is not None else None


def parse_enum(enum: type[E], value: object) -> E | str:
    """A member for a known wire value, the plain string for one the SDK does not know."""
    found = _lookup(enum, value)
    return found if found is not None else str(value)


def require_enum(enum: type[E], value: object, *, field: str = "value") -> E:
    """The member for ``value``: a member, its wire string or name in any case, or a
    documented alias (``"completed"`` for `SUCCEEDED`); else a clear error."""
    found = _lookup(enum, value)
    if found is None:
        allowed = ", ".join(repr(m.value) for m in enum)
        raise InvalidInputError(
            f"{field} must be one of {allowed} (any case, or {enum.__name__}.<NAME>), got {value!r}"
        )
    return found
