"""The async client's own HTTP layer (`HttpxTransport`, sending through the httpx
transport without ``httpx.AsyncClient``) over real HTTP: redirects, cookies and
timeouts behave as the sync client's, and the connection pool bounds and reuses its
connections (issue 22, item 8)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpcore
import httpx
import pytest

from synapse import Client, ClientConnectionError, ClientTimeoutError, TooManyRedirectsError
from synapse.aio import AsyncClient, HttpxTransport
from synapse.aio import http as aio_http
from synapse.errors import TransportError
from synapse.http import Request
from synapse.local import LocalBackend
from synapse.uploads import _ChunkBody
from synapse.urls import origin

pytestmark = pytest.mark.anyio

TOKEN = "side-token-0123456789"


class Side:
    """A small HTTP server on loopback that redirects, sets cookies, echoes what it
    got, hangs until released, or holds answers until ``gate`` requests arrived."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.gate: threading.Barrier | None = None
        self.other = ""  # another origin, for redirects off this one
        side = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def answer(self, status: int, body: Any = None, **headers: str) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name.replace("_", "-"), value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def route(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(size).decode() if size else ""
                path = self.path.split("?")[0]
                if path == "/see-other/":
                    self.answer(303, Location="/echo/")
                elif path == "/temporary/":
                    self.answer(307, Location="/echo/")
                elif path == "/moved/":
                    self.answer(301, Location="/echo/")
                elif path == "/found/":
                    self.answer(302, Location="/echo/")
                elif path == "/away/":
                    self.answer(302, Location=f"{side.other}/echo/")
                elif path == "/loop/":
                    self.answer(302, Location="/loop/")
                elif path == "/login/":
                    self.answer(200, {}, Set_Cookie="session=abc; Path=/")
                elif path == "/hang/":
                    side.release.wait(30)
                    self.answer(200, {})
                elif path == "/gated/":
                    assert side.gate is not None
                    side.gate.wait(30)
                    self.answer(200, {"ok": True})
                else:
                    headers = {k.lower(): v for k, v in self.headers.items()}
                    self.answer(200, {"method": self.command, "body": body, "headers": headers})

            do_GET = do_POST = do_PUT = do_PATCH = route

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 64  # 25 connections opened at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True).start()

    def close(self) -> None:
        self.release.set()
        if self.gate is not None:
            self.gate.abort()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def side() -> Iterator[Side]:
    first, second = Side(), Side()
    first.other = second.url
    yield first
    first.close()
    second.close()


def both(side: Side, call: Callable[[Any], Any], **options: Any) -> tuple[Any, Any]:
    """``call`` made with the sync client and with the async one (its result awaited)."""
    with Client(side.url, TOKEN, max_retries=0, **options) as sync:
        synced = call(sync)

    async def run() -> Any:
        async with AsyncClient(side.url, TOKEN, max_retries=0, **options) as client:
            return await call(client)

    return synced, asyncio.run(run())


def test_a_303_turns_a_post_into_a_get_without_its_body_as_the_sync_client_does(
    side: Side,
) -> None:
    synced, awaited = both(side, lambda c: c.request("POST", "see-other/", data={"a": 1}))
    for echo in (synced, awaited):
        assert echo["method"] == "GET"
        assert echo["body"] == ""
        assert "content-type" not in echo["headers"]
        assert echo["headers"]["synapse-access-token"] == f"Token {TOKEN}"  # same origin


def test_a_307_resends_the_method_and_the_body(side: Side) -> None:
    synced, awaited = both(side, lambda c: c.request("POST", "temporary/", data={"a": 1}))
    for echo in (synced, awaited):
        assert echo["method"] == "POST"
        assert json.loads(echo["body"]) == {"a": 1}


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_a_301_resends_a_put_or_patch_with_its_body_in_both_clients(
    side: Side, method: str
) -> None:
    """A 301 keeps the method, so the body too (requests sent a PUT or PATCH answered
    301 again empty: ``save()`` reported success and the edit was lost)."""
    synced, awaited = both(side, lambda c: c.request(method, "moved/", data={"title": "new"}))
    for echo in (synced, awaited):
        assert echo["method"] == method
        assert json.loads(echo["body"]) == {"title": "new"}
        assert echo["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize(("path", "method"), [("moved/", "POST"), ("found/", "POST"),
                                              ("found/", "PUT"), ("found/", "PATCH")])  # fmt: skip
def test_a_post_answered_301_and_anything_answered_302_become_a_get_in_both_clients(
    side: Side, path: str, method: str
) -> None:
    """What browsers, requests and httpx do: the GET goes without the body."""
    synced, awaited = both(side, lambda c: c.request(method, path, data={"a": 1}))
    for echo in (synced, awaited):
        assert (echo["method"], echo["body"]) == ("GET", "")
        assert "content-type" not in echo["headers"]


