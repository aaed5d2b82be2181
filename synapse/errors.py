"""Errors raised by the SDK.

Every error the SDK raises on purpose is a [`ClientError`][synapse.errors.ClientError]:

```text
ClientError
├── ClientConnectionError            the server could not be reached
│   └── ClientResponseIncompleteError  the request was sent, the answer was lost:
│                                      a write may have been applied
├── ClientTimeoutError               connecting or reading took too long (status 408)
├── TooManyRedirectsError            redirects went round in a loop (never retried)
├── HTTPError                        the server answered with a status >= 400
│   ├── AuthenticationError          401
│   ├── AuthorizationError           403
│   ├── NotFoundError                404
│   ├── ValidationError              400, 422 (field_errors holds the per-field messages)
│   ├── RateLimitError               429 (retry_after in seconds, if the server said)
│   ├── ServerError                  5xx
│   └── GpuUnavailableError          503 with error_type: gpu_unavailable
├── StreamError                      a streamed answer (console-log tail) broke
│   ├── StreamLimitExceededError
│   └── WebSocketError
├── InvalidInputError (also ValueError)  bad input found before any request was sent
│   ├── UnknownFilterError           a filter name the backend would silently ignore
│   ├── MissingFieldError (also KeyError)  an item lacks a field it needs
│   └── ReadOnlyFieldError (also AttributeError)  a field the server computes was set
├── ChecksumMismatchError            the server's MD5 of an upload differs from the file's
├── DeferredFieldError (also AttributeError)  a field only() left out was read, or one
│                                    values() asked for that the server did not send
├── IncompleteResultError            a listing or download ended before the size the
│                                    server announced, or the list changed under it
├── JobFailed                        a job ended FAILED or STOPPED (job, logs)
├── JobTimeoutError (also TimeoutError)  job.wait() gave up first
├── UnsafePathError                  server data would make us write outside a destination
└── MultipleObjectsReturned          get(**filters) matched more than one object
```

``str(error)`` is always one readable line and never contains a credential.

Outside the tree, [`TransportError`][synapse.errors.TransportError] is what an HTTP transport
raises when a request
got no answer; the SDK turns it into the matching ``ClientConnectionError`` or
``ClientTimeoutError``. A ``MockTransport`` handler raises it to play a network failure.

Warnings (not errors): [`UnknownFilterWarning`][synapse.errors.UnknownFilterWarning] when a filter
the SDK does not know
is sent anyway, [`UnknownValueWarning`][synapse.errors.UnknownValueWarning] when a value outside a
known enum is sent
anyway (a storage provider the SDK does not list),
[`UnknownFieldWarning`][synapse.errors.UnknownFieldWarning] when a
request field the SDK does not know is sent as given.
"""

from __future__ import annotations

import html
import re
from typing import Any, Literal

__all__ = [
    "AuthenticationError",
    "AuthorizationError",
    "ChecksumMismatchError",
    "ClientConnectionError",
    "ClientError",
    "ClientResponseIncompleteError",
    "ClientTimeoutError",
    "DeferredFieldError",
    "GpuUnavailableError",
    "HTTPError",
    "IncompleteResultError",
    "InvalidInputError",
    "JobFailed",
    "JobTimeoutError",
    "MissingFieldError",
    "MultipleObjectsReturned",
    "NotFoundError",
    "RateLimitError",
    "ReadOnlyFieldError",
    "ServerError",
    "StreamError",
    "StreamLimitExceededError",
    "TooManyRedirectsError",
    "TransportError",
    "UnknownFieldWarning",
    "UnknownFilterError",
    "UnknownFilterWarning",
    "UnknownValueWarning",
    "UnsafePathError",
    "ValidationError",
    "WebSocketError",
    "error_for_status",
    "raise_for_status",
    "summarize_detail",
]

_MAX_MESSAGE = 300


_UNSET: Any = object()


