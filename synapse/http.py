"""Sending one request: the SDK's own `Request` and [`Response`][synapse.http.Response], and the
`HTTPTransport`s that send them.

`RequestsTransport`, the default, is the only code of the SDK that touches
``requests``; its failures become [`TransportError`][synapse.errors.TransportError].
[`MockTransport`][synapse.http.MockTransport] answers from a function, for tests
(``Client(..., transport=MockTransport(handler))``, as httpx offers). Retries, credentials
and error mapping are not here but in `transport`, the one path above.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests
import requests.adapters
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

from synapse.config import Timeout, mask_url_credentials
from synapse.encoding import FileValue, OpenFiles
from synapse.errors import TransportError
from synapse.urls import origin

__all__ = [
    "CREDENTIAL_HEADERS",
    "MAX_REDIRECTS",
    "HTTPTransport",
    "Headers",
    "MockTransport",
    "Request",
    "RequestsTransport",
    "Response",
    "one_pass_redirect",
]

CREDENTIAL_HEADERS = ("Synapse-Access-Token", "Authorization", "Synapse-Tenant", "SYNAPSE-Agent")
MAX_REDIRECTS = 10


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


# --------------------------------------------------------------------------- the SDK's types


@dataclass
class Request:
    """One request as an `HTTPTransport` sends it.

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

    def __repr__(self) -> str:
        # Credential headers by name only, and URLs with their path tokens masked.
        credentials = {name.lower() for name in CREDENTIAL_HEADERS}
        headers = {k: "****" if k.lower() in credentials else v for k, v in self.headers.items()}
        url = mask_url_credentials(self.url)
        shown = f"method={self.method!r}, url={url!r}, params={self.params!r}"
        return f"Request({shown}, headers={headers!r})"

    def json(self) -> Any:
        """The JSON body, decoded (for handlers of a
        [`MockTransport`][synapse.http.MockTransport])."""
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
    """An answer: status, headers, URL, and a body read whole (`content`) or
    streamed (`iter_bytes()`). A streamed body that breaks raises
    [`TransportError`][synapse.errors.TransportError]."""

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


def environ_proxy(url: str) -> str | None:
    """The environment's proxy for ``url`` (``*_PROXY``, ``NO_PROXY``), as the sync
    client's session picks it; the async client asks this once per origin."""
    return requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))


def one_pass_redirect(status: int) -> TransportError:
    """A 307/308 answered to a request whose body is read as it is sent and cannot be
    read again (a chunk streamed from disk, an iterable of bytes): said, rather than the
    body resent empty (the server would wait for it until the read timeout)."""
    return TransportError(
        "redirects",
        f"the server redirected ({status}) a request whose streamed body cannot be sent twice",
    )


class _Session(requests.Session):
    """A session that drops every credential header on a redirect to another origin,
    and raises `one_pass_redirect` where it would resend a body it cannot rewind."""

    def __init__(self, own: tuple[str, str, int | None] | None) -> None:
        super().__init__()
        self.synapse_origin = own

    def rebuild_method(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        method = prepared_request.method
        super().rebuild_method(prepared_request, response)  # 303 and 302 (and POST 301): GET
        body, status = prepared_request.body, response.status_code
        if body is None or prepared_request.method != method:
            return
        one_pass = not isinstance(body, (bytes, str))
        if one_pass and getattr(prepared_request, "_body_position", None) is None:
            raise one_pass_redirect(status)
        if status not in (307, 308):  # a PUT or PATCH answered 301: requests would empty it
            kept = {h: v for h, v in prepared_request.headers.items() if h in _BODY_HEADERS}
            prepared_request._synapse_body = (body, kept)  # type: ignore[attr-defined]

    def rebuild_auth(
        self, prepared_request: requests.PreparedRequest, response: requests.Response
    ) -> None:
        super().rebuild_auth(prepared_request, response)  # type: ignore[no-untyped-call]
        if origin(prepared_request.url or "") != self.synapse_origin:
            for name in CREDENTIAL_HEADERS:
                prepared_request.headers.pop(name, None)
        kept = prepared_request.__dict__.pop("_synapse_body", None)
        if kept is not None:  # (the hook requests calls after it dropped the body)
            prepared_request.body = kept[0]
            prepared_request.headers.update(kept[1])


#: The headers that describe a request's body, dropped by requests with the body.
_BODY_HEADERS = frozenset({"Content-Length", "Content-Type", "Transfer-Encoding"})


class _Adapter(requests.adapters.HTTPAdapter):
    """Sends streamed bodies in 1 MiB writes (urllib3's default is 16 KiB)."""

    def init_poolmanager(
        self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any
    ) -> None:
        pool_kwargs.setdefault("blocksize", 1 << 20)
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)


class RequestsTransport:
    """The default `HTTPTransport`: one pooled ``requests.Session``.

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
        return TransportError("redirects", f"more than {MAX_REDIRECTS} redirects")
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return TransportError("connect_timeout", str(exc))
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return TransportError("read_timeout", str(exc))
    if isinstance(exc, requests.exceptions.SSLError):
        # The handshake comes before the request: nothing was sent.
        return TransportError("connect", f"TLS handshake failed ({tls_reason(str(exc))})")
    if isinstance(exc, requests.exceptions.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
            refused = "refused" in str(reason).lower()
            return TransportError("connect", "connection refused" if refused else "unreachable")
    return TransportError("broken", str(exc))


def tls_reason(text: str) -> str:
    """The TLS library's words (of any HTTP library), with a hint for the common case
    of https to plain http."""
    if "WRONG_VERSION_NUMBER" in text or "wrong version number" in text:
        return "the server does not speak TLS: is the base URL http://, not https://?"
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return "its certificate could not be verified"
    return text[-160:]


# --------------------------------------------------------------------------- mock


Handler = Callable[[Request], Response]


class MockTransport:
    """An `HTTPTransport` that answers every request with ``handler(request)``.

    For tests of code that uses the SDK, without a server:

    ```python
    def handler(request: Request) -> Response:
        if request.url.endswith("/projects/1/"):
            return Response(200, json={"id": 1, "title": "t"})
        return Response(404, json={"detail": "Not found."})

    client = Client("https://api.example.com", "token", transport=MockTransport(handler))
    ```

    The handler may raise [`TransportError`][synapse.errors.TransportError] to play a network
    failure. Every
    request is kept in `requests`.
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
