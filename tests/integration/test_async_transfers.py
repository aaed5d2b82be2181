"""Async transfers against the local backend over real HTTP: the sync engines' protocol
and resume journal, awaited; many uploads truly bounded (issue 22)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from pathlib import Path
from typing import Any

import pytest
import requests

from synapse import Client, ClientError, InvalidInputError
from synapse.aio import AsyncClient
from synapse.aio.http import AsyncResponse, HttpxTransport
from synapse.http import Request
from synapse.local import LocalBackend
from synapse.urls import origin

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("journal_in_tmp")]

KIB = 1024


class Interrupted(Exception):
    """Plays a crash in the middle of an upload."""


def make_file(path: Path, size: int, seed: int = 1) -> Path:
    path.write_bytes(bytes((i * 31 + seed) % 251 for i in range(size)))
    return path


def chunk_puts(backend: LocalBackend) -> list[str]:
    return [
        r.content_range or ""
        for r in backend.requests
        if r.method == "PUT" and r.path.startswith("/chunked_upload/")
    ]


def ranges(chunks: range | tuple[int, ...], size: int, total: int) -> list[str]:
    return [f"bytes {i * size}-{(i + 1) * size - 1}/{total}" for i in chunks]


def stop_after(done_bytes: int) -> Any:
    def progress(done: int, total: int) -> None:
        if done >= done_bytes:
            raise Interrupted

    return progress


def quiet(client: AsyncClient) -> AsyncClient:
    client.transport.policy = dataclasses.replace(client.transport.policy, sleep=lambda s: None)
    return client


async def test_chunked_upload_awaited(synapse_backend: LocalBackend, tmp_path: Path) -> None:
    source = make_file(tmp_path / "a.bin", 300 * KIB)
    async with AsyncClient(synapse_backend.url, synapse_backend.token) as client:
        upload = await client.chunked_upload(source, chunk_size=64 * KIB)
    assert upload["checksum"] == hashlib.md5(source.read_bytes()).hexdigest()
    assert requests.get(upload["file"], timeout=10).content == source.read_bytes()
    assert len(chunk_puts(synapse_backend)) == 5


async def test_an_upload_begun_by_the_sync_client_resumes_in_the_async_one(
    synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "r.bin", 500 * KIB)
    sync = Client(synapse_backend.url, synapse_backend.token)
    with pytest.raises(Interrupted):
        sync.chunked_upload(
            source, chunk_size=100 * KIB, resume=True, on_progress=stop_after(300 * KIB)
        )
    assert chunk_puts(synapse_backend) == ranges(range(3), 100 * KIB, 500 * KIB)
    synapse_backend.clear_requests()
    async with AsyncClient(synapse_backend.url, synapse_backend.token) as client:
        upload = await client.chunked_upload(source, chunk_size=100 * KIB, resume=True)
    assert chunk_puts(synapse_backend) == ranges((3, 4), 100 * KIB, 500 * KIB)
    assert requests.get(upload["file"], timeout=10).content == source.read_bytes()
    assert not list((tmp_path / "cache" / "uploads").glob("*.json"))  # journal cleared


async def test_an_upload_begun_by_the_async_client_resumes_in_the_sync_one(
    synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "r2.bin", 400 * KIB)
    async with AsyncClient(synapse_backend.url, synapse_backend.token) as client:
        with pytest.raises(Interrupted):
            await client.chunked_upload(
                source, chunk_size=100 * KIB, resume=True, on_progress=stop_after(100 * KIB)
            )
    assert chunk_puts(synapse_backend) == ranges(range(1), 100 * KIB, 400 * KIB)
    upload = await sync_resumes(synapse_backend, source, 100 * KIB)
    assert chunk_puts(synapse_backend) == ranges((1, 2, 3), 100 * KIB, 400 * KIB)
    assert requests.get(upload["file"], timeout=10).content == source.read_bytes()


async def sync_resumes(backend: LocalBackend, source: Path, chunk: int) -> dict[str, Any]:
    """The sync client (on a thread of the test's, not the SDK's) runs the same upload
    again with ``resume=True``; the backend's request log starts afresh."""
    backend.clear_requests()
    client = Client(backend.url, backend.token)
    return await asyncio.to_thread(client.chunked_upload, source, chunk_size=chunk, resume=True)


