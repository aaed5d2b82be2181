"""synapse: a resource-oriented Python SDK for the Synapse data-annotation backend.

The resource classes (``synapse.Task``...) load on first use, with pydantic: ``import
synapse`` and building a client stay light for CLIs and notebooks.
"""

from typing import TYPE_CHECKING, Any

from synapse._version import __version__
from synapse.client import Client
from synapse.config import Timeout
from synapse.enums import AnnotateAction, JobStatus, StorageCategory, StorageProvider, TagAction
from synapse.errors import (
    AuthenticationError,
    AuthorizationError,
    ChecksumMismatchError,
    ClientConnectionError,
    ClientError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    DeferredFieldError,
    GpuUnavailableError,
    HTTPError,
    IncompleteResultError,
    InvalidInputError,
    JobFailed,
    JobTimeoutError,
    MissingFieldError,
    MultipleObjectsReturned,
    NotFoundError,
    RateLimitError,
    ReadOnlyFieldError,
    ServerError,
    StreamError,
    StreamLimitExceededError,
    TooManyRedirectsError,
    TransportError,
    UnknownFieldWarning,
    UnknownFilterError,
    UnknownFilterWarning,
    UnknownValueWarning,
    UnsafePathError,
    ValidationError,
    WebSocketError,
)
from synapse.query import QuerySet

if TYPE_CHECKING:
    from synapse.aio import AsyncClient, AsyncMockTransport
    from synapse.methods import BackendClient
    from synapse.resources import (
        Agent,
        Assignment,
        DataCollection,
        DataFile,
        DataUnit,
        FileSpecification,
        GroundTruth,
        GroundTruthDatasetVersion,
        GroundTruthEvent,
        Job,
        Model,
        Plugin,
        PluginRelease,
        Project,
        Resource,
        Storage,
        Task,
        TaskTag,
    )
from synapse.transport import MockTransport

__all__ = [
    "Agent",
    "AnnotateAction",
    "Assignment",
    "AsyncClient",
    "AsyncMockTransport",
    "AuthenticationError",
    "AuthorizationError",
    "BackendClient",
    "ChecksumMismatchError",
    "Client",
    "ClientConnectionError",
    "ClientError",
    "ClientResponseIncompleteError",
    "ClientTimeoutError",
    "DataCollection",
    "DataFile",
    "DataUnit",
    "DeferredFieldError",
    "FileSpecification",
    "GpuUnavailableError",
    "GroundTruth",
    "GroundTruthDatasetVersion",
    "GroundTruthEvent",
    "HTTPError",
    "IncompleteResultError",
    "InvalidInputError",
    "Job",
    "JobFailed",
    "JobStatus",
    "JobTimeoutError",
    "MissingFieldError",
    "MockTransport",
    "Model",
    "MultipleObjectsReturned",
    "NotFoundError",
    "Plugin",
    "PluginRelease",
    "Project",
    "QuerySet",
    "RateLimitError",
    "ReadOnlyFieldError",
    "Resource",
    "ServerError",
    "Storage",
    "StorageCategory",
    "StorageProvider",
    "StreamError",
    "StreamLimitExceededError",
    "TagAction",
    "Task",
    "TaskTag",
    "Timeout",
    "TooManyRedirectsError",
    "TransportError",
    "UnknownFieldWarning",
    "UnknownFilterError",
    "UnknownFilterWarning",
    "UnknownValueWarning",
    "UnsafePathError",
    "ValidationError",
    "WebSocketError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    """A resource class, imported on first use from where its kind's declaration says
    (``synapse.Task``), the async client (``synapse.AsyncClient``: it loads httpx, the
    ``async`` extra) or the old package's ``BackendClient`` (the method API): a script
    that uses neither does not pay for their import."""
    import importlib

    lazy_modules = {
        "AsyncClient": "synapse.aio",
        "AsyncMockTransport": "synapse.aio",
        "BackendClient": "synapse.methods",
    }
    if name in lazy_modules:
        found = getattr(importlib.import_module(lazy_modules[name]), name)
        globals()[name] = found
        return found

    from synapse.protocol import KINDS

    known = {kind.resource_name for kind in KINDS.values()} | {"Resource", "FileSpecification"}
    if name not in known:  # (checked first: a probe for a missing name loads nothing)
        raise AttributeError(f"module 'synapse' has no attribute {name!r}")
    import synapse.resources

    value = getattr(synapse.resources, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
