"""Sending one request without blocking: `AsyncResponse`, the `AsyncHTTPTransport`s.

`HttpxTransport`, the default, is the only code of the SDK that touches ``httpx`` (the
``synapse-orm[async]`` extra, loaded when an `AsyncClient` is first built, never by
``import synapse``). It takes the same `synapse.http.Request` as the sync transports, and
its failures become the same [`TransportError`][synapse.errors.TransportError] kinds, so
retries, credentials and error mapping stay in one place (`synapse.transport`).
`AsyncMockTransport` answers from a function, for tests; an ``httpx.MockTransport`` (or
``respx``) also works, under `HttpxTransport`.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import select
import ssl
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Any, Protocol, cast
from urllib.parse import urlencode

try:
    import httpcore
    import httpx
except ModuleNotFoundError as missing:  # pragma: no cover - the extra is not installed
    raise ModuleNotFoundError(
        "synapse.AsyncClient needs httpx: pip install 'synapse-orm[async]'", name=missing.name
    ) from missing

from synapse.encoding import OpenFiles
from synapse.errors import TransportError
from synapse.http import (
    CREDENTIAL_HEADERS,
    MAX_REDIRECTS,
    Headers,
    Request,
    Response,
    _MaskUrlCredentials,
    environ_proxy,
    one_pass_redirect,
    tls_reason,
)
from synapse.urls import origin

__all__ = [
    "AsyncHTTPTransport",
    "AsyncMockTransport",
    "AsyncResponse",
    "HttpxTransport",
    "async_transport",
]

#: Bytes read from a file per write of a streamed body.
_FILE_CHUNK = 1 << 20


class _MaskHttpxUrls(_MaskUrlCredentials):
    """httpx logs each request's URL at INFO (an ``httpx.URL``, not a string); the
    protocol puts agent tokens in paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(str(a) if isinstance(a, httpx.URL) else a for a in record.args)
        return super().filter(record)


for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_MaskHttpxUrls())
_log = logging.getLogger("httpx")