def test_a_301_resends_a_file_body_from_its_start(side: Side) -> None:
    data = b"fedcba9876543210" * 64

    def send(client: Any) -> Any:
        body = io.BytesIO(data)
        transport = client.atransport if isinstance(client, AsyncClient) else client.transport
        headers = {"Content-Length": str(len(data))}
        return transport.request("PUT", "moved/", body=lambda: body, headers=headers)

    synced, awaited = both(side, send)
    for echo in (synced, awaited):
        assert (echo["method"], echo["body"]) == ("PUT", data.decode())


def test_a_307_resends_a_streamed_file_body_from_its_start(side: Side) -> None:
    """A chunk is a file read as it is sent: after a 307, it is read again from where
    it began (it was a raw httpx StreamConsumed error)."""
    data = b"0123456789abcdef" * 320

    def send(client: Any) -> Any:
        body = io.BytesIO(b"skip" + data)
        body.seek(4)
        transport = client.atransport if isinstance(client, AsyncClient) else client.transport
        headers = {"Content-Length": str(len(data))}
        return transport.request("PUT", "temporary/", body=lambda: body, headers=headers)

    synced, awaited = both(side, send)
    for echo in (synced, awaited):
        assert echo["method"] == "PUT"
        assert echo["body"] == data.decode()


@pytest.mark.parametrize("kind", ["iterable", "chunk"])
def test_a_307_of_a_body_that_cannot_be_read_again_says_so_in_both_clients(
    side: Side, tmp_path: Path, kind: str
) -> None:
    """A chunk PUT (a file slice read as it is sent) or an iterable body cannot be sent
    twice: both clients raise at once (the sync one resent it empty, and waited for the
    read timeout)."""
    source = tmp_path / "chunk.bin"
    source.write_bytes(b"c" * 5000)

    def body() -> Any:
        if kind == "iterable":
            return iter([b"one-pass", b"-body"])
        return _ChunkBody(source, 0, 5000, "chunk.bin", hashlib.md5())

    def send(client: Any) -> Any:
        transport = client.atransport if isinstance(client, AsyncClient) else client.transport
        length = str(len(body()) if kind == "chunk" else 13)
        return transport.request("PUT", "temporary/", body=body, headers={"Content-Length": length})

    said = r"redirected \(307\) a request whose streamed body cannot be sent twice"
    with (
        Client(side.url, TOKEN, max_retries=0) as sync,
        pytest.raises(TooManyRedirectsError, match=said),
    ):
        send(sync)

    async def run() -> None:
        async with AsyncClient(side.url, TOKEN, max_retries=0) as client:
            await send(client)

    with pytest.raises(TooManyRedirectsError, match=said):
        asyncio.run(run())


def test_a_redirect_to_another_origin_drops_every_credential(side: Side) -> None:
    synced, awaited = both(side, lambda c: c.request("GET", "away/"))
    for echo in (synced, awaited):
        assert echo["method"] == "GET"
        assert "synapse-access-token" not in echo["headers"]
        assert echo["headers"]["host"] == side.other.split("//")[1]


def test_a_redirect_loop_raises_too_many_redirects(side: Side) -> None:
    async def run() -> None:
        async with AsyncClient(side.url, TOKEN, max_retries=0) as client:
            await client.request("GET", "loop/")

    with pytest.raises(TooManyRedirectsError), Client(side.url, TOKEN, max_retries=0) as sync:
        sync.request("GET", "loop/")
    with pytest.raises(TooManyRedirectsError):
        asyncio.run(run())


async def test_cookies_the_server_sets_are_sent_back(side: Side) -> None:
    async with AsyncClient(side.url, TOKEN) as client:
        assert "cookie" not in (await client.request("GET", "echo/"))["headers"]
        await client.request("GET", "login/")
        assert (await client.request("GET", "echo/"))["headers"]["cookie"] == "session=abc"
    with Client(side.url, TOKEN) as sync:  # the sync session does the same
        sync.request("GET", "login/")
        assert sync.request("GET", "echo/")["headers"]["cookie"] == "session=abc"


def test_a_refused_connection_is_the_same_error() -> None:
    """The OS error's text says "Connect call failed": the async client said the host
    was unreachable where the sync client says the connection was refused."""
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"

    async def awaited() -> None:
        async with AsyncClient(url, TOKEN, max_retries=0) as client:
            await client.request("GET", "anything/")

    with pytest.raises(ClientConnectionError, match="connection refused"):
        asyncio.run(awaited())
    with (
        pytest.raises(ClientConnectionError, match="connection refused"),
        Client(url, TOKEN, max_retries=0) as sync,
    ):
        sync.request("GET", "anything/")


