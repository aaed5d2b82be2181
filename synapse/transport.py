"""HTTP for the whole SDK, in two layers.

:class:`Transport` is the one path every request of the SDK takes: it builds the URL
(:mod:`synapse.urls`), adds the Synapse headers (for the configured origin only),
encodes the body (:mod:`synapse.encoding`), applies the one retry policy
(:mod:`synapse.retry`) and maps failures to the errors of :mod:`synapse.errors`. Its
answers are the SDK's own :class:`Response`.

Below it, an :class:`HTTPTransport` sends one :class:`Request` and returns one
:class:`Response`, nothing more. :class:`RequestsTransport`, the default, is the only
code of the SDK that touches ``requests``; :class:`MockTransport` answers from a function,
for tests (``Client(..., transport=MockTransport(handler))``, as httpx offers).

Thread safety: a transport may be shared by threads that send requests at the same time
(the session's connection pool is thread safe). A pickled transport leaves its session
behind and opens a new one on first use.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import requests.adapters
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from synapse._version import __version__
from synapse.config import Config, Timeout, mask_url_credentials
from synapse.encoding import Body, FileValue, OpenFiles, check_files, encode_json, form_fields
from synapse.errors import (
    ClientConnectionError,
    ClientError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    HTTPError,
    InvalidInputError,
    TooManyRedirectsError,
    TransportError,
    error_for_status,
)
from synapse.retry import IDEMPOTENT_METHODS, RetryPolicy, parse_retry_after
from synapse.urls import Params, encode_params, join_url, origin

__all__ = [
    "CREDENTIAL_HEADERS",
    "MAX_ERROR_BODY",
    "HTTPTransport",
    "MockTransport",
    "Request",
    "RequestsTransport",
    "Response",
    "Transport",
]

logger = logging.getLogger("synapse")


class _MaskUrlCredentials(logging.Filter):
    """urllib3 logs each request's path at DEBUG; the protocol puts agent tokens in paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                mask_url_credentials(a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = mask_url_credentials(record.msg)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_MaskUrlCredentials())

USER_AGENT = f"synapse-orm/{__version__} python/{platform.python_version()}"
CREDENTIAL_HEADERS = ("Synapse-Access-Token", "Authorization", "Synapse-Tenant", "SYNAPSE-Agent")
#: How much of an error body is read (the rest is never downloaded): enough for any
#: real error message, bounded against a server that answers 100 MB of text.
MAX_ERROR_BODY = 64 * 1024
MAX_REDIRECTS = 10
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


# --------------------------------------------------------------------------- the SDK's types


@dataclass
class Request:
    """One request as an :class:`HTTPTransport` sends it.

    ``content`` is the body (JSON bytes, raw bytes, an iterable of bytes or a file);
    ``form`` and ``files`` make a multipart body instead (paths are opened by the
    transport, per attempt).
    """

    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content: Any = None
    form: list[tuple[str, str]] | None = None
    files: Mapping[str, FileValue] | None = None
    timeout: Timeout = field(default_factory=Timeout)
    stream: bool = False

    def json(self) -> Any:
        """The JSON body, decoded (for handlers of a :class:`MockTransport`)."""
        if not isinstance(self.content, bytes):
            raise ValueError("this request has no JSON body")
        return json.loads(self.content)


class Headers(dict[str, str]):
    """Response headers, looked up without regard to case."""

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        super().__init__({k.lower(): v for k, v in (items or {}).items()})

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)

    def __getitem__(self, key: str) -> str:
        return super().__getitem__(key.lower())

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and super().__contains__(key.lower())


