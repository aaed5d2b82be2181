"""URLs of the API: path parameters that cannot leave their resource, joining paths to
the base URL, origins (who gets credentials), and query encoding."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlsplit

from synapse.errors import InvalidInputError

__all__ = [
    "Params",
    "PathParam",
    "build_path",
    "encode_params",
    "join_url",
    "origin",
    "path_param",
]

PathParam = int | str | uuid.UUID


def path_param(value: PathParam) -> str:
    """One URL path segment from an id: an int, a UUID, or a safe string, percent-encoded.

    Strings may not be empty, contain ``/``, ``\\``, ``..``, whitespace or control
    characters, so that no id can point a request outside its resource.
    """
    if isinstance(value, bool):
        raise InvalidInputError(f"an id must be an int or a string, got the bool {value!r}")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str):
        raise InvalidInputError(f"an id must be an int or a string, got {type(value).__name__}")
    if (
        not value
        or value == "."
        or ".." in value
        or "/" in value
        or "\\" in value
        or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in value)
    ):
        # A long value may be a token (agents/<token>/connect/): described, not shown.
        shown = repr(value) if len(value) <= 24 else f"of {len(value)} characters"
        raise InvalidInputError(f"invalid id {shown}: not usable as a URL path segment")
    return quote(value, safe="@")


def build_path(template: str, *params: PathParam) -> str:
    """Fill each ``{}`` of a trusted path template with a validated path parameter."""
    if template.count("{}") != len(params):
        raise TypeError(f"path template {template!r} takes {template.count('{}')} parameters")
    return template.format(*(path_param(p) for p in params))


def join_url(base_url: str, path: str) -> str:
    """An absolute http(s) URL is used as is; anything else hangs off the base URL."""
    if path.startswith(("http://", "https://")):
        return path
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


def origin(url: str) -> tuple[str, str, int | None]:
    """``(scheme, host, port)`` with the default port filled in."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port or {"http": 80, "https": 443}.get(scheme)


def without_query(url: str) -> str:
    """A URL for a message: without its query and fragment (a storage URL's signature)."""
    return urlsplit(url)._replace(query="", fragment="").geturl()


def _wire_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


Params = Mapping[str, Any] | Sequence[tuple[str, Any]]


def encode_params(params: Params | None) -> list[tuple[str, str]]:
    """Query pairs: lists become repeated keys, ``None`` is dropped, bools are true/false."""
    pairs: list[tuple[str, str]] = []
    items = params.items() if isinstance(params, Mapping) else (params or [])
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, (list, tuple, set, frozenset)):
            pairs.extend((key, _wire_value(v)) for v in value if v is not None)
        else:
            pairs.append((key, _wire_value(value)))
    return pairs