async def test_download_resumes_with_range_after_a_drop(
    synapse_backend: LocalBackend, synapse_client: Client, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "d.bin", 200 * KIB)
    data_file = synapse_client.data_files.create(source)
    assert data_file.file is not None
    synapse_backend.set_faults(drop_download_after=150 * KIB)
    synapse_backend.clear_requests()
    async with quiet(AsyncClient(synapse_backend.url, synapse_backend.token)) as client:
        saved = await client.download(data_file.file, tmp_path / "copy.bin")
    assert saved.read_bytes() == source.read_bytes()
    gets = [r for r in synapse_backend.requests if r.path.startswith("/media/")]
    assert [g.status for g in gets] == [None, 206]
    resumed_at = int((gets[1].range or "bytes=0-")[6:-1])
    assert 64 * KIB <= resumed_at <= 150 * KIB  # only what was lost is fetched again


class Counting:
    """An async HTTP transport in front of httpx that counts requests in flight; the
    first ones wait until ``gate`` are in flight together (so the bound is reached, and
    any request past it would show)."""

    def __init__(self, inner: HttpxTransport, gate: int) -> None:
        self.inner = inner
        self.gate = gate
        self.now = 0
        self.peak = 0
        self.sent = 0
        self.reached = asyncio.Event()

    async def handle(self, request: Request) -> AsyncResponse:
        self.now += 1
        self.sent += 1
        self.peak = max(self.peak, self.now)
        try:
            if self.now >= self.gate:
                self.reached.set()
            await self.reached.wait()
            return await self.inner.handle(request)
        finally:
            self.now -= 1

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.mark.parametrize(("count", "concurrency"), [(6, 2), (3, 5), (5, 1)])
async def test_many_uploads_keep_at_most_the_limit_in_flight(
    synapse_backend: LocalBackend, tmp_path: Path, count: int, concurrency: int
) -> None:
    files = [make_file(tmp_path / f"m{i}.bin", 150 * KIB, seed=i) for i in range(count)]
    bound = min(count, concurrency)
    counting = Counting(HttpxTransport(origin(synapse_backend.url)), gate=bound)
    async with AsyncClient(synapse_backend.url, synapse_backend.token, transport=counting) as c:
        uploads = await c.chunked_upload_many(files, concurrency=concurrency, chunk_size=64 * KIB)
    assert counting.peak == bound  # reached, never passed
    assert counting.sent == count * 4  # three chunks and a finalize each
    assert [u["checksum"] for u in uploads] == [
        hashlib.md5(f.read_bytes()).hexdigest() for f in files
    ]