class AsyncResponse:
    """An answer whose body is read (`aread()`) or streamed (`aiter_bytes()`) with
    ``await``. After `aread()`, ``content`` holds the body, as on the sync `Response`."""

    def __init__(
        self,
        status_code: int,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        url: str = "",
        reason: str = "",
        stream: Callable[[int], AsyncIterator[bytes]] | None = None,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.status_code = status_code
        self.headers = Headers(headers)
        self._content = content if content is not None or stream else b""
        self._stream = stream
        self._on_close = on_close
        self.url = url
        self.reason = reason

    @classmethod
    def of(cls, response: Response) -> AsyncResponse:
        """An async face for a whole sync `Response` (what mock handlers return)."""
        return cls(
            response.status_code,
            headers=response.headers,
            content=response.content,
            url=response.url,
            reason=response.reason,
        )

    @property
    def content(self) -> bytes:
        """The body; only once it was read (`aread()`)."""
        if self._content is None:
            raise RuntimeError("the body of a streamed response is read with `await aread()`")
        return self._content

    async def aread(self) -> bytes:
        """The whole body (read now if it was streamed)."""
        if self._content is None:
            self._content = b"".join([chunk async for chunk in self.aiter_bytes(1 << 16)])
        return self._content

    async def aiter_bytes(self, chunk_size: int) -> AsyncGenerator[bytes, None]:
        """The body in pieces of about ``chunk_size`` bytes; the response closes after."""
        try:
            if self._content is not None:
                for start in range(0, len(self._content), chunk_size):
                    yield self._content[start : start + chunk_size]
            elif self._stream is not None:
                async for chunk in self._stream(chunk_size):
                    yield chunk
        finally:
            await self.aclose()

    async def read_bounded(self, limit: int) -> Response:
        """A sync `Response` holding at most ``limit + 1`` bytes of the body (enough to
        tell that there was more); the rest is never downloaded."""
        if self._content is None:
            chunks: list[bytes] = []
            size = 0
            try:
                async for chunk in self.aiter_bytes(16 * 1024):
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > limit:
                        break
            except TransportError:
                pass  # a broken error body still makes an error, from what did arrive
            finally:
                await self.aclose()
            body = b"".join(chunks)[: limit + 1]
        else:
            body = self._content[: limit + 1]
        return Response(
            self.status_code, headers=self.headers, content=body, url=self.url, reason=self.reason
        )

    async def aclose(self) -> None:
        """Release the connection (unread bytes are not downloaded)."""
        if self._on_close is not None:
            closer, self._on_close = self._on_close, None
            await closer()

    def __repr__(self) -> str:
        return f"<AsyncResponse {self.status_code}>"


class AsyncHTTPTransport(Protocol):
    """Sends one request and returns its answer, its body not yet read: no retries, no
    error mapping."""

    async def handle(self, request: Request) -> AsyncResponse: ...

    async def aclose(self) -> None: ...


# --------------------------------------------------------------------------- httpx


class HttpxTransport:
    """The default `AsyncHTTPTransport`: a pooled httpx transport, sent to directly.

    Requests go to the httpx transport's ``handle_async_request`` (not through
    ``httpx.AsyncClient.send``, whose URL merging, auth and cookie layers cost more CPU
    per request than the rest of the SDK). What the client layer did is done here, once:
    redirects are followed (at most ``MAX_REDIRECTS``) and every credential header is
    dropped on a redirect off ``own_origin``; cookies that the server sets are sent
    back, as the sync client's session does; the environment's proxies are chosen per
    origin as the sync client chooses them. ``transport`` is an httpx transport to send
    through instead of the network (``httpx.MockTransport``); respx patches the httpcore
    pool under the default one.
    """

    def __init__(
        self,
        own_origin: tuple[str, str, int | None] | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        max_connections: int = 100,
    ) -> None:
        self.origin = own_origin
        self._transport = transport
        # httpx's default keep-alive pool (20): every pooled connection is checked for
        # each request, so a larger pool costs more CPU than it saves connects
        self._limits = httpx.Limits(
            max_connections=max_connections, max_keepalive_connections=min(20, max_connections)
        )
        self._senders: dict[str | None, httpx.AsyncBaseTransport] = {}
        self._proxies: dict[tuple[str, str, int | None], str | None] = {}
        self._cookies = httpx.Cookies()
        self._loop: asyncio.AbstractEventLoop | None = None

    def sender(self, url: httpx.URL) -> httpx.AsyncBaseTransport:
        """The httpx transport for ``url``: the injected one, else a pool per proxy, made
        on first use in each event loop (its connections belong to the loop that opened
        them: a later ``asyncio.run`` gets new ones)."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            self._loop, self._senders = loop, {}
        if self._transport is not None:
            return self._transport
        key = (url.scheme, url.host, url.port)
        if key not in self._proxies:
            self._proxies[key] = environ_proxy(str(url))
        proxy = self._proxies[key]
        found = self._senders.get(proxy)
        if found is None:
            bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
            verify = _ssl_context(bundle)
            if proxy is None:
                found = _PooledTransport(verify, self._limits)
            else:
                found = httpx.AsyncHTTPTransport(verify=verify, limits=self._limits, proxy=proxy)
            self._senders[proxy] = found
        return found

    async def _send(self, outgoing: httpx.Request) -> httpx.Response:
        """One hop: the jar's cookies on it, the answer's cookies into the jar."""
        if self._cookies:
            self._cookies.set_cookie_header(outgoing)
        answer = await self.sender(outgoing.url).handle_async_request(outgoing)
        answer.request = outgoing
        if "set-cookie" in answer.headers:
            self._cookies.extract_cookies(answer)
        if _log.isEnabledFor(logging.INFO):  # the line httpx's client logs (masked)
            _log.info(
                'HTTP Request: %s %s "%s %d %s"',
                outgoing.method,
                outgoing.url,
                answer.http_version,
                answer.status_code,
                answer.reason_phrase,
            )
        return answer

    async def handle(self, request: Request) -> AsyncResponse:
        headers = httpx.Headers(_DEFAULT_HEADERS)
        headers.update(request.headers)
        kwargs: dict[str, Any] = {"headers": headers, "extensions": _extensions(request)}
        opened: OpenFiles | None = None
        start: int | None = None
        streamed = request.content is not None and not isinstance(request.content, bytes)
        try:
            if request.files:
                opened = OpenFiles(request.files)
                kwargs["files"] = opened.__enter__()
                kwargs["data"] = _form_dict(request.form or [])
            elif request.content is not None:
                kwargs["content"] = _async_content(request.content)
                start = _position(request.content)
            outgoing = httpx.Request(
                request.method, _with_query(request.url, request.params), **kwargs
            )
            answer = await self._send(outgoing)
            hops = 0
            while (follow := self._redirect(answer)) is not None:
                await answer.aclose()
                hops += 1
                if hops > MAX_REDIRECTS:
                    raise TransportError("redirects", f"more than {MAX_REDIRECTS} redirects")
                if streamed and follow.stream is outgoing.stream:
                    # a streamed body (a chunk read from disk) was read: it goes again
                    # from where it began, as the sync client's session sends it
                    if start is None:
                        raise one_pass_redirect(answer.status_code)
                    request.content.seek(start)
                    follow = httpx.Request(
                        follow.method,
                        follow.url,
                        headers=follow.headers,
                        content=_async_content(request.content),
                        extensions=follow.extensions,
                    )
                outgoing = follow
                answer = await self._send(follow)
            if not request.stream and answer.status_code < 400:  # read whole, natively
                return AsyncResponse(
                    answer.status_code,
                    headers=answer.headers,
                    content=await answer.aread(),
                    url=str(answer.url),
                    reason=answer.reason_phrase,
                )
        except httpx.HTTPError as exc:
            raise _transport_error(exc) from exc
        except httpx.StreamError as exc:  # not an HTTPError: a body read twice
            raise TransportError("broken", str(exc)) from exc
        finally:
            if opened is not None:
                opened.__exit__(None, None, None)

        async def stream(chunk_size: int) -> AsyncIterator[bytes]:
            try:
                async for chunk in answer.aiter_bytes(chunk_size):
                    yield chunk
            except httpx.HTTPError as exc:
                raise _transport_error(exc) from exc
            except httpx.StreamError as exc:  # read again after a broken-off read
                raise TransportError("broken", f"the body was already read ({exc})") from exc

        return AsyncResponse(
            answer.status_code,
            headers=answer.headers,
            url=str(answer.url),
            reason=answer.reason_phrase,
            stream=stream,
            on_close=answer.aclose,
        )

    def _redirect(self, answer: httpx.Response) -> httpx.Request | None:
        """The request a redirect asks for, or ``None``: 303 (and 302, and 301 for a
        POST) become a GET without a body, as browsers, requests and httpx do; the
        credentials stay on ``own_origin``; cookies come from the jar."""
        location = answer.headers.get("Location")
        if answer.status_code not in _REDIRECTS or not location:
            return None
        previous = answer.request
        url = previous.url.join(location)
        method, status = previous.method, answer.status_code
        if (status in (302, 303) and method != "HEAD") or (status == 301 and method == "POST"):
            method = "GET"
        headers = httpx.Headers(previous.headers)
        headers.pop("Cookie", None)
        headers["Host"] = url.netloc.decode("ascii")  # (a request given its stream keeps these)
        if origin(str(url)) != self.origin:
            for name in CREDENTIAL_HEADERS:
                headers.pop(name, None)
        if method != previous.method:
            for name in ("Content-Length", "Transfer-Encoding", "Content-Type"):
                headers.pop(name, None)
            return httpx.Request(method, url, headers=headers, extensions=previous.extensions)
        return httpx.Request(
            method, url, headers=headers, stream=previous.stream, extensions=previous.extensions
        )

    async def aclose(self) -> None:
        senders, self._senders = list(self._senders.values()), {}
        if self._transport is not None:
            senders.append(self._transport)
        if self._loop is asyncio.get_running_loop():
            for sender in senders:
                await sender.aclose()  # (a pool of a loop that has ended went with it)


#: What httpx's client would have added (the sync client's session sends the same).
_DEFAULT_HEADERS = {"Accept": "*/*", "Accept-Encoding": "gzip, deflate", "Connection": "keep-alive"}
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


class _PooledTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over `_Pool` and `_Backend`: the same requests and answers, with
    httpcore's per-request bookkeeping made linear in the pooled connections (it was
    most of the client's CPU per page on a listing with 16 pages in flight), its locks
    asyncio's and its sockets asyncio's transports."""

    def __init__(self, verify: ssl.SSLContext, limits: httpx.Limits) -> None:
        super().__init__(verify=verify, limits=limits)
        # the linear housekeeping overrides httpcore 1.0's; a later httpcore keeps its own
        pool = _Pool if httpcore.__version__.startswith("1.0.") else httpcore.AsyncConnectionPool
        self._pool = pool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_Backend(),
        )


