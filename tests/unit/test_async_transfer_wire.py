"""The async chunked upload's requests, pinned with ``respx``: the same protocol steps as
the sync client's (one generator drives both), awaited, with no worker thread (issue 22)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import responses
import respx
from hypothesis import given
from hypothesis import strategies as st

from synapse import Client, ClientConnectionError, ClientResponseIncompleteError, ValidationError
from synapse.aio import AsyncClient, AsyncMockTransport
from synapse.http import Request, Response
from tests.conftest import AGENT, BASE, TOKEN, waits_with

pytestmark = pytest.mark.anyio

UPLOAD = f"{BASE}/chunked_upload/"
STATE = f"{BASE}/chunked_upload/u1/"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"0123456789")
    return path


class NoThreads(concurrent.futures.ThreadPoolExecutor):
    """A loop's default executor that refuses work: `asyncio.to_thread` fails with it."""

    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a transfer used a worker thread")


def make(sleeps: list[float] | None = None) -> AsyncClient:
    client = AsyncClient(BASE, TOKEN, tenant="acme", agent_token=AGENT)
    record = sleeps.append if sleeps is not None else (lambda s: None)
    client.transport.policy = dataclasses.replace(client.transport.policy, sleep=record)
    return client


def ok(payload: Any) -> httpx.Response:
    return httpx.Response(200, json=payload)


@respx.mock
async def test_chunks_and_finalize(source: Path) -> None:
    asyncio.get_running_loop().set_default_executor(NoThreads())
    first = respx.put(UPLOAD).mock(return_value=ok({"id": "u1", "url": STATE, "offset": 4}))
    rest = respx.put(STATE).mock(
        side_effect=[
            ok({"id": "u1", "url": STATE, "offset": 8}),
            ok({"id": "u1", "url": STATE, "offset": 10}),
        ]
    )
    finalize = respx.post(STATE).mock(return_value=ok({"id": "u1", "completed_at": "now"}))
    async with make() as client:
        result = await client.chunked_upload(source, chunk_size=4, resume=False)
    assert result == {"id": "u1", "completed_at": "now"}
    puts = [first.calls[0].request, *(c.request for c in rest.calls)]
    assert [p.headers["Content-Range"] for p in puts] == [
        "bytes 0-3/10",
        "bytes 4-7/10",
        "bytes 8-9/10",
    ]
    sent = puts[0]
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert sent.headers["Synapse-Access-Token"] == f"Token {TOKEN}"
    body = sent.read()
    assert sent.headers["Content-Length"] == str(len(body))  # a sized body, not chunked
    assert "Transfer-Encoding" not in sent.headers
    assert b'name="filename"\r\n\r\nweights.bin\r\n' in body
    assert b'name="file"; filename="file"\r\n\r\n0123\r\n' in body
    assert b"\r\n4567\r\n" in rest.calls[0].request.read()
    posted = finalize.calls.last.request
    assert json.loads(posted.read()) == {"md5": hashlib.md5(b"0123456789").hexdigest()}
    assert posted.headers["Content-Type"] == "application/json"


@respx.mock
async def test_an_ambiguous_chunk_asks_where_the_server_stands_and_awaits_the_wait(
    source: Path,
) -> None:
    sleeps: list[float] = []
    respx.put(UPLOAD).mock(return_value=ok({"id": "u1", "url": STATE, "offset": 4}))
    respx.put(STATE).mock(
        side_effect=[
            httpx.ReadError("connection reset"),
            ok({"id": "u1", "offset": 10, "url": STATE}),
        ]
    )
    state = respx.get(STATE).mock(return_value=ok({"id": "u1", "offset": 8}))
    respx.post(STATE).mock(return_value=ok({"id": "u1"}))
    async with make(sleeps) as client:
        await client.chunked_upload(source, chunk_size=4, resume=False)
    sent = [(c.request.method, c.request.headers.get("Content-Range")) for c in respx.calls]
    assert sent == [
        ("PUT", "bytes 0-3/10"),
        ("PUT", "bytes 4-7/10"),
        ("GET", None),
        ("PUT", "bytes 8-9/10"),
        ("POST", None),
    ]
    assert state.call_count == 1
    assert len(sleeps) == 1
    assert json.loads(respx.calls.last.request.read()) == {
        "md5": hashlib.md5(b"0123456789").hexdigest()
    }


@respx.mock
async def test_a_delivered_finalize_is_never_sent_twice(source: Path) -> None:
    sleeps: list[float] = []
    respx.put(UPLOAD).mock(return_value=ok({"id": "u1", "url": STATE, "offset": 10}))
    respx.post(STATE).mock(side_effect=httpx.ReadTimeout("read timed out"))
    respx.get(STATE).mock(return_value=ok({"id": "u1", "offset": 10, "completed_at": None}))
    async with make(sleeps) as client:
        with pytest.raises(ClientResponseIncompleteError, match="may have applied"):
            await client.chunked_upload(source, chunk_size=16, resume=False)
        retries = client.transport.policy.max_retries
    assert [c.request.method for c in respx.calls] == ["PUT", "POST"] + ["GET"] * (1 + retries)
    assert len(sleeps) == retries