def test_a_read_timeout_is_the_same_error(side: Side) -> None:
    async def awaited() -> None:
        async with AsyncClient(side.url, TOKEN, max_retries=0, timeout=(5, 0.05)) as client:
            await client.request("GET", "hang/")

    with pytest.raises(ClientTimeoutError, match=r"read timeout \(>0.05s\)"):
        asyncio.run(awaited())
    with (
        pytest.raises(ClientTimeoutError, match=r"read timeout \(>0.05s\)"),
        Client(side.url, TOKEN, max_retries=0, timeout=(5, 0.05)) as sync,
    ):
        sync.request("GET", "hang/")


async def test_the_pool_bounds_its_connections_and_reuses_them(
    synapse_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    connect = aio_http._Backend.connect_tcp

    async def counting(self: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        opened.append(host)
        return await connect(self, host, port, *args, **kwargs)

    monkeypatch.setattr(aio_http._Backend, "connect_tcp", counting)
    http = HttpxTransport(origin(synapse_backend.url), max_connections=3)
    client = AsyncClient(synapse_backend.url, synapse_backend.token, transport=http)
    async with client:
        counts = await asyncio.gather(*(client.projects.acount() for _ in range(12)))
        assert len(set(counts)) == 1
        assert 1 <= len(opened) <= 3  # 12 at once, never more than 3 connections
        before = len(opened)
        for _ in range(5):
            await client.projects.acount()
        assert len(opened) == before  # kept alive and reused
        pool = http.sender(httpx.URL(synapse_backend.url))
        assert isinstance(pool, aio_http._PooledTransport)


async def test_idle_connections_past_the_keep_alive_limit_are_closed(side: Side) -> None:
    """25 requests held open together need 25 connections; once they are answered,
    the pool keeps at most 20 of them idle (httpx's default keep-alive limit)."""
    side.gate = threading.Barrier(25)
    http = HttpxTransport(origin(side.url))
    async with AsyncClient(side.url, TOKEN, transport=http) as client:
        answers = await asyncio.gather(*(client.request("GET", "gated/") for _ in range(25)))
        assert answers == [{"ok": True}] * 25
        await client.request("GET", "echo/")  # the pool tidies up before each request
        pool = http.sender(httpx.URL(side.url))._pool  # type: ignore[attr-defined]
        connections = pool.connections
        assert 1 <= len(connections) <= 20
        assert sum(c.is_idle() for c in connections) <= 20


def test_a_proxy_in_the_environment_gets_httpx_own_transport(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.test:3128")
    monkeypatch.setenv("NO_PROXY", "direct.test")
    http = HttpxTransport(("https", "api.test", None))

    async def senders() -> tuple[Any, Any]:
        return http.sender(httpx.URL("https://api.test/x")), http.sender(
            httpx.URL("https://direct.test/x")
        )

    proxied, direct = asyncio.run(senders())
    assert isinstance(direct, aio_http._PooledTransport)
    assert not isinstance(proxied, aio_http._PooledTransport)
    assert isinstance(proxied._pool, httpcore.AsyncHTTPProxy)


async def test_aclose_closes_an_injected_httpx_transport(synapse_backend: LocalBackend) -> None:
    closed: list[bool] = []

    class Closing(httpx.AsyncHTTPTransport):
        async def aclose(self) -> None:
            closed.append(True)
            await super().aclose()

    client = AsyncClient(synapse_backend.url, synapse_backend.token, transport=Closing())
    async with client:
        assert await client.projects.acount() >= 0
    assert closed == [True]


async def test_the_default_pool_is_the_linear_one_on_httpcore_1_0(
    synapse_backend: LocalBackend,
) -> None:
    http = HttpxTransport(origin(synapse_backend.url))
    async with AsyncClient(synapse_backend.url, synapse_backend.token, transport=http) as client:
        await client.projects.acount()
        pool = http.sender(httpx.URL(synapse_backend.url))._pool  # type: ignore[attr-defined]
    expected = (
        aio_http._Pool if httpcore.__version__.startswith("1.0.") else httpcore.AsyncConnectionPool
    )
    assert type(pool) is expected
    assert pool.connections == []  # closed with the client


def test_a_streamed_body_read_again_after_a_broken_off_read_is_the_sdks_error(
    side: Side,
) -> None:
    """It was httpx's StreamConsumed, outside the SDK's errors."""

    async def run() -> None:
        async with AsyncClient(side.url, TOKEN, max_retries=0) as client:
            request = Request("GET", f"{side.url}/echo/", stream=True)
            answer = await client.atransport.http.handle(request)
            pieces = answer.aiter_bytes(1)
            await pieces.__anext__()
            await pieces.aclose()
            with pytest.raises(TransportError, match="already read"):
                await answer.aread()

    asyncio.run(run())