class _Pool(httpcore.AsyncConnectionPool):
    """httpcore 1.0's pool, its housekeeping linear: httpcore counts the connections
    again for every idle one (quadratic, run two or three times per request), and
    closes idle connections once more than ``max_keepalive_connections`` exist in all
    rather than once that many are idle, as its documentation says."""

    def _assign_requests_to_connections(self) -> list[httpcore.AsyncConnectionInterface]:
        closing: list[httpcore.AsyncConnectionInterface] = []
        kept: list[httpcore.AsyncConnectionInterface] = []
        idle = 0
        for connection in self._connections:
            if connection.is_closed():
                continue
            spare = connection.is_idle() and idle >= self._max_keepalive_connections
            if spare or connection.has_expired():
                closing.append(connection)
            else:
                idle += connection.is_idle()
                kept.append(connection)
        self._connections = kept
        for waiting in [request for request in self._requests if request.is_queued()]:
            origin = waiting.request.url.origin
            found = next(
                (c for c in kept if c.can_handle_request(origin) and c.is_available()), None
            )
            if found is None and len(kept) >= self._max_connections:
                unused = next((c for c in kept if c.is_idle()), None)
                if unused is None:
                    continue  # the request waits for a connection to free up
                kept.remove(unused)
                closing.append(unused)
            if found is None:
                found = self.create_connection(origin)
                kept.append(found)
            waiting.assign_to_connection(found)
        return closing

    def create_connection(self, origin: httpcore.Origin) -> httpcore.AsyncConnectionInterface:
        connection = super().create_connection(origin)
        if type(connection) is httpcore.AsyncHTTPConnection:  # (not through a proxy)
            connection.__class__ = _HTTPConnection
            connection._request_lock = _Lock()  # type: ignore[assignment]
        return connection