class Response:
    """An answer: status, headers, URL, and a body read whole (:attr:`content`) or
    streamed (:meth:`iter_bytes`). A streamed body that breaks raises
    :class:`TransportError`."""

    def __init__(
        self,
        status_code: int,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        json: Any = None,
        url: str = "",
        reason: str = "",
        stream: Callable[[int], Iterator[bytes]] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = Headers(headers)
        if json is not None and content is None:
            content = _json_bytes(json)
            self.headers.setdefault("content-type", "application/json")
        self._content = content if content is not None or stream else b""
        self._stream = stream
        self._on_close = on_close
        self.url = url
        self.reason = reason

    @property
    def content(self) -> bytes:
        """The whole body (read now if it was streamed)."""
        if self._content is None:
            self._content = b"".join(self.iter_bytes(1 << 16))
        return self._content

    def iter_bytes(self, chunk_size: int) -> Iterator[bytes]:
        """The body in pieces of about ``chunk_size`` bytes; the response closes after."""
        try:
            if self._content is not None:
                for start in range(0, len(self._content), chunk_size):
                    yield self._content[start : start + chunk_size]
            elif self._stream is not None:
                yield from self._stream(chunk_size)
        finally:
            self.close()

    def read_bounded(self, limit: int) -> tuple[bytes, bool]:
        """At most ``limit`` bytes of the body, and whether there was more. The rest is
        never downloaded: the response is closed instead of drained."""
        if self._content is not None:
            return self._content[:limit], len(self._content) > limit
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in self.iter_bytes(16 * 1024):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    break
        except TransportError:
            pass  # a broken error body still makes an error, from what did arrive
        finally:
            self.close()
        return b"".join(chunks)[:limit], size > limit

    def close(self) -> None:
        """Release the connection (unread bytes are not downloaded)."""
        if self._on_close is not None:
            self._on_close()
            self._on_close = None

    def __repr__(self) -> str:
        return f"<Response {self.status_code}>"


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


class HTTPTransport(Protocol):
    """Sends one request and returns its answer: no retries, no error mapping."""

    def handle(self, request: Request) -> Response: ...

    def close(self) -> None: ...


# --------------------------------------------------------------------------- requests


class _Session(requests.Session):
    """A session that drops every credential header on a redirect to another origin."""

    def __init__(self, own: tuple[str, str, int | None] | None) -> None:
        super().__init__()
        self.synapse_origin = own

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        if origin(prepared_request.url or "") != self.synapse_origin:
            for name in CREDENTIAL_HEADERS:
                prepared_request.headers.pop(name, None)


class _Adapter(requests.adapters.HTTPAdapter):
    """Sends streamed bodies in 1 MiB writes (urllib3's default is 16 KiB)."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", 1 << 20)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


class RequestsTransport:
    """The default :class:`HTTPTransport`: one pooled ``requests.Session``.

    ``origin`` is where credentials may go: a redirect elsewhere loses them.
    """

    def __init__(self, own_origin: tuple[str, str, int | None] | None = None) -> None:
        self.origin = own_origin
        self._session: _Session | None = None
        self._proxies: dict[tuple[str, str, int | None], dict[str, str]] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> requests.Session:
        """The pooled session, created on first use."""
        if self._session is None:
            with self._lock:
                if self._session is None:
                    session = _Session(self.origin)
                    adapter = _Adapter(pool_connections=4, pool_maxsize=32, max_retries=0)
                    session.mount("http://", adapter)
                    session.mount("https://", adapter)
                    session.max_redirects = MAX_REDIRECTS
                    # The environment is read once, here, not on every request as
                    # requests does by default (that costs more than a small page).
                    session.trust_env = False
                    session.verify = (
                        os.environ.get("REQUESTS_CA_BUNDLE")
                        or os.environ.get("CURL_CA_BUNDLE")
                        or True
                    )
                    self._session = session
        return self._session

    def _proxies_for(self, url: str) -> dict[str, str]:
        """The environment's proxies for this URL's origin (``*_PROXY``, ``NO_PROXY``)."""
        key = origin(url)
        proxies = self._proxies.get(key)
        if proxies is None:
            proxies = self._proxies[key] = requests.utils.get_environ_proxies(url)
        return proxies

    def handle(self, request: Request) -> Response:
        kwargs: dict[str, Any] = {
            "params": request.params,
            "headers": request.headers,
            "timeout": request.timeout.as_tuple(),
            "stream": True,
            "proxies": self._proxies_for(request.url),
        }
        try:
            if request.files:
                with OpenFiles(request.files) as parts:
                    kwargs["data"] = request.form or []
                    kwargs["files"] = parts
                    answer = self.session.request(request.method, request.url, **kwargs)
            else:
                kwargs["data"] = request.content
                answer = self.session.request(request.method, request.url, **kwargs)
        except requests.exceptions.RequestException as exc:
            raise _transport_error(exc) from exc

        def stream(chunk_size: int) -> Iterator[bytes]:
            try:
                yield from answer.iter_content(chunk_size)
            except requests.exceptions.RequestException as exc:
                raise _transport_error(exc) from exc

        return Response(
            answer.status_code,
            headers=answer.headers,
            url=answer.url or request.url,
            reason=answer.reason or "",
            stream=stream,
            on_close=answer.close,
        )

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                self._session.close()
                self._session = None

    def __getstate__(self) -> dict[str, Any]:
        return {"origin": self.origin}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["origin"])  # type: ignore[misc]


def _transport_error(exc: requests.exceptions.RequestException) -> TransportError:
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return TransportError("redirects", str(exc))
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransportError("connect_timeout", str(exc))
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return TransportError("read_timeout", str(exc))
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            refused = "refused" in str(reason).lower()
            return TransportError("connect", "connection refused" if refused else "unreachable")
    return TransportError("broken", str(exc))


# --------------------------------------------------------------------------- mock


Handler = Callable[[Request], Response]


class MockTransport:
    """An :class:`HTTPTransport` that answers every request with ``handler(request)``.

    For tests of code that uses the SDK, without a server::

        def handler(request: Request) -> Response:
            if request.url.endswith("/projects/1/"):
                return Response(200, json={"id": 1, "title": "t"})
            return Response(404, json={"detail": "Not found."})

        client = Client("https://api.example.com", "token", transport=MockTransport(handler))

    The handler may raise :class:`TransportError` to play a network failure. Every
    request is kept in :attr:`requests`.
    """

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[Request] = []
        self._lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        content = request.content
        if content is not None and not isinstance(content, bytes):  # a file or chunks
            request.content = content.read() if hasattr(content, "read") else b"".join(content)
        with self._lock:
            self.requests.append(request)
        response = self.handler(request)
        if not response.url:
            response.url = request.url
        return response

    def close(self) -> None:
        pass


# --------------------------------------------------------------------------- the one path


class _Failure(Exception):
    """Internal: a failure with what the retry loop needs to know."""

    def __init__(self, error: ClientError, *, sent: bool, retryable: bool = True) -> None:
        super().__init__(str(error))
        self.error = error
        self.sent = sent
        self.retryable = retryable


class Transport:
    """Sends requests to one backend with its credentials, retries and error mapping."""

    def __init__(
        self,
        config: Config,
        *,
        policy: RetryPolicy | None = None,
        http: HTTPTransport | None = None,
    ) -> None:
        self.config = config
        self.policy = policy or RetryPolicy(max_retries=config.max_retries)
        self.origin = origin(config.base_url)
        self.http: HTTPTransport = http or RequestsTransport(self.origin)

    # -- life cycle

    @property
    def session(self) -> requests.Session:
        """The pooled ``requests.Session`` of the default transport."""
        if not isinstance(self.http, RequestsTransport):
            raise AttributeError(f"{type(self.http).__name__} has no requests session")
        return self.http.session

    def close(self) -> None:
        """Close pooled connections; the next request opens new ones."""
        self.http.close()

    def __repr__(self) -> str:
        return f"<Transport {self.config.base_url}>"

    # -- building requests

    def url(self, path: str) -> str:
        """The absolute URL of an API path (or the URL itself when already absolute)."""
        return join_url(self.config.base_url, path)

    def is_own_origin(self, url: str) -> bool:
        """Whether ``url`` is on the configured scheme, host and port."""
        return origin(url) == self.origin

    def on_own_origin(self, url: str) -> str:
        """A URL the backend returned, moved onto the configured origin if it names the
        configured host (a backend behind a TLS proxy may answer ``http://`` links);
        URLs on other hosts are left alone, and get no credentials."""
        parts = urlsplit(url)
        if (parts.hostname or "").lower() != self.origin[1] or self.is_own_origin(url):
            return url
        base = urlsplit(self.config.base_url)
        return parts._replace(scheme=base.scheme, netloc=base.netloc).geturl()

    def auth_headers(self) -> dict[str, str]:
        """The Synapse headers of protocol 1.2, for requests to the configured origin."""
        cfg = self.config
        headers: dict[str, str] = {}
        if cfg.access_token:
            headers["Synapse-Access-Token"] = f"Token {cfg.access_token.reveal()}"
        if cfg.authorization_token:
            headers["Authorization"] = f"Token {cfg.authorization_token.reveal()}"
        if cfg.tenant:
            headers["Synapse-Tenant"] = f"Token {cfg.tenant}"
        if cfg.agent_token:
            headers["SYNAPSE-Agent"] = f"Token {cfg.agent_token.reveal()}"
        return headers

    # -- sending

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Any = None,
        files: Mapping[str, FileValue] | None = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        max_retries: int | None = None,
    ) -> Any:
        """Send a request and decode the answer: ``None`` for 204, JSON, or text."""
        response = self.send(
            method,
            path,
            params=params,
            data=data,
            files=files,
            body=body,
            headers=headers,
            timeout=timeout,
            max_retries=max_retries,
        )
        return _decode(response.content, response.status_code)

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        data: Any = None,
        files: Mapping[str, FileValue] | None = None,
        body: Body | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: Any = None,
        max_retries: int | None = None,
        stream: bool = False,
        ok_statuses: Iterable[int] = (),
    ) -> Response:
        """Send with retries and return the successful response (streamed if asked).

        ``body`` sends raw bytes, or what a factory makes (called anew per attempt: an
        iterable of bytes, or a file-like object with ``__len__``), in place of
        ``data``/``files``. Statuses in ``ok_statuses`` are returned, not raised.
        """
        method = method.upper()
        url = self.url(path)
        if not url.startswith(("http://", "https://")):
            raise InvalidInputError(f"not an http(s) URL: {url!r}")
        if files:
            check_files(files)
        request_headers: dict[str, str] = {"User-Agent": USER_AGENT}
        if self.is_own_origin(url):
            request_headers.update(self.auth_headers())
        if method in BODY_METHODS and not files and body is None:
            request_headers["Content-Type"] = "application/json"
        request_headers.update(headers or {})
        timeouts = Timeout.coerce(timeout if timeout is not None else self.config.timeout)
        retries = self.policy.max_retries if max_retries is None else max_retries
        accepted = frozenset(ok_statuses)

        def build() -> Request:
            request = Request(
                method, url, encode_params(params), dict(request_headers),
                timeout=timeouts, stream=stream,
            )  # fmt: skip
            if body is not None:
                request.content = body if isinstance(body, bytes) else body()
            elif files:
                request.form, request.files = form_fields(data), files
            elif method in BODY_METHODS and data is not None:
                request.content = encode_json(data)
            return request

        attempt = 0
        while True:
            try:
                response = self._attempt(build(), accepted)
            except _Failure as failure:
                retryable = failure.retryable and (not failure.sent or method in IDEMPOTENT_METHODS)
                if not retryable or attempt >= retries:
                    raise failure.error from failure.__cause__
                self._wait(method, url, attempt, retries, failure.error.message, None)
                attempt += 1
                continue
            status = response.status_code
            if status < 400 or status in accepted:
                return response
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if attempt < retries and self.policy.retries_status(method, status):
                response.close()
                self._wait(method, url, attempt, retries, f"status {status}", retry_after)
                attempt += 1
                continue
            raise self._http_error(method, url, response, retry_after)

    def _attempt(self, request: Request, accepted: frozenset[int]) -> Response:
        """One request. The body is streamed, so that an error body is never read whole;
        a success body is read here (unless the caller streams it), inside the error
        mapping, since a connection can break in the middle of it."""
        try:
            response = self.http.handle(request)
            if not request.stream and (
                response.status_code < 400 or response.status_code in accepted
            ):
                response.content  # noqa: B018 - read the whole success body now
            return response
        except TransportError as exc:
            raise self._failure(request, exc) from exc

    def _failure(self, request: Request, exc: TransportError) -> _Failure:
        method, timeout = request.method, request.timeout
        where: dict[str, Any] = {"method": method, "url": self.config.redact(request.url)}
        if exc.kind == "redirects":
            loop = TooManyRedirectsError(f"more than {MAX_REDIRECTS} redirects", **where)
            return _Failure(loop, sent=True, retryable=False)
        if exc.kind == "connect_timeout":
            error: ClientError = ClientTimeoutError(
                f"connection timeout (>{timeout.connect}s)", **where
            )
            return _Failure(error, sent=False)
        if exc.kind == "connect":
            return _Failure(ClientConnectionError(f"host {exc.detail}", **where), sent=False)
        detail = self.config.redact(exc.detail)[:200]
        if exc.kind == "read_timeout":
            message = f"read timeout (>{timeout.read}s)"
        else:
            message = f"connection broken after the request was sent: {detail}"
        if method in IDEMPOTENT_METHODS:
            if exc.kind == "read_timeout":
                error = ClientTimeoutError(message, **where)
            else:
                error = ClientConnectionError(message, **where)
        else:
            error = ClientResponseIncompleteError(
                f"{message}; the server may have applied the request", **where
            )
        return _Failure(error, sent=True)

    def _wait(
        self,
        method: str,
        url: str,
        attempt: int,
        retries: int,
        why: str,
        retry_after: float | None,
    ) -> None:
        delay = self.policy.delay(attempt, retry_after)
        logger.warning(
            "retrying %s %s after %s (retry %d of %d, in %.2fs)",
            method,
            self.config.redact(url),
            why,
            attempt + 1,
            retries,
            delay,
        )
        self.policy.sleep(delay)

    def _redact(self, value: Any, depth: int = 0) -> Any:
        """A copy of a decoded body with every credential of the config masked; nesting
        past 64 levels is kept as masked text rather than walked."""
        if isinstance(value, str):
            return self.config.redact(value)
        if isinstance(value, (list, dict)) and depth >= 64:
            return self.config.redact(json.dumps(value)[:MAX_ERROR_BODY])
        if isinstance(value, list):
            return [self._redact(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: self._redact(v, depth + 1) for k, v in value.items()}
        return value

    def _http_error(
        self, method: str, url: str, response: Response, retry_after: float | None
    ) -> HTTPError:
        content, cut = response.read_bounded(MAX_ERROR_BODY)
        decoded = (
            content.decode("utf-8", "replace") if cut else _decode(content, response.status_code)
        )
        body = self._redact(decoded)
        request_id = response.headers.get("X-Request-Id") or response.headers.get("Request-Id")
        return error_for_status(
            response.status_code,
            body,
            reason=response.reason or "",
            method=method,
            url=self.config.redact(response.url or url),
            request_id=request_id,
            retry_after=retry_after,
            truncated_at=MAX_ERROR_BODY if cut else None,
        )

    def iter_content(self, response: Response, chunk_size: int) -> Iterator[bytes]:
        """The body of a streamed response; a broken stream raises ClientConnectionError."""
        try:
            yield from response.iter_bytes(chunk_size)
        except TransportError as exc:
            raise ClientConnectionError(
                f"the download broke off: {self.config.redact(exc.detail)[:200]}",
                method="GET",
                url=self.config.redact(response.url),
            ) from exc


def _decode(content: bytes, status: int) -> Any:
    """``None`` for 204 or an empty body, parsed JSON when it parses, the text otherwise."""
    if status == 204 or not content:
        return None
    try:
        return json.loads(content)
    except (ValueError, RecursionError):  # not JSON, or nested past Python's stack
        return content.decode("utf-8", "replace")