@respx.mock
async def test_an_empty_file_is_one_finalize(tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    route = respx.post(UPLOAD).mock(return_value=ok({"id": "u0", "completed_at": "t"}))
    async with make() as client:
        await client.chunked_upload(empty)
    assert [c.request.method for c in respx.calls] == ["POST"]
    assert json.loads(route.calls.last.request.read()) == {
        "md5": hashlib.md5(b"").hexdigest(),
        "filename": "empty.bin",
    }


class FakeUploads:
    """A chunked-upload server in a few lines; ``fail`` names the requests (by number)
    whose connection breaks after they were sent, before they were applied."""

    def __init__(self, fail: set[int]) -> None:
        self.fail = fail
        self.data = bytearray()
        self.seen: list[tuple[str, str | None]] = []

    def answer(self, method: str, headers: Any, body: bytes) -> tuple[int, Any] | None:
        self.seen.append((method, headers.get("Content-Range")))
        if len(self.seen) - 1 in self.fail:
            return None
        if method == "GET":
            return 200, {"id": "u1", "offset": len(self.data), "completed_at": None}
        if method == "POST":
            md5 = json.loads(body)["md5"]
            if md5 != hashlib.md5(self.data).hexdigest():
                return 400, {"md5": ["mismatch"]}
            return 200, {"id": "u1", "checksum": md5, "completed_at": "t"}
        match = re.match(r"bytes (\d+)-(\d+)/(\d+)", headers["Content-Range"])
        assert match is not None
        if int(match[1]) != len(self.data):
            return 400, {"detail": "Offsets do not match", "offset": len(self.data)}
        start = body.index(b'filename="file"\r\n\r\n') + len(b'filename="file"\r\n\r\n')
        self.data += body[start : body.rindex(b"\r\n--")]
        return 200, {"id": "u1", "url": STATE, "offset": len(self.data)}


def outcome(run: Any) -> Any:
    try:
        return run()
    except Exception as exc:  # the outcome compared is the error type
        return type(exc).__name__


@given(
    content=st.binary(min_size=1, max_size=40),
    chunk=st.integers(1, 12),
    fail=st.sets(st.integers(0, 12), max_size=3),
)
def test_both_clients_send_the_same_steps_under_the_same_faults(
    tmp_path_factory: pytest.TempPathFactory, content: bytes, chunk: int, fail: set[int]
) -> None:
    """One protocol, two drivers: the same requests, the same waits, the same outcome."""
    path = tmp_path_factory.mktemp("same") / "f.bin"
    path.write_bytes(content)

    sync_server, sync_sleeps = FakeUploads(fail), list[float]()

    def sync_callback(request: Any) -> Any:
        body = request.body.read() if hasattr(request.body, "read") else request.body
        got = sync_server.answer(request.method, request.headers, body or b"")
        if got is None:
            return 0, {}, requests.exceptions.ConnectionError("Connection aborted.")
        return got[0], {}, json.dumps(got[1])

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        for method in ("PUT", "GET", "POST"):
            mocked.add_callback(method, re.compile(f"{UPLOAD}.*"), callback=sync_callback)
        client = waits_with(Client(BASE, TOKEN), sync_sleeps.append)
        sync_result = outcome(lambda: client.chunked_upload(path, chunk_size=chunk, resume=False))

    async_server, async_sleeps = FakeUploads(fail), list[float]()

    def async_side_effect(request: httpx.Request) -> httpx.Response:
        got = async_server.answer(request.method, request.headers, request.read())
        if got is None:
            raise httpx.ReadError("connection reset")
        return httpx.Response(got[0], json=got[1])

    async def run_async() -> Any:
        async with make(async_sleeps) as aclient:
            try:
                return await aclient.chunked_upload(path, chunk_size=chunk, resume=False)
            except Exception as exc:  # as `outcome`
                return type(exc).__name__

    with respx.mock(assert_all_called=False) as router:
        router.route(url__startswith=UPLOAD).mock(side_effect=async_side_effect)
        async_result = asyncio.run(run_async())

    assert async_server.seen == sync_server.seen
    assert async_result == sync_result
    assert len(async_sleeps) == len(sync_sleeps)
    if isinstance(sync_result, dict):
        assert sync_result["checksum"] == hashlib.md5(content).hexdigest()
    assert isinstance(sync_result, dict) or sync_result in {
        ClientConnectionError.__name__,
        ClientResponseIncompleteError.__name__,
    }


class Cut(httpx.AsyncByteStream):
    """A body that breaks off after ``data``."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    async def __aiter__(self) -> Any:
        yield self.data
        raise httpx.ReadError("connection reset")


@respx.mock
async def test_a_download_resumes_with_range_and_takes_no_credentials_off_origin(
    tmp_path: Path,
) -> None:
    asyncio.get_running_loop().set_default_executor(NoThreads())
    data = bytes(range(256)) * 1024
    url = "https://cdn.example.com/media/f.bin?signature=s"

    def serve(request: httpx.Request) -> httpx.Response:
        if "Range" not in request.headers:  # the whole file, cut after 200,000 bytes
            headers = {"Content-Length": str(len(data)), "ETag": '"v1"'}
            return httpx.Response(200, headers=headers, stream=Cut(data[:200_000]))
        start = int(request.headers["Range"][6:-1])
        rest = f"bytes {start}-{len(data) - 1}/{len(data)}"
        return httpx.Response(
            206, headers={"Content-Range": rest, "ETag": '"v1"'}, content=data[start:]
        )

    route = respx.get(url).mock(side_effect=serve)
    async with make() as client:
        saved = await client.download(url, tmp_path / "f.bin", size=len(data))
    assert saved.read_bytes() == data
    first, second = (call.request for call in route.calls)
    assert "Range" not in first.headers
    resumed_at = int(second.headers["Range"][6:-1])
    assert 0 < resumed_at <= 200_000  # only what was lost is fetched again
    assert second.headers["If-Range"] == '"v1"'
    for sent in (first, second):
        assert not {"Synapse-Access-Token", "Synapse-Tenant", "SYNAPSE-Agent"} & set(sent.headers)
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]  # no partial file left


async def test_one_failed_upload_among_many_stops_the_others(tmp_path: Path) -> None:
    """The other uploads are held at their first chunk; the failure of one ends them all:
    nothing is left running or in flight."""
    before = asyncio.all_tasks()
    files = [tmp_path / name for name in ("a.bin", "bad.bin", "c.bin")]
    for file in files:
        file.write_bytes(b"x" * 10)
    others_held, never = asyncio.Event(), asyncio.Event()
    in_flight = held = 0

    async def handler(request: Request) -> Response:
        nonlocal in_flight, held
        in_flight += 1
        try:
            if b'name="filename"\r\n\r\nbad.bin\r\n' in (request.content or b""):
                await others_held.wait()  # fail once the other two are in flight
                return Response(400, json={"detail": "refused"})
            held += 1
            if held == 2:
                others_held.set()
            await never.wait()
            raise AssertionError("unreachable")
        finally:
            in_flight -= 1

    client = AsyncClient(BASE, TOKEN, transport=AsyncMockTransport(handler))
    async with client:
        with pytest.raises(ValidationError, match="refused"):
            await client.chunked_upload_many(files, concurrency=3, chunk_size=4)
        assert in_flight == 0
        assert asyncio.all_tasks() == before
    assert len(client.atransport.http.requests) == 3  # type: ignore[attr-defined]


def test_hashing_a_resumed_prefix_pauses_after_every_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from synapse import steps, uploads

    monkeypatch.setattr(uploads, "READ_BLOCK", 4)
    path = tmp_path / "prefix.bin"
    path.write_bytes(b"0123456789abc")
    hasher = hashlib.md5()
    yielded = list(uploads._hash_range(path, hasher, 1, 11))
    assert yielded == [steps.PAUSE] * 3  # 4 + 4 + 2 bytes
    assert hasher.hexdigest() == hashlib.md5(b"123456789a").hexdigest()


async def test_a_pause_gives_the_event_loop_a_turn_and_nothing_else() -> None:
    from synapse.aio.transfers import arun_steps
    from synapse.steps import PAUSE, run_steps

    order: list[str] = []

    def work() -> Any:
        for n in range(3):
            order.append(f"slice {n}")
            yield PAUSE
        return "done"

    async def other() -> None:
        for n in range(3):
            order.append(f"other {n}")
            await asyncio.sleep(0)

    async def nothing(_: float) -> None:
        raise AssertionError("a pause is not a wait")

    async def send(_: Any) -> Any:
        raise AssertionError("a pause sends nothing")

    ticker = asyncio.ensure_future(other())
    assert await arun_steps(work(), nothing, send) == "done"
    await ticker
    assert order[:4] == ["slice 0", "other 0", "slice 1", "other 1"]  # interleaved
    order.clear()
    assert run_steps(work(), lambda s: order.append("wait"), lambda s: order.append("send")) == (
        "done"
    )
    assert order == ["slice 0", "slice 1", "slice 2"]  # the blocking loop just goes on