class _Lock:
    """httpcore's lock as asyncio's: anyio's turns the event loop on every acquire, even
    a free one, and a request takes three (the connection's, twice its HTTP/1.1 state's)."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> _Lock:
        await self._lock.acquire()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._lock.release()


class _HTTPConnection(httpcore.AsyncHTTPConnection):
    """httpcore's connection, the HTTP/1.1 connection it makes given a `_Lock`."""

    @property
    def _connection(self) -> httpcore.AsyncConnectionInterface | None:
        found: httpcore.AsyncConnectionInterface | None = self.__dict__["_connection"]
        return found

    @_connection.setter
    def _connection(self, made: httpcore.AsyncConnectionInterface | None) -> None:
        if isinstance(made, httpcore.AsyncHTTP11Connection):
            made._state_lock = _Lock()  # type: ignore[assignment]
        self.__dict__["_connection"] = made


#: Bytes a connection buffers from the network before the loop stops reading it.
_READ_HIGH_WATER = 1 << 18
#: Names of `get_extra_info` in httpcore and in asyncio's transports.
_EXTRA_INFO = {
    "socket": "socket",
    "ssl_object": "ssl_object",
    "client_addr": "sockname",
    "server_addr": "peername",
}


class _Connection(asyncio.Protocol):
    """What the event loop delivers for one connection, kept for `_LoopStream`: the
    bytes received (reading pauses past `_READ_HIGH_WATER` unread), the end of the
    stream, whether writing must wait, and the futures a read or a write awaits."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.chunks: deque[bytes] = deque()
        self.buffered = 0
        self.eof = False
        self.closed = False
        self.lost: Exception | None = None
        self.reading_paused = False
        self.writing_paused = False
        self.waiters: list[asyncio.Future[bool]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # (uvloop's is no subclass)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)
        self.buffered += len(data)
        if self.buffered > _READ_HIGH_WATER and not self.reading_paused:
            assert self.transport is not None
            self.transport.pause_reading()
            self.reading_paused = True
        self.wake()

    def eof_received(self) -> bool:
        self.eof = True
        self.wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed, self.lost = True, exc
        self.wake()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.wake()

    def wake(self) -> None:
        for waiter in self.waiters:
            if not waiter.done():
                waiter.set_result(True)

    def take(self, max_bytes: int) -> bytes:
        """At most ``max_bytes`` of what arrived (there is some)."""
        chunk = self.chunks.popleft()
        if len(chunk) > max_bytes:
            self.chunks.appendleft(chunk[max_bytes:])
            chunk = chunk[:max_bytes]
        self.buffered -= len(chunk)
        if self.reading_paused and self.buffered <= _READ_HIGH_WATER // 4:
            assert self.transport is not None
            self.transport.resume_reading()
            self.reading_paused = False
        return chunk

    async def woken(self, deadline: float | None) -> bool:
        """Wait for the next event; False when the loop's clock passed ``deadline``
        first (a timer handle, not a task or a cancel scope per read). A deadline, not a
        timeout: events that do not end the wait (a byte received while writing) must
        not start the clock again."""
        loop = asyncio.get_running_loop()
        if deadline is not None and loop.time() >= deadline:
            return False
        waiter: asyncio.Future[bool] = loop.create_future()
        self.waiters.append(waiter)
        timer = None if deadline is None else loop.call_at(deadline, _expire, waiter)
        try:
            return await waiter
        finally:
            self.waiters.remove(waiter)
            if timer is not None:
                timer.cancel()

    def idle_closed(self) -> bool:
        """Whether the server closed (or wrote on) this idle connection: what arrived,
        or what waits on the socket when the loop has not run its callbacks yet (it was
        busy): a request sent on it would fail."""
        if self.chunks or self.eof or self.closed or self.transport is None:
            return True
        sock = self.transport.get_extra_info("socket")
        return sock is None or _fd_readable(sock.fileno())


def _fd_readable(fd: int) -> bool:
    """Whether a socket has bytes or its end waiting, without reading (one poll)."""
    if fd < 0:
        return True
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        return bool(poller.poll(0))
    return bool(select.select([fd], [], [], 0)[0])  # pragma: no cover - Windows


def _deadline(timeout: float | None) -> float | None:
    return None if timeout is None else asyncio.get_running_loop().time() + timeout


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


class _LoopStream(httpcore.AsyncNetworkStream):
    """An httpcore stream on asyncio's own transport and a `_Connection`: what anyio's
    stream does per read and write (a cancel scope, a reader added and removed, a
    socket poll for each pooled connection before each request) costs more CPU than
    the rest of a page's request. Failures are httpcore's, as anyio's stream raises."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        connection = self._connection
        deadline = None if connection.chunks else _deadline(timeout)
        while not connection.chunks:
            if connection.lost is not None:
                raise httpcore.ReadError(str(connection.lost) or "connection reset")
            if connection.eof or connection.closed:
                return b""
            if not await connection.woken(deadline):
                raise httpcore.ReadTimeout("timed out")
        return connection.take(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        connection = self._connection
        transport = connection.transport
        assert transport is not None
        if connection.closed or transport.is_closing():
            raise httpcore.WriteError(str(connection.lost or "the connection is closed"))
        transport.write(buffer)
        deadline = _deadline(timeout) if connection.writing_paused else None
        while connection.writing_paused and not connection.closed:
            if not await connection.woken(deadline):
                raise httpcore.WriteTimeout("timed out")
        if connection.lost is not None:
            raise httpcore.WriteError(str(connection.lost))

    async def aclose(self) -> None:
        transport = self._connection.transport
        if transport is not None:
            transport.abort()  # the socket closes now: no TLS goodbye is awaited

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        connection = self._connection
        transport = connection.transport
        assert transport is not None
        upgrade = asyncio.get_running_loop().start_tls(
            transport, connection, ssl_context, server_hostname=server_hostname
        )
        try:
            secure = await asyncio.wait_for(upgrade, timeout)
        except BaseException as exc:
            transport.abort()
            if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
                raise httpcore.ConnectTimeout("TLS handshake timed out") from exc
            if isinstance(exc, OSError):  # ssl.SSLError among them
                raise httpcore.ConnectError(str(exc)) from exc
            raise
        if secure is None:  # pragma: no cover - the loop closed the connection
            raise httpcore.ConnectError("the connection closed during the TLS handshake")
        connection.transport = secure
        return self

    def get_extra_info(self, info: str) -> Any:
        connection = self._connection
        if info == "is_readable":  # idle, and something arrived: the server closed it
            return connection.idle_closed()
        name = _EXTRA_INFO.get(info)
        transport = connection.transport
        return None if name is None or transport is None else transport.get_extra_info(name)


class _Backend(httpcore.AsyncNetworkBackend):
    """Connections as `_LoopStream`s on the running asyncio loop; httpcore's anyio
    backend anywhere else (no asyncio loop: trio)."""

    def __init__(self) -> None:
        self._anyio = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = running_loop()
        if loop is None:
            return await self._anyio.connect_tcp(host, port, timeout, local_address, socket_options)
        local = None if local_address is None else (local_address, 0)
        return await _open(
            lambda c: loop.create_connection(lambda: c, host, port, local_addr=local),
            timeout,
            socket_options,
        )

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        loop = running_loop()
        if loop is None:
            return await self._anyio.connect_unix_socket(path, timeout, socket_options)
        return await _open(
            lambda c: loop.create_unix_connection(lambda: c, path), timeout, socket_options
        )

    async def sleep(self, seconds: float) -> None:
        if running_loop() is None:
            await self._anyio.sleep(seconds)
        else:
            await asyncio.sleep(seconds)


async def _open(
    connect: Callable[[_Connection], Awaitable[tuple[asyncio.BaseTransport, Any]]],
    timeout: float | None,
    socket_options: Iterable[Any] | None,
) -> _LoopStream:
    """A `_LoopStream` over what ``connect`` opens; its failures as httpcore's."""
    connection = _Connection()
    try:
        await asyncio.wait_for(connect(connection), timeout)
    except (asyncio.TimeoutError, TimeoutError) as exc:
        raise httpcore.ConnectTimeout("timed out") from exc
    except OSError as exc:
        raise httpcore.ConnectError(str(exc)) from exc
    assert connection.transport is not None
    sock = connection.transport.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)
    return _LoopStream(connection)


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The running asyncio loop, if any (None under trio, or in sync code)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def async_transport(
    own_origin: tuple[str, str, int | None], transport: Any = None
) -> AsyncHTTPTransport:
    """What an `AsyncClient` sends through: its ``transport=`` when that is an
    `AsyncHTTPTransport`, `HttpxTransport` over it when it is an httpx transport
    (``httpx.MockTransport``), else `HttpxTransport` over the network."""
    if transport is None or isinstance(transport, httpx.AsyncBaseTransport):
        return HttpxTransport(own_origin, transport=transport)
    found: AsyncHTTPTransport = transport
    return found


