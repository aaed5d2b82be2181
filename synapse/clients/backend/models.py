"""The older package's enums and pydantic models, where it kept them
(``synapse.clients.backend.models``).

Response models ignore keys they do not declare; request models refuse them, so a
misspelt field is caught before anything is sent. Every model also reads like the dict
it was parsed from (``storage["name"]``), so code that indexed the answers keeps working.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from synapse.enums import JobStatus, StorageCategory, StorageProvider

__all__ = [
    "Agent",
    "ChunkedUploadFinalizeResponse",
    "ChunkedUploadResponse",
    "CreateLogsRequest",
    "DataFileResponse",
    "DataUnitCreateRequest",
    "JobStatus",
    "ModelCreateRequest",
    "PluginReleaseCreateRequest",
    "PluginRunRequest",
    "ServeApplicationCreateRequest",
    "SetTagsRequest",
    "Storage",
    "StorageCategory",
    "StorageProvider",
    "TaskCreateRequest",
    "UpdateJobRequest",
]


class ResponseModel(BaseModel):
    """A server answer: undeclared keys are dropped; ``model["field"]`` reads a field."""

    model_config = ConfigDict(extra="ignore")

    def __getitem__(self, name: str) -> Any:
        if name not in type(self).model_fields:
            raise KeyError(name)
        return getattr(self, name)

    def get(self, name: str, default: Any = None) -> Any:
        """A field's value, or ``default`` when the model has no such field."""
        return getattr(self, name) if name in type(self).model_fields else default


class RequestModel(BaseModel):
    """A request body: a key the backend does not take is refused before sending."""

    model_config = ConfigDict(extra="forbid")


class Storage(ResponseModel):
    """``get_storage``'s answer. ``provider`` stays an open string: the backend may
    know providers this package does not list."""

    id: int
    name: str
    category: StorageCategory
    provider: str
    # May hold storage credentials: kept out of repr and str.
    configuration: dict[str, Any] = Field(default_factory=dict, repr=False)
    is_default: bool = False


_AGENT_TOKEN = re.compile(r"agents/([0-9a-f]{40})/node_install_script")


class Agent(ResponseModel):
    """An item of ``list_agents``; a missing ``token`` is read from the install script."""

    id: int
    name: str
    url: str | None = None
    status: str | None = None
    # Credentials: kept out of repr and str.
    token: str | None = Field(default=None, repr=False)
    node_install_script: str | None = Field(default=None, repr=False)

    @model_validator(mode="after")
    def _token_from_script(self) -> Agent:
        if not self.token and self.node_install_script:
            found = _AGENT_TOKEN.search(self.node_install_script)
            if found:
                self.token = found.group(1)
        return self

    @property
    def is_connected(self) -> bool:
        return (self.status or "").lower() == "connected"


class UpdateJobRequest(RequestModel):
    status: JobStatus | None = None
    progress_record: dict[str, Any] | None = None
    metrics_record: dict[str, Any] | None = None
    console_logs: dict[str, Any] | list[dict[str, Any]] | None = None
    result: dict[str, Any] | list[Any] | None = None
    meta: dict[str, Any] | None = None


class ChunkedUploadResponse(ResponseModel):
    id: str | int
    url: str
    offset: int
    filename: str | None = None


class ChunkedUploadFinalizeResponse(ResponseModel):
    id: str | int
    file: str | None = None
    checksum: str | None = None
    size: int | None = None
    completed_at: str | None = None
    status: int | None = None


class DataFileResponse(ResponseModel):
    id: int
    file: str | None = None
    checksum: str
    size: int | None = None
    created_at: str | None = None
    updated_at: str | None = None


class CreateLogsRequest(RequestModel):
    message: str
    level: str = "info"
    context: dict[str, Any] | None = None
    file: str | None = None


class PluginRunRequest(RequestModel):
    agent: int | None = None
    action: str | None = None
    params: dict[str, Any] | None = None
    storage_id: int | None = None
    job_id: int | None = None
    debug: bool | None = None
    version: str | None = None
    language: str = "ko"


class PluginReleaseCreateRequest(RequestModel):
    plugin: str
    version: str
    config: dict[str, Any] | None = None
    requirements: list[str] | None = None
    debug: bool = False


class ModelCreateRequest(RequestModel):
    name: str
    plugin: str | None = None
    version: str | None = None
    checkpoint: int | None = None
    chunked_upload: int | str | None = None
    configuration: dict[str, Any] | None = None
    description: str | None = None


class ServeApplicationCreateRequest(RequestModel):
    job: int | str
    status: str | None = None
    data: dict[str, Any] | None = None


class TaskCreateRequest(RequestModel):
    project: int
    data: list[dict[str, Any]]


class SetTagsRequest(RequestModel):
    ids: list[int]
    tags: list[int]
    action: str = "add"


class DataUnitCreateRequest(RequestModel):
    data_collection: int
    files: dict[str, dict[str, Any]]
    meta: dict[str, Any] | None = None
    groups: list[str] | None = None