class ClientError(Exception):
    """Root of every error the SDK raises on purpose.

    Built as the SDK builds it, ``ClientError("message", status_code=..., url=...)``, or
    as code written for the older package does: ``ClientError(500, "Server error")``,
    ``ClientError(status_code=500, detail=...)``, ``NotFoundError("gone")`` (each class
    carries its own status, ``default_status``).

    Attributes:
        status_code: the HTTP status, or ``None`` when no answer was received.
        response: the parsed error body as the server sent it (dict, list or text).
        detail: the most specific message found in the body.
        method: the HTTP method of the failed request.
        url: the URL of the failed request, with credentials masked.
        request_id: the server's request id, when it sent one.
    """

    #: The status an error of this class has when none is given.
    default_status: int | None = None
    #: Whether a first positional int is a status code (the older package's order for
    #: the classes whose status varies).
    _status_first = True

    def __init__(
        self,
        *args: Any,
        status_code: Any = _UNSET,
        detail: Any = _UNSET,
        message: str | None = None,
        response: Any = None,
        method: str | None = None,
        url: str | None = None,
        request_id: str | None = None,
    ) -> None:
        if len(args) > 2:
            raise TypeError(f"{type(self).__name__} takes at most 2 positional arguments")
        first = args[0] if args else _UNSET
        if self._status_first and (first is None or _is_status(first)):
            if status_code is not _UNSET:
                raise TypeError("status_code given twice")
            status_code, args = first, args[1:]
            if args and detail is _UNSET:
                detail, args = args[0], ()
        if args:
            if len(args) > 1 or message is not None:
                raise TypeError(f"unexpected arguments for {type(self).__name__}: {args!r}")
            message = args[0] if isinstance(args[0], str) else None
            if detail is _UNSET:
                detail = args[0]
        if detail is _UNSET:
            detail = message
        if message is None:
            message = "" if detail is None else str(detail)
        self.message = message
        self.status_code = self.default_status if status_code is _UNSET else status_code
        self.response = response
        self.detail = detail
        self.method = method
        self.url = url
        self.request_id = request_id
        super().__init__(message)

    def __str__(self) -> str:
        parts = []
        if self.status_code is not None:
            parts.append(str(self.status_code))
        if self.method and self.url:
            parts.append(f"{self.method} {self.url}")
        head = " ".join(parts)
        text = f"{head}: {self.message}" if head and self.message else head or self.message
        if self.request_id:
            text += f" (request id {self.request_id})"
        return text

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status_code={self.status_code!r}, detail={self.detail!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not pickle by default; errors cross process pools.
        return (_rebuild_error, (type(self), self.message, self.__dict__))


def _is_status(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _rebuild_error(cls: type[ClientError], message: str, state: dict[str, Any]) -> ClientError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class ClientConnectionError(ClientError):
    """The server could not be reached, or the connection broke."""

    _status_first = False


class ClientResponseIncompleteError(ClientConnectionError):
    """The request was sent but no complete answer came back: it may have been applied."""


class ClientTimeoutError(ClientError):
    """Connecting or reading took longer than the configured timeout."""

    default_status = 408
    _status_first = False


class TooManyRedirectsError(ClientError):
    """The server sent more redirects than the client follows: a loop, not a failure that
    a retry would mend."""


class TransportError(Exception):
    """A request got no answer. ``kind`` says how far it got: ``connect`` and
    ``connect_timeout`` never reached the server; ``read_timeout`` and ``broken`` may
    have (``sent``); ``redirects`` went round in a loop."""

    def __init__(
        self,
        kind: Literal["connect", "connect_timeout", "read_timeout", "broken", "redirects"],
        detail: str = "",
    ) -> None:
        super().__init__(detail or kind)
        self.kind = kind
        self.detail = detail

    @property
    def sent(self) -> bool:
        return self.kind not in ("connect", "connect_timeout")


class HTTPError(ClientError):
    """The server answered with an error status.

    ``body_truncated`` is True when the error body was longer than the SDK reads
    (`MAX_ERROR_BODY`): ``response`` then holds its beginning.
    """

    _body_truncated: bool = False
    #: The server's ``Retry-After``, in seconds, on any status (a 503 in maintenance
    #: says it too); None when it did not say.
    retry_after: float | None = None

    @property
    def body_truncated(self) -> bool:
        return self._body_truncated


class AuthenticationError(HTTPError):
    """401: the credentials are missing or wrong."""

    default_status = 401
    _status_first = False


class AuthorizationError(HTTPError):
    """403: the credentials are valid but not allowed to do this."""

    default_status = 403
    _status_first = False


class NotFoundError(HTTPError):
    """404: the object or path does not exist."""

    default_status = 404
    _status_first = False


class ValidationError(HTTPError):
    """400 or 422: the server rejected the request's content.

    ``field_errors`` maps each field the server named to its messages.
    """

    default_status = 400

    @property
    def field_errors(self) -> dict[str, list[str]]:
        body = self.response
        if not isinstance(body, dict):
            return {}
        return {
            str(key): [str(v) for v in value] if isinstance(value, list) else [str(value)]
            for key, value in body.items()
            if key not in ("detail", "non_field_errors")
        }


class RateLimitError(HTTPError):
    """429: too many requests. ``retry_after`` is the server's wait in seconds, if given."""

    default_status = 429
    _status_first = False

    def __init__(self, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        self.retry_after = retry_after
        super().__init__(*args, **kwargs)


class ServerError(HTTPError):
    """5xx: the server failed to handle the request."""

    default_status = 500


class GpuUnavailableError(HTTPError):
    """503 whose detail says ``error_type: gpu_unavailable``: no GPU was free for the
    request. A sibling of `ServerError`, as in the older package."""

    default_status = 503
    _status_first = False

    @property
    def error_details(self) -> dict[str, Any]:
        """The detail without its ``message`` and ``error_type``."""
        if not isinstance(self.detail, dict):
            return {}
        return {k: v for k, v in self.detail.items() if k not in ("message", "error_type")}


class StreamError(ClientError):
    """A streamed answer (a console-log tail) broke or could not be read."""


class StreamLimitExceededError(StreamError):
    """A stream grew past the limit the client reads."""


class WebSocketError(StreamError):
    """A WebSocket stream failed."""


class InvalidInputError(ClientError, ValueError):
    """Bad input found before any request was sent (bad id, URL, filter, file...)."""


class MissingFieldError(InvalidInputError, KeyError):
    """An item lacks a field it needs (``task_id`` of a batch item); also a ``KeyError``,
    as the older package raised."""


class DeferredFieldError(ClientError, AttributeError):
    """A field that ``only()`` left out was read: it was not fetched, so its value is not
    known (rather than None). Name it in ``only()``, or ``refresh()`` the object. Also
    raised by ``values()`` for a field the server's rows do not have."""


class ReadOnlyFieldError(InvalidInputError, AttributeError):
    """A field the server computes (``id``, timestamps...) was assigned."""


class ChecksumMismatchError(ClientError):
    """The server's MD5 of the uploaded bytes differs from the file's."""


class IncompleteResultError(ClientError):
    """A listing or a download ended before the size the server announced (a page vanished,
    a body was cut short), or the list changed while it was read. Never a shorter result:
    list with ``iterator(stable=True)`` where rows change meanwhile."""


class JobFailed(ClientError):
    """A job ended FAILED or STOPPED. ``job`` is its last state, ``logs`` its console."""

    def __init__(self, job: Any, logs: list[str]) -> None:
        tail = f"; last log line: {logs[-1]}" if logs else ""
        super().__init__(f"job {job.id} ended {job.status}{tail}")
        self.job = job
        self.logs = logs


class JobTimeoutError(ClientError, TimeoutError):
    """``job.wait()`` gave up before the job finished."""


class UnknownFilterError(InvalidInputError):
    """A filter name the backend does not know: it would ignore it and return everything."""


class UnsafePathError(ClientError):
    """A path built from server data (a name, a URL) would land outside its destination."""


class UnknownFilterWarning(UserWarning):
    """A filter name the SDK does not know was sent as asked; the backend may ignore it."""


class UnknownValueWarning(UserWarning):
    """A value outside an enum the SDK knows was sent as asked; the backend may know it."""


class UnknownFieldWarning(UserWarning):
    """A request field the SDK does not know was sent as given."""


class MultipleObjectsReturned(ClientError):
    """``get(**filters)`` matched more than one object."""


_STATUS_CLASSES: dict[int, type[HTTPError]] = {
    400: ValidationError,
    401: AuthenticationError,
    403: AuthorizationError,
    404: NotFoundError,
    422: ValidationError,
    429: RateLimitError,
}


def error_for_status(
    status_code: int,
    body: Any,
    *,
    reason: str = "",
    method: str | None = None,
    url: str | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
    truncated_at: int | None = None,
) -> HTTPError:
    """Build the typed error for an error answer of the server. ``truncated_at`` says
    the body was cut after that many bytes (``body`` is its beginning)."""
    detail = _detail_of(body)
    message = summarize_detail(detail) or reason or "error"
    if status_code == 404 and not isinstance(body, (dict, list)):
        # The API answers a missing object with JSON; a page means no such path at all.
        message = "no such API path (the server answered a page, not JSON): check base_url"
    if truncated_at is not None:
        message += f" [error body cut at {truncated_at // 1024} KiB]"
    kwargs: dict[str, Any] = {
        "status_code": status_code,
        "response": body,
        "detail": detail,
        "method": method,
        "url": url,
        "request_id": request_id,
    }
    if status_code == 429:
        limited = RateLimitError(message, retry_after=retry_after, **kwargs)
        limited._body_truncated = truncated_at is not None
        return limited
    cls = _STATUS_CLASSES.get(status_code)
    if (
        status_code == 503
        and isinstance(detail, dict)
        and detail.get("error_type") == ("gpu_unavailable")
    ):
        cls = GpuUnavailableError
    if cls is None:
        cls = ServerError if status_code >= 500 else HTTPError
    error = cls(message, **kwargs)
    error._body_truncated = truncated_at is not None
    error.retry_after = retry_after
    return error


def raise_for_status(status_code: int, detail: Any = None) -> None:
    """Raise the error class of an error status (``>= 400``) with this detail; do
    nothing for other statuses. The older package's helper, on this package's classes."""
    if status_code < 400:
        return
    cls = _STATUS_CLASSES.get(status_code)
    if (
        status_code == 503
        and isinstance(detail, dict)
        and detail.get("error_type") == ("gpu_unavailable")
    ):
        cls = GpuUnavailableError
    if cls is None:
        cls = ServerError if status_code >= 500 else HTTPError
    raise cls(status_code=status_code, detail=detail)


def _detail_of(body: Any) -> Any:
    if isinstance(body, dict) and "detail" in body and len(body) == 1:
        return body["detail"]
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return body["error"].get("message", body["error"])
    return body


_TAG = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.DOTALL | re.IGNORECASE)


def summarize_detail(detail: Any) -> str:
    """One readable line for any error body: text, HTML, field errors, lists, nested dicts."""
    try:
        text = _summarize(detail)
    except Exception:  # a message must never crash; fall back to the plain repr
        text = repr(detail)
    text = " ".join(text.split())
    if len(text) > _MAX_MESSAGE:
        text = text[: _MAX_MESSAGE - 1] + "…"
    return text


def _summarize(detail: Any) -> str:
    if detail is None:
        return ""
    if isinstance(detail, bytes):
        detail = detail.decode("utf-8", "replace")
    if isinstance(detail, str):
        if "<" in detail and ">" in detail:
            return html.unescape(_TAG.sub(" ", detail))
        return detail
    if isinstance(detail, dict):
        if "msg" in detail:  # FastAPI-style record {loc, msg, type}
            loc = ".".join(str(p) for p in detail.get("loc", []) if p != "body")
            return f"{loc}: {detail['msg']}" if loc else str(detail["msg"])
        pieces = []
        for key, value in detail.items():
            inner = _summarize(value)
            pieces.append(inner if key in ("detail", "non_field_errors") else f"{key}: {inner}")
        return "; ".join(p for p in pieces if p)
    if isinstance(detail, (list, tuple)):
        return "; ".join(s for s in (_summarize(item) for item in detail) if s)
    return str(detail)