@functools.lru_cache(maxsize=4)
def _ssl_context(bundle: str | None) -> ssl.SSLContext:
    """One TLS context per CA bundle for the process (loading the certificates costs
    0.05-0.2 s; clients share it): the sync client's bundle (``REQUESTS_CA_BUNDLE``)
    when set, else httpx's default. Verification stays on either way."""
    if bundle:
        return ssl.create_default_context(cafile=bundle)
    return httpx.create_ssl_context(verify=True)


def _extensions(request: Request) -> dict[str, Any]:
    """The request extensions httpcore reads: the timeouts."""
    return {"timeout": _timeouts(request.timeout.connect, request.timeout.read)}


@functools.lru_cache(maxsize=64)
def _timeouts(connect: float | None, read: float | None) -> dict[str, float | None]:
    """httpcore's timeouts for the SDK's (connect, read): writes as reads, the pool as a
    connect (one dict per pair: httpcore only reads it)."""
    return {"connect": connect, "read": read, "write": read, "pool": connect}


def _with_query(url: str, params: list[tuple[str, str]]) -> str:
    """``params`` appended to the URL's own query, encoded as the sync transport does
    (httpx would replace a ``next`` link's query instead of adding to it)."""
    if not params:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"


def _form_dict(form: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Repeated multipart fields, as httpx takes them."""
    fields: dict[str, list[str]] = {}
    for key, value in form:
        fields.setdefault(key, []).append(value)
    return fields


def _position(content: Any) -> int | None:
    """Where a file body begins (to send it again after a redirect); None when it is
    bytes (sent again as they are) or cannot seek."""
    if isinstance(content, (bytes, bytearray)) or not hasattr(content, "seek"):
        return None
    try:
        return int(content.tell())
    except (OSError, AttributeError, ValueError):
        return None


def _async_content(content: Any) -> Any:
    """A body httpx can send from an async client: bytes as they are; a file or an
    iterable of bytes (what a body factory makes) read piece by piece."""
    if isinstance(content, (bytes, bytearray)):
        return bytes(content)

    async def pieces() -> AsyncIterator[bytes]:
        if hasattr(content, "read"):
            while chunk := content.read(_FILE_CHUNK):
                yield chunk
        else:
            for chunk in content:
                yield chunk

    return pieces()


def _transport_error(exc: httpx.HTTPError) -> TransportError:
    if isinstance(exc, (httpx.ConnectTimeout, httpx.PoolTimeout)):
        return TransportError("connect_timeout", str(exc))
    if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout)):
        return TransportError("read_timeout", str(exc))
    if isinstance(exc, httpx.ConnectError):
        if "SSL" in str(exc) or "TLS" in str(exc):  # the handshake: nothing was sent
            return TransportError("connect", f"TLS handshake failed ({tls_reason(str(exc))})")
        return TransportError("connect", "connection refused" if _refused(exc) else "unreachable")
    if isinstance(exc, httpx.TooManyRedirects):
        return TransportError("redirects", f"more than {MAX_REDIRECTS} redirects")
    return TransportError("broken", str(exc) or type(exc).__name__)


def _refused(exc: BaseException) -> bool:
    """Whether a failed connect was refused: the OS error is a cause or context or two
    below (its text says "Connect call failed", not "refused")."""
    cause: BaseException | None = exc
    while cause is not None:
        if isinstance(cause, ConnectionRefusedError) or "refused" in str(cause).lower():
            return True
        cause = cause.__cause__ or cause.__context__
    return False


# --------------------------------------------------------------------------- mock


#: A function or coroutine function answering a request.
AsyncHandler = Callable[[Request], Any]


class AsyncMockTransport:
    """An `AsyncHTTPTransport` that answers every request with ``handler(request)``: a
    plain function or a coroutine function returning a `synapse.http.Response` (or an
    `AsyncResponse`). It may raise `TransportError` to play a network failure. Every
    request is kept in ``requests``, its body read into bytes:

    ```python
    transport = AsyncMockTransport(handler)
    client = AsyncClient("https://api.example.com", "token", transport=transport)
    ```
    """

    def __init__(self, handler: AsyncHandler) -> None:
        self.handler = handler
        self.requests: list[Request] = []

    async def handle(self, request: Request) -> AsyncResponse:
        content = request.content
        if content is not None and not isinstance(content, bytes):  # a file or chunks
            request.content = content.read() if hasattr(content, "read") else b"".join(content)
        self.requests.append(request)
        answer = self.handler(request)
        if inspect.isawaitable(answer):
            answer = await answer
        response = answer if isinstance(answer, AsyncResponse) else AsyncResponse.of(answer)
        if not response.url:
            response.url = request.url
        return response

    async def aclose(self) -> None:
        pass
