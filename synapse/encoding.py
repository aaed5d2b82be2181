"""Request bodies: JSON as the backend expects it, multipart parts and form fields, and
local files checked before any request."""

from __future__ import annotations

import datetime as dt
import enum
import json
import os
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path, PurePath
from typing import IO, Any

from synapse.errors import InvalidInputError

__all__ = [
    "Body",
    "FileValue",
    "OpenFiles",
    "check_files",
    "check_readable",
    "encode_json",
    "form_fields",
]


def set_for_dict(where: str) -> InvalidInputError:
    """The one error for a Python set where a JSON object is wanted: ``{...}`` in an
    example is a set holding ``Ellipsis``, not a dict of the reader's own fields."""
    return InvalidInputError(
        f"{where} is a Python set, not a dict: write the fields as {{'key': value}} "
        "({...} in an example stands for your own fields)"
    )


def find_set(value: Any, where: str = "", depth: int = 0) -> str | None:
    """Where in ``value`` (dicts and lists) a set stands, as a dotted path, if anywhere."""
    if isinstance(value, (set, frozenset)):
        return where
    if depth > 32:
        return None
    if isinstance(value, Mapping):
        items: Any = ((f"{where}.{k}" if where else str(k), v) for k, v in value.items())
    elif isinstance(value, (list, tuple)):
        items = ((f"{where}[{i}]", v) for i, v in enumerate(value))
    else:
        return None
    for inner_where, inner in items:
        found = find_set(inner, inner_where, depth + 1)
        if found:
            return found
    return None


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        raise set_for_dict("a value of the request")
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, (uuid.UUID, PurePath)):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot send {type(value).__name__} as JSON")


def encode_json(data: Any) -> bytes:
    """The JSON body the backend expects (standard encoder, ASCII-escaped)."""
    try:
        return json.dumps(data, default=_json_default).encode("ascii")
    except InvalidInputError:
        where = find_set(data)
        raise set_for_dict(f"request field {where!r}" if where else "the request") from None


FileValue = str | os.PathLike[str] | bytes | IO[bytes] | tuple[str, Any]
Body = bytes | Callable[[], Any]


def form_fields(data: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    for key, value in (data or {}).items():
        if value is None:
            continue
        if isinstance(value, dict):
            fields.append((key, json.dumps(value, default=_json_default)))
        elif isinstance(value, (list, tuple)):
            fields.extend((key, _form_scalar(v)) for v in value)
        else:
            fields.append((key, _form_scalar(value)))
    return fields


def _form_scalar(value: Any) -> str:
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)  # bools as True/False, as the backend's form parser expects


def check_readable(path: str | os.PathLike[str]) -> Path:
    """The path as a ``Path``, or a clear error (before any request) if it cannot be read."""
    file = Path(path)
    if not file.exists():
        raise InvalidInputError(f"file not found: {file}")
    if not file.is_file():
        raise InvalidInputError(f"not a regular file: {file}")
    if not os.access(file, os.R_OK):
        raise InvalidInputError(f"file is not readable: {file}")
    return file


def check_files(files: Mapping[str, FileValue]) -> None:
    """Raise before any request if a file given as a path is missing or unreadable."""
    for value in files.values():
        if isinstance(value, (str, os.PathLike)):
            check_readable(value)


class OpenFiles:
    """The multipart file parts for one attempt; paths are opened and closed per attempt."""

    def __init__(self, files: Mapping[str, FileValue]) -> None:
        self.files = files
        self.opened: list[IO[bytes]] = []

    def __enter__(self) -> list[tuple[str, tuple[str, Any]]]:
        parts: list[tuple[str, tuple[str, Any]]] = []
        for name, value in self.files.items():
            if isinstance(value, (str, os.PathLike)):
                handle = open(value, "rb")  # closed in __exit__
                self.opened.append(handle)
                parts.append((name, (Path(value).name, handle)))
            elif isinstance(value, bytes):
                parts.append((name, (name, value)))
            elif isinstance(value, tuple):
                parts.append((name, (value[0], value[1])))
            else:
                if value.seekable():
                    value.seek(0)
                filename = Path(str(getattr(value, "name", name))).name
                parts.append((name, (filename, value)))
        return parts

    def __exit__(self, *exc: object) -> None:
        for handle in self.opened:
            handle.close()
        self.opened.clear()
