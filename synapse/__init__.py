"""synapse: a resource-oriented Python SDK for the Synapse data-annotation backend."""

from synapse._version import __version__
from synapse.client import Client
from synapse.config import Timeout
from synapse.enums import AnnotateAction, JobStatus, StorageCategory, StorageProvider, TagAction
from synapse.errors import (
    AuthenticationError,
    AuthorizationError,
    ClientConnectionError,
    ClientError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    HTTPError,
    InvalidInputError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)

__all__ = [
    "AnnotateAction",
    "AuthenticationError",
    "AuthorizationError",
    "Client",
    "ClientConnectionError",
    "ClientError",
    "ClientResponseIncompleteError",
    "ClientTimeoutError",
    "HTTPError",
    "InvalidInputError",
    "JobStatus",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "StorageCategory",
    "StorageProvider",
    "TagAction",
    "Timeout",
    "ValidationError",
    "__version__",
]
