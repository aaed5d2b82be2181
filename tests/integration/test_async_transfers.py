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

from synapse import Client
from synapse.aio import AsyncClient
from synapse.aio.http import AsyncResponse, HttpxTransport
from synapse.http import Request
from synapse.local import LocalBackend
from synapse.urls import origin

pytestmark = pytest.mark.anyio

KIB = 1024


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _journal_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SYNAPSE_CACHE_DIR", str(tmp_path / "cache"))


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
    synapse_backend.clear_requests()
    upload = await asyncio.to_thread(
        Client(synapse_backend.url, synapse_backend.token).chunked_upload,
        source,
        chunk_size=100 * KIB,
        resume=True,
    )
    assert chunk_puts(synapse_backend) == ranges((1, 2, 3), 100 * KIB, 400 * KIB)
    assert requests.get(upload["file"], timeout=10).content == source.read_bytes()


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


async def test_many_uploads_keep_at_most_the_limit_in_flight(
    synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    files = [make_file(tmp_path / f"m{i}.bin", 150 * KIB, seed=i) for i in range(6)]
    counting = Counting(HttpxTransport(origin(synapse_backend.url)), gate=2)
    async with AsyncClient(synapse_backend.url, synapse_backend.token, transport=counting) as c:
        uploads = await c.chunked_upload_many(files, concurrency=2, chunk_size=64 * KIB)
    assert counting.peak == 2
    assert counting.sent >= 6 * 4  # three chunks and a finalize each
    assert [u["checksum"] for u in uploads] == [
        hashlib.md5(f.read_bytes()).hexdigest() for f in files
    ]
