"""The async client's network streams (`synapse.aio.http._LoopStream`, on asyncio's own
transports) over real sockets: timeouts, refusals, resets and cancellations raise what
the error mapping expects, large bodies wait on flow control, TLS verifies against a
CA bundle, and a connection the server closed while idle is replaced (issue 22, item 8).

The servers here run in the test's own event loop (``asyncio.start_server``), so each
step is awaited rather than waited for.
"""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from synapse import ClientConnectionError, ClientTimeoutError
from synapse.aio import AsyncClient, HttpxTransport
from synapse.aio import http as aio_http
from synapse.local import LocalBackend
from synapse.urls import origin

pytestmark = pytest.mark.anyio

TOKEN = "net-token-0123456789"
#: A guard against a hang if a socket were left open; never reached when the test passes.
GUARD = 30

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@pytest.fixture(params=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> Any:
    """asyncio's own loop, and uvloop's (its transports are other classes)."""
    if request.param == "uvloop":
        pytest.importorskip("uvloop")
        return ("asyncio", {"use_uvloop": True})
    return "asyncio"


async def serve(handler: Handler, tls: ssl.SSLContext | None = None) -> tuple[Any, str]:
    """A server in this loop, and its base URL."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)
    port = server.sockets[0].getsockname()[1]
    return server, f"{'https' if tls else 'http'}://127.0.0.1:{port}"


async def request_head(reader: asyncio.StreamReader) -> dict[str, str]:
    """A request's headers (the request line under ``""``), lower-cased names."""
    lines = (await reader.readuntil(b"\r\n\r\n")).decode().split("\r\n")
    headers = {"": lines[0]}
    for line in lines[1:]:
        if line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers


def answer(writer: asyncio.StreamWriter, body: bytes) -> None:
    writer.write(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


async def read_all(stream: httpcore.AsyncNetworkStream) -> bytes:
    """Everything until the end of the stream."""
    pieces = []
    while piece := await stream.read(1024, timeout=GUARD):
        pieces.append(piece)
    return b"".join(pieces)


def client_at(url: str, **options: Any) -> AsyncClient:
    return AsyncClient(url, TOKEN, max_retries=0, transport=HttpxTransport(origin(url)), **options)


async def test_requests_to_the_local_backend_go_through_the_loop_streams(
    synapse_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[int] = []
    read = aio_http._LoopStream.read

    async def counting(self: Any, max_bytes: int, timeout: float | None = None) -> bytes:
        reads.append(max_bytes)
        return await read(self, max_bytes, timeout)

    monkeypatch.setattr(aio_http._LoopStream, "read", counting)
    async with AsyncClient(synapse_backend.url, synapse_backend.token) as client:
        assert await client.projects.acount() >= 0
    assert reads


async def test_pooled_connections_lock_with_asyncio_and_stay_correct_under_contention(
    synapse_backend: LocalBackend,
) -> None:
    """anyio's lock turns the loop on every acquire; the pool's connections take
    asyncio's. 30 requests on 2 connections still get each its own answer."""
    http = HttpxTransport(origin(synapse_backend.url), max_connections=2)
    client = AsyncClient(synapse_backend.url, synapse_backend.token, transport=http)
    async with client:
        ids = [(await client.projects.acreate(title=f"lock {n}")).id for n in range(3)]
        got = await asyncio.gather(*(client.projects.aget(ids[i % len(ids)]) for i in range(30)))
        assert [p.id for p in got] == [ids[i % len(ids)] for i in range(30)]
        pool = http.sender(httpx.URL(synapse_backend.url))._pool  # type: ignore[attr-defined]
        assert 1 <= len(pool.connections) <= 2
        for connection in pool.connections:
            assert isinstance(connection._request_lock, aio_http._Lock)
            assert isinstance(connection._connection._state_lock, aio_http._Lock)


async def test_a_server_that_never_answers_is_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # reads the request and never answers

    server, url = await serve(silent)
    async with server, client_at(url, timeout=(5, 0.01)) as client:
        with pytest.raises(ClientTimeoutError, match="read timeout"):
            await client.request("GET", "anything/")


async def test_a_write_timeout_is_a_deadline_that_other_events_do_not_restart() -> None:
    """A server that reads nothing of an upload: the write waits on flow control. The
    loop delivering other events meanwhile (a byte received wakes the connection) must
    not start its clock again: it timed out only once the events stopped."""
    accepted: list[asyncio.StreamWriter] = []

    async def not_reading(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server, url = await serve(not_reading)
    async with server:
        port = int(url.rsplit(":", 1)[1])
        stream = await aio_http._Backend().connect_tcp("127.0.0.1", port, timeout=5)
        assert isinstance(stream, aio_http._LoopStream)
        connection = stream._connection
        stop = asyncio.Event()

        async def waking() -> None:  # an event every turn of the loop, until stopped
            while not stop.is_set():
                connection.wake()
                await asyncio.sleep(0)

        waker = asyncio.ensure_future(waking())
        try:
            with pytest.raises(httpcore.WriteTimeout):
                await asyncio.wait_for(stream.write(b"x" * (64 << 20), timeout=0.05), GUARD)
        finally:
            stop.set()
            await waker
            await stream.aclose()


async def test_a_read_timeout_of_a_stream_is_httpcore_own() -> None:
    """What httpx maps to its ReadTimeout, and the SDK to a read timeout."""
    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server, url = await serve(silent)
    async with server:
        port = int(url.rsplit(":", 1)[1])
        stream = await aio_http._Backend().connect_tcp("127.0.0.1", port, timeout=5)
        await stream.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        with pytest.raises(httpcore.ReadTimeout):
            await stream.read(1024, timeout=0.01)
        await stream.aclose()
        with pytest.raises(httpcore.WriteError):
            await stream.write(b"more", timeout=5)


async def test_a_refused_connection_is_httpcore_connect_error() -> None:
    """What the error mapping turns into "connection refused" (test_async_http)."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(httpcore.ConnectError) as caught:
        await aio_http._Backend().connect_tcp("127.0.0.1", port, timeout=5)
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


async def test_a_reset_while_reading_is_a_read_error() -> None:
    async def resetting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await request_head(reader)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        writer.transport.abort()  # linger 0: a RST, not a FIN

    server, url = await serve(resetting)
    async with server:
        port = int(url.rsplit(":", 1)[1])
        stream = await aio_http._Backend().connect_tcp("127.0.0.1", port, timeout=5)
        await stream.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", timeout=5)
        with pytest.raises(httpcore.ReadError):
            await read_all(stream)
        await stream.aclose()


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    """The pool asks each idle connection whether it is readable before reusing it:
    the end of the stream arrived, so it opens a new one and the request succeeds."""
    connections: list[int] = []
    answered, closed = asyncio.Event(), asyncio.Event()

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(len(connections))
        await request_head(reader)
        answer(writer, b'{"n": %d}' % len(connections))  # keep-alive, then closed
        await writer.drain()
        await answered.wait()  # the client holds the connection idle in its pool
        writer.close()
        await writer.wait_closed()
        closed.set()

    server, url = await serve(once)
    http = HttpxTransport(origin(url))
    async with server, AsyncClient(url, TOKEN, max_retries=0, transport=http) as client:
        assert await client.request("GET", "one/") == {"n": 1}
        answered.set()
        await closed.wait()
        pool = http.sender(httpx.URL(url))._pool  # type: ignore[attr-defined]
        (idle,) = pool.connections
        for _ in range(100):  # the loop turns until it has read the server's goodbye
            if idle._connection._network_stream.get_extra_info("is_readable"):
                break
            await asyncio.sleep(0)
        assert idle._connection._network_stream.get_extra_info("is_readable") is True
        assert await client.request("GET", "two/") == {"n": 2}
    assert connections == [0, 1]


async def test_a_connection_closed_while_the_loop_was_busy_is_not_reused() -> None:
    """The server closes an idle connection while the event loop is held by sync work
    (a notebook's pandas, parsing): the loop has not run its callbacks, so only the
    socket knows. The next POST goes on a new connection instead of a dead one (it
    failed with a broken pipe, 'the server may have applied the request')."""
    connections: list[int] = []
    go_close, closed = threading.Event(), threading.Event()
    listener = socket.create_server(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{listener.getsockname()[1]}"

    def serve_two() -> None:
        for n in (1, 2):
            conn, _ = listener.accept()
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                while len(body) < length:
                    body += conn.recv(65536)
                connections.append(n)
                reply = b'{"n": %d}' % n
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(reply), reply))  # fmt: skip
                if n == 1:
                    go_close.wait(GUARD)
            if n == 1:
                closed.set()  # (after the with: the socket is closed, its FIN sent)

    server = threading.Thread(target=serve_two, daemon=True)
    server.start()
    try:
        async with AsyncClient(url, TOKEN, max_retries=0) as client:
            assert await client.request("POST", "one/", data={"a": 1}) == {"n": 1}
            go_close.set()
            assert closed.wait(GUARD)  # the loop is held here: it reads nothing meanwhile
            assert await client.request("POST", "two/", data={"a": 2}) == {"n": 2}
        assert connections == [1, 2]
    finally:
        go_close.set()
        listener.close()
        server.join(GUARD)


async def test_several_megabytes_go_up_and_come_down_under_flow_control(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """8 MiB each way: the upload's writes wait while the loop's buffer is full; the
    download's reads pause the socket while the client has not taken them."""
    monkeypatch.setattr(aio_http, "_READ_HIGH_WATER", 64 * 1024)
    paused: list[str] = []
    pause_writing = aio_http._Connection.pause_writing
    data_received = aio_http._Connection.data_received

    def noting_writes(self: Any) -> None:
        paused.append("writing")
        pause_writing(self)

    def noting_reads(self: Any, data: bytes) -> None:
        data_received(self, data)
        if self.reading_paused and "reading" not in paused:
            paused.append("reading")

    monkeypatch.setattr(aio_http._Connection, "pause_writing", noting_writes)
    monkeypatch.setattr(aio_http._Connection, "data_received", noting_reads)
    size = 8 << 20
    upload = bytes(range(256)) * (size // 256)

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await request_head(reader)
            except asyncio.IncompleteReadError:
                return
            if head[""].startswith("PUT"):
                body = await reader.readexactly(int(head["content-length"]))
                digest = hashlib.sha256(body).hexdigest()
                answer(writer, b'{"size": %d, "sha256": "%s"}' % (len(body), digest.encode()))
            else:
                answer(writer, upload)
            await writer.drain()

    server, url = await serve(echo)
    async with server, client_at(url) as client:
        got = await client.atransport.request("PUT", "up/", body=lambda: upload)
        assert got == {"size": size, "sha256": hashlib.sha256(upload).hexdigest()}
        response = await client.atransport.send("GET", "down/", stream=True)
        pieces = []
        async for piece in response.aiter_bytes(1 << 16):
            pieces.append(piece)
            for _ in range(4):  # slower than the network: the buffer fills
                await asyncio.sleep(0)
        assert b"".join(pieces) == upload
    assert "writing" in paused
    assert "reading" in paused


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made now with the openssl CLI."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
async def tls_server(certificate: tuple[Path, Path]) -> AsyncIterator[str]:
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    async def secure(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await request_head(reader)
                tls = writer.get_extra_info("ssl_object") is not None
                answer(writer, b'{"path": "%s", "tls": %s}' % (
                    head[""].split()[1].encode(), b"true" if tls else b"false"))  # fmt: skip
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
            writer.close()

    server, url = await serve(secure, tls=context)
    async with server:
        yield url


async def test_tls_verified_against_the_ca_bundle(
    tls_server: str, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate[0]))
    http = HttpxTransport(origin(tls_server))
    async with AsyncClient(tls_server, TOKEN, max_retries=0, transport=http) as client:
        assert await client.request("GET", "secret/") == {"path": "/secret/", "tls": True}
        assert await client.request("GET", "again/") == {"path": "/again/", "tls": True}
        pool = http.sender(httpx.URL(tls_server))._pool  # type: ignore[attr-defined]
        (connection,) = pool.connections  # one handshake, kept alive
        stream = connection._connection._network_stream
        assert isinstance(stream, aio_http._LoopStream)
        assert isinstance(stream.get_extra_info("ssl_object"), ssl.SSLObject)
        assert stream.get_extra_info("server_addr")[0] == "127.0.0.1"


async def test_tls_without_the_ca_bundle_is_refused(tls_server: str) -> None:
    async with client_at(tls_server) as client:
        with pytest.raises(ClientConnectionError, match="certificate could not be verified"):
            await client.request("GET", "secret/")


async def test_a_request_cancelled_while_reading_leaves_no_open_socket() -> None:
    ended = asyncio.Event()
    received: list[dict[str, str]] = []

    async def stalling(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        received.append(await request_head(reader))
        assert await reader.read() == b""  # the client closed its end
        ended.set()

    server, url = await serve(stalling)
    http = HttpxTransport(origin(url))
    async with server, AsyncClient(url, TOKEN, max_retries=0, transport=http) as client:
        task = asyncio.ensure_future(client.request("GET", "slow/"))
        while not received and not task.done():  # (a failed request stops the wait)
            await asyncio.sleep(0)
        assert received
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.wait_for(ended.wait(), GUARD)
        pool = http.sender(httpx.URL(url))._pool  # type: ignore[attr-defined]
        assert pool.connections == []
