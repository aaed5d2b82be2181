"""``from synapse.clients.exceptions import ClientError``, as in the older package."""

from synapse.errors import (
    AuthenticationError,
    AuthorizationError,
    ClientConnectionError,
    ClientError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    HTTPError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "ClientConnectionError",
    "ClientError",
    "ClientResponseIncompleteError",
    "ClientTimeoutError",
    "HTTPError",
    "NotFoundError",
    "RateLimitError",
    "ServerError",
    "ValidationError",
]
