"""The AsyncClient's kind-specific creations over real HTTP, with no worker thread: a
task, a storage and a plugin release (each kind's own ``create``), the batched
``bulk_create`` of tasks and data units, and ``DataCollection.aupload_many``; each is
the sync method's steps awaited, and a cancellation or ``aclose()`` stops it with
nothing sent after (issue 22, item 4)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import requests

from synapse import Client, ClientError, InvalidInputError
from synapse.aio import AsyncClient
from synapse.aio.http import HttpxTransport
from synapse.local import LocalBackend
from synapse.urls import origin
from tests.integration.test_async_transfers import (
    Blocking,
    make_file,
    settle,
    threadless,
    until_blocked,
)

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("journal_in_tmp")]

KIB = 1024


def native(backend: LocalBackend, monkeypatch: pytest.MonkeyPatch, **options: Any) -> AsyncClient:
    """An async client whose worker-thread paths refuse: what it does is on the loop."""
    return threadless(AsyncClient(backend.url, backend.token, **options), monkeypatch)


async def test_a_task_a_storage_and_a_release_with_its_archive_are_created_natively(
    synapse_backend: LocalBackend,
    demo: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    archive = make_file(tmp_path / "plugin.zip", 5 * KIB)
    plugin_id = demo["plugins"]["coco-export"]
    async with native(synapse_backend, monkeypatch) as client:
        unit = await client.data_units.filter(data_collection=demo["data_collection"]).afirst()
        assert unit is not None
        task = await client.tasks.acreate(project=demo["project"], data_unit=unit, meta={"n": 1})
        assert (await client.tasks.aget(task.id)).meta == {"n": 1}
        assert task.data_unit_id == unit.id

        storage = await client.storages.acreate(
            name="Bucket", provider="amazon_s3", category="external"
        )
        assert (await client.storages.aget(storage.id)).name == "Bucket"

        release = await client.plugin_releases.acreate(
            plugin=plugin_id,  # by id: its code is looked up first, natively too
            version="3.0.0",
            file=archive,
            config={"code": "coco-export"},
            requirements=["numpy", "pillow"],
        )
        stored = await client.plugin_releases.aget(release.id)
        assert (stored.plugin_id, stored.version) == (plugin_id, "3.0.0")
        assert stored.requirements == ["numpy", "pillow"]
        assert stored.file is not None
        assert requests.get(stored.file, timeout=10).content == archive.read_bytes()

        with pytest.raises(InvalidInputError, match="a release needs version="):
            await client.plugin_releases.acreate(plugin=plugin_id, file=archive)
        with pytest.raises(client.plugins.resource.DoesNotExist):
            await client.plugin_releases.acreate(plugin=999_999, version="1.0.0")
    posts = [r.path for r in synapse_backend.requests if r.method == "POST"]
    assert posts.count("/plugin_releases/") == 1  # the refused ones sent no POST


async def test_bulk_created_tasks_and_data_units_exist_with_their_files(
    synapse_backend: LocalBackend,
    demo: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sources = [make_file(tmp_path / f"u{n}.png", 2 * KIB, n) for n in range(3)]
    async with native(synapse_backend, monkeypatch) as client:
        data_files = [await client.data_files.acreate(file=path) for path in sources]
        rows = [
            {
                "data_collection": demo["data_collection"],
                "files": {"image_1": {"checksum": f.checksum, "path": str(p)}},
                "meta": {"n": n},
            }
            for n, (f, p) in enumerate(zip(data_files, sources, strict=True))
        ]
        synapse_backend.clear_requests()
        units = await client.data_units.abulk_create(rows, batch_size=2)
        assert units.ok
        assert [r.path for r in synapse_backend.requests] == ["/data_units/"] * 2  # batches
        for unit, source in zip(units.created, sources, strict=True):
            stored = await client.data_units.aget(unit.id)
            assert stored.files is not None
            entry = stored.files["image_1"]
            assert isinstance(entry, dict)
            assert requests.get(str(entry["url"]), timeout=10).content == source.read_bytes()

        before = await client.tasks.filter(project=demo["project"]).acount()
        items: list[dict[str, Any]] = [
            {"project": demo["project"], "data_unit": unit} for unit in units.created
        ]
        items.insert(1, {"project": demo["project"], "data_unit": 999_999})  # refused alone
        report = await client.tasks.abulk_create(items)
        assert [item.ok for item in report.items] == [True, False, True, True]
        assert [t.data_unit_id for t in report.created] == [u.id for u in units.created]
        assert await client.tasks.filter(project=demo["project"]).acount() == before + 3


async def test_aupload_many_makes_units_with_their_files_and_tasks(
    synapse_backend: LocalBackend,
    demo: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    items: list[dict[str, Any]] = [
        {"files": {"image_1": make_file(tmp_path / f"i{n}.png", KIB, n)}, "meta": {"n": n}}
        for n in range(5)
    ]
    items[2] = {"files": {"image_1": tmp_path / "missing.png"}}
    async with native(synapse_backend, monkeypatch) as client:
        collection = await client.data_collections.aget(demo["data_collection"])
        before = await client.tasks.filter(project=demo["project"]).acount()
        report = await collection.aupload_many(
            items, project=demo["project"], batch_size=2, concurrency=3
        )
        assert [item.ok for item in report.items] == [True, True, False, True, True]
        assert "not found" in str(report.items[2].error)
        for item in report.succeeded:
            assert item.data_unit is not None
            assert item.task is not None
            stored = await client.data_units.aget(item.data_unit.id)
            assert stored.meta == item.item["meta"]
            entry = (stored.files or {})["image_1"]
            assert isinstance(entry, dict)
            sent = requests.get(str(entry["url"]), timeout=10).content
            assert sent == Path(item.item["files"]["image_1"]).read_bytes()
            assert (await client.tasks.aget(item.task.id)).data_unit_id == stored.id
        assert await client.tasks.filter(project=demo["project"]).acount() == before + 4
        with pytest.raises(InvalidInputError, match="concurrency"):
            await collection.aupload_many(items, concurrency=0)


async def test_aupload_many_needs_an_async_client(
    synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    with Client(synapse_backend.url, synapse_backend.token) as sync:
        collection = sync.data_collections.get(demo["data_collection"])
        with pytest.raises(InvalidInputError, match="loaded by an AsyncClient"):
            await collection.aupload_many([])
        with pytest.raises(InvalidInputError, match=r"sync Client: use upload_many\(\)"):
            await sync.data_files.aupload_many([])


def unit_count(backend: LocalBackend) -> int:
    with Client(backend.url, backend.token) as sync:
        return sync.data_units.count()


def upload_items(tmp_path: Path) -> list[dict[str, Any]]:
    return [{"files": {"image_1": make_file(tmp_path / f"c{n}.png", KIB, n)}} for n in range(4)]


async def start_upload_many(
    backend: LocalBackend, demo: dict[str, Any], tmp_path: Path, monkeypatch: Any
) -> tuple[AsyncClient, Blocking, asyncio.Future[Any]]:
    """An ``aupload_many`` of four units, one at a time, held while the second data
    file's POST is in flight (request 1 is the collection's GET)."""
    blocking = Blocking(HttpxTransport(origin(backend.url)), at=3)
    client = threadless(AsyncClient(backend.url, backend.token, transport=blocking), monkeypatch)
    collection = await client.data_collections.aget(demo["data_collection"])
    work = collection.aupload_many(upload_items(tmp_path), project=demo["project"], concurrency=1)
    task = asyncio.ensure_future(work)
    await until_blocked(blocking, task)
    return client, blocking, task


async def test_cancelling_aupload_many_stops_it_and_sends_nothing_after(
    synapse_backend: LocalBackend,
    demo: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = asyncio.all_tasks()  # the test runner's own
    units = unit_count(synapse_backend)
    client, blocking, task = await start_upload_many(synapse_backend, demo, tmp_path, monkeypatch)
    async with client:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert blocking.open == 0  # nothing in flight
        assert asyncio.all_tasks() == before  # nothing left running
        blocking.release.set()
        await settle()
        assert [method for method, _ in blocking.sent] == ["GET", "POST", "POST"]
    assert unit_count(synapse_backend) == units  # no unit was made


async def test_aclose_during_aupload_many_stops_it_with_a_clear_error(
    synapse_backend: LocalBackend,
    demo: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = asyncio.all_tasks()
    client, blocking, task = await start_upload_many(synapse_backend, demo, tmp_path, monkeypatch)
    await client.aclose()
    assert task.done()  # aclose() waited until it stopped
    with pytest.raises(ClientError, match="closed while this transfer"):
        await task
    assert blocking.open == 0
    assert asyncio.all_tasks() == before
    blocking.release.set()
    await settle()
    assert len(blocking.sent) == 3


async def test_data_files_aupload_many_uploads_each_file_and_reports_each(
    synapse_backend: LocalBackend,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = make_file(tmp_path / "small.bin", 3 * KIB, 1)
    big = make_file(tmp_path / "big.bin", 40 * KIB, 2)  # three chunks of 16 KiB
    async with native(synapse_backend, monkeypatch) as client:
        report = await client.data_files.aupload_many(
            [small, big], chunk_size=16 * KIB, chunked=True, concurrency=2
        )
        assert [item.ok for item in report.items] == [True, True]
        for item, path in zip(report.items, (small, big), strict=True):
            assert item.result is not None
            stored = await client.data_files.aget(item.result.id)
            assert stored.file is not None
            assert requests.get(stored.file, timeout=10).content == path.read_bytes()
        with pytest.raises(InvalidInputError, match="not found"):  # checked before sending
            await client.data_files.aupload_many([small, tmp_path / "missing.bin"])
        with pytest.raises(InvalidInputError, match="concurrency"):
            await client.data_files.aupload_many([small], concurrency=0)


async def test_collection_aupload_makes_one_unit_or_raises(
    synapse_backend: LocalBackend,
    demo: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    image = make_file(tmp_path / "one.png", 2 * KIB, 7)
    async with native(synapse_backend, monkeypatch) as client:
        collection = await client.data_collections.aget(demo["data_collection"])
        unit = await collection.aupload({"image_1": image}, meta={"k": 1})
        stored = await client.data_units.aget(unit.id)
        assert stored.meta == {"k": 1}
        entry = (stored.files or {})["image_1"]
        assert isinstance(entry, dict)
        assert requests.get(str(entry["url"]), timeout=10).content == image.read_bytes()
        units = await client.data_units.acount()
        with pytest.raises(InvalidInputError, match="image_9"):  # not a specification
            await collection.aupload({"image_9": image})
        assert await client.data_units.acount() == units


@pytest.mark.parametrize("kind", ["projects", "storages"])
async def test_aclose_during_a_bulk_create_one_at_a_time_stops_every_creation(
    synapse_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """A kind without a batch endpoint creates one object per request; ``aclose()``
    stops them all, not only the one in flight (the rest went on after it returned)."""
    before = asyncio.all_tasks()
    blocking = Blocking(HttpxTransport(origin(synapse_backend.url)), at=2)
    client = threadless(
        AsyncClient(
            synapse_backend.url, synapse_backend.token, transport=blocking, pages_in_flight=1
        ),
        monkeypatch,
    )
    rows = [
        {"title": f"p{n}"} if kind == "projects" else {"name": f"s{n}", "provider": "amazon_s3"}
        for n in range(5)
    ]
    manager = getattr(client, kind)
    with Client(synapse_backend.url, synapse_backend.token) as sync:
        count = getattr(sync, kind).count()
    task = asyncio.ensure_future(manager.abulk_create(rows))
    await until_blocked(blocking, task)
    await client.aclose()
    assert task.done()  # aclose() waited until it stopped
    with pytest.raises(ClientError, match="closed while this transfer"):
        await task
    assert asyncio.all_tasks() == before
    blocking.release.set()
    await settle()
    assert len(blocking.sent) == 2  # the first creation, and the one held: nothing after
    with Client(synapse_backend.url, synapse_backend.token) as sync:
        assert getattr(sync, kind).count() == count + 1


async def test_acreate_takes_the_kinds_own_positional_arguments(
    synapse_backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``data_files.acreate(path)`` as ``data_files.create(path)``; a kind with the
    generic create takes fields by name only, and says so before sending."""
    path = make_file(tmp_path / "frame.png", 2 * KIB)
    async with native(synapse_backend, monkeypatch) as client:
        made = await client.data_files.acreate(path, chunked=True, chunk_size=KIB)
        synapse_backend.clear_requests()
        with pytest.raises(InvalidInputError, match="by name"):
            await client.projects.acreate("a title")
    assert synapse_backend.requests == []
    with Client(synapse_backend.url, synapse_backend.token) as sync:
        assert sync.data_files.get(made.id).checksum == made.checksum