async def test_a_bad_path_among_many_fails_before_any_request(
    synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    good = make_file(tmp_path / "g.bin", 10 * KIB)
    synapse_backend.clear_requests()
    async with AsyncClient(synapse_backend.url, synapse_backend.token) as client:
        with pytest.raises(InvalidInputError, match="file not found"):
            await client.chunked_upload_many([good, tmp_path / "missing.bin"])
    assert synapse_backend.requests == []


class Blocking:
    """In front of httpx: request number ``at`` (1-based) waits on ``release`` before it
    is sent; a streamed answer waits after its first piece instead. Counts the requests
    sent and the answers still open."""

    def __init__(self, inner: HttpxTransport, at: int) -> None:
        self.inner = inner
        self.at = at
        self.sent: list[tuple[str, str | None]] = []
        self.open = 0
        self.blocked = asyncio.Event()
        self.release = asyncio.Event()

    async def handle(self, request: Request) -> AsyncResponse:
        self.sent.append((request.method, request.headers.get("Content-Range")))
        self.open += 1
        try:
            if len(self.sent) == self.at and not request.stream:
                self.blocked.set()
                await self.release.wait()
            response = await self.inner.handle(request)
        except BaseException:
            self.open -= 1
            raise
        if not request.stream:
            self.open -= 1
            return response

        async def stream(size: int) -> Any:
            pieces = response.aiter_bytes(size)
            yield await anext(pieces)
            self.blocked.set()
            await self.release.wait()
            async for piece in pieces:
                yield piece

        async def close() -> None:
            self.open -= 1
            await response.aclose()

        return AsyncResponse(
            response.status_code,
            headers=response.headers,
            url=response.url,
            stream=stream,
            on_close=close,
        )

    async def aclose(self) -> None:
        await self.inner.aclose()


def threadless(client: AsyncClient, monkeypatch: pytest.MonkeyPatch) -> AsyncClient:
    """The client with its worker-thread paths refusing: a transfer must not use them."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a transfer used a worker thread")

    monkeypatch.setattr(asyncio, "to_thread", refuse)
    monkeypatch.setattr(client._bridge, "handle", refuse)
    return client


async def until_blocked(blocking: Blocking, task: asyncio.Future[Any]) -> None:
    """Wait until the transfer is held at the blocking request; fail (not hang) if it
    ended first."""
    waiter = asyncio.ensure_future(blocking.blocked.wait())
    await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    assert not task.done(), task.exception()


async def settle() -> None:
    """Give whatever might still be running many turns of the loop (no wall clock)."""
    loop = asyncio.get_running_loop()
    for _ in range(50):
        turn = loop.create_future()
        loop.call_soon(turn.set_result, None)
        await turn


async def cancel_mid_upload(
    client: AsyncClient, blocking: Blocking, source: Path, before: set[asyncio.Task[Any]]
) -> None:
    """Start an upload, cancel it while its third chunk is in flight, and check that
    nothing is left running or sending."""
    async with client:
        task = asyncio.ensure_future(
            client.chunked_upload(source, chunk_size=100 * KIB, resume=True)
        )
        await until_blocked(blocking, task)  # the third chunk is in flight
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert blocking.open == 0  # nothing in flight
        assert asyncio.all_tasks() == before  # nothing left running
        assert not client._transfers
        blocking.release.set()
        await settle()
        assert blocking.sent == [("PUT", r) for r in ranges(range(3), 100 * KIB, 500 * KIB)]


async def test_cancelling_an_upload_stops_it_and_the_sync_client_resumes_it(
    synapse_backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = asyncio.all_tasks()  # the test runner's own
    source = make_file(tmp_path / "c.bin", 500 * KIB)
    blocking = Blocking(HttpxTransport(origin(synapse_backend.url)), at=3)
    client = AsyncClient(synapse_backend.url, synapse_backend.token, transport=blocking)
    with monkeypatch.context() as patched:
        await cancel_mid_upload(threadless(client, patched), blocking, source, before)
    assert chunk_puts(synapse_backend) == ranges(range(2), 100 * KIB, 500 * KIB)
    upload = await sync_resumes(synapse_backend, source, 100 * KIB)
    assert chunk_puts(synapse_backend) == ranges((2, 3, 4), 100 * KIB, 500 * KIB)
    assert upload["checksum"] == hashlib.md5(source.read_bytes()).hexdigest()


async def test_aclose_during_an_upload_stops_it_with_a_clear_error(
    synapse_backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = asyncio.all_tasks()  # the test runner's own
    source = make_file(tmp_path / "x.bin", 300 * KIB)
    blocking = Blocking(HttpxTransport(origin(synapse_backend.url)), at=2)
    client = threadless(
        AsyncClient(synapse_backend.url, synapse_backend.token, transport=blocking), monkeypatch
    )
    task = asyncio.ensure_future(client.chunked_upload(source, chunk_size=100 * KIB))
    await until_blocked(blocking, task)
    await client.aclose()
    assert task.done()  # aclose() waited until it stopped
    with pytest.raises(ClientError, match="closed while this transfer"):
        await task
    assert blocking.open == 0
    assert asyncio.all_tasks() == before
    blocking.release.set()
    await settle()
    assert len(blocking.sent) == 2
    assert chunk_puts(synapse_backend) == ranges(range(1), 100 * KIB, 300 * KIB)


async def test_cancelling_a_download_stops_it_and_leaves_no_partial_file(
    synapse_backend: LocalBackend,
    synapse_client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = asyncio.all_tasks()  # the test runner's own
    source = make_file(tmp_path / "big.bin", 600 * KIB)
    data_file = synapse_client.data_files.create(source)
    assert data_file.file is not None
    out = tmp_path / "out"
    blocking = Blocking(HttpxTransport(origin(synapse_backend.url)), at=0)
    client = AsyncClient(synapse_backend.url, synapse_backend.token, transport=blocking)
    async with threadless(client, monkeypatch):
        task = asyncio.ensure_future(client.download(data_file.file, out / "copy.bin"))
        await until_blocked(blocking, task)  # the first piece is on disk, the rest is coming
        assert next(p.name for p in out.iterdir()).endswith(".part")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert blocking.open == 0  # the answer was closed
        assert asyncio.all_tasks() == before
        assert list(out.iterdir()) == []  # no partial file, no destination
        blocking.release.set()
        await settle()
        assert len(blocking.sent) == 1


async def test_a_download_is_awaited_without_a_thread(
    synapse_backend: LocalBackend,
    synapse_client: Client,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = make_file(tmp_path / "s.bin", 300 * KIB)
    data_file = synapse_client.data_files.create(source)
    assert data_file.file is not None
    checksum = hashlib.sha256(source.read_bytes()).hexdigest()
    client = AsyncClient(synapse_backend.url, synapse_backend.token)
    async with threadless(client, monkeypatch):
        saved = await client.download(
            data_file.file, tmp_path / "s2.bin", size=300 * KIB, checksum=checksum
        )
        assert saved.read_bytes() == source.read_bytes()
        with pytest.raises(ClientError, match="sha256"):
            await client.download(data_file.file, tmp_path / "s3.bin", checksum="0" * 64)
    assert not (tmp_path / "s3.bin").exists()


async def test_a_data_file_and_a_model_made_from_files_upload_on_the_loop(
    synapse_backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_file(tmp_path / "big.bin", 300 * KIB)
    client = threadless(AsyncClient(synapse_backend.url, synapse_backend.token), monkeypatch)
    async with client:
        data_file = await client.data_files.acreate(file=source, chunked=True, chunk_size=100 * KIB)
        model = await client.models.acreate(name="m", file=source)
        again = await client.data_files.aget(data_file.id)
    assert again.checksum == hashlib.md5(source.read_bytes()).hexdigest()
    assert len(chunk_puts(synapse_backend)) == 3 + 1  # three chunks, then the model's one
    assert model.file is not None
    assert Client(synapse_backend.url, synapse_backend.token).models.get(model.id).file


async def test_aclose_while_a_data_file_uploads_makes_no_data_file(
    synapse_backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = make_file(tmp_path / "big.bin", 300 * KIB)
    blocking = Blocking(HttpxTransport(origin(synapse_backend.url)), at=2)
    client = threadless(
        AsyncClient(synapse_backend.url, synapse_backend.token, transport=blocking), monkeypatch
    )
    task = asyncio.ensure_future(
        client.data_files.acreate(file=source, chunked=True, chunk_size=100 * KIB)
    )
    await until_blocked(blocking, task)
    await client.aclose()
    with pytest.raises(ClientError, match="closed while this transfer"):
        await task
    blocking.release.set()
    await settle()
    assert [method for method, _ in blocking.sent] == ["PUT", "PUT"]  # no POST data_files/
    assert [r.path for r in synapse_backend.requests if r.method == "POST"] == []
