"""Bulk uploads on an executor the caller chooses (threads, processes), read back."""

from __future__ import annotations

import hashlib
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from synapse import Client, InvalidInputError, ValidationError
from synapse.local import LocalBackend
from synapse.retry import RetryPolicy

KIB = 1024


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    paths = []
    for n in range(count):
        path = folder / f"file-{n}.bin"
        path.write_bytes(bytes((n * 7 + i) % 251 for i in range(size)))
        paths.append(path)
    return paths


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_upload_many_on_an_executor_lands_every_file(
    synapse_client: Client, tmp_path: Path, kind: str
) -> None:
    paths = make_files(tmp_path, 6, 150 * KIB)
    pool = ThreadPoolExecutor(3) if kind == "threads" else ProcessPoolExecutor(2)
    with pool:
        # Chunked in 64 KiB pieces: each file is several requests in its worker.
        report = synapse_client.data_files.upload_many(
            paths, chunked=True, chunk_size=64 * KIB, executor=pool
        )
    assert report.ok
    assert [item.item["file"] for item in report.items] == [str(p) for p in paths]
    for path, item in zip(paths, report.items, strict=True):
        assert item.result is not None
        stored = synapse_client.data_files.get(item.result.id)  # read back
        assert stored.checksum == md5(path)
        assert stored.size == path.stat().st_size


def test_upload_many_reports_the_one_that_failed(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    paths = make_files(tmp_path, 4, 2 * KIB)
    synapse_backend.fail_next("/data_files/", 400)
    report = synapse_client.data_files.upload_many(paths, max_workers=2)
    assert len(report.failed) == 1
    assert isinstance(report.failed[0].error, ValidationError)
    assert len(report.created) == 3
    for item in report.items:
        if item.result is not None:
            assert synapse_client.data_files.get(item.result.id).checksum == md5(
                Path(item.item["file"])
            )


def test_bad_input_is_refused_before_anything_is_sent(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    paths = make_files(tmp_path, 2, KIB)
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="not found"):
        synapse_client.data_files.upload_many([*paths, tmp_path / "missing.bin"])
    with pytest.raises(InvalidInputError, match="executor"):
        synapse_client.data_files.upload_many(paths, executor=object())
    with pytest.raises(InvalidInputError, match="max_workers"):
        synapse_client.data_files.upload_many(paths, max_workers=0)
    assert synapse_backend.requests == []


def test_collection_upload_on_processes_makes_units_and_tasks(
    synapse_client: Client, demo: dict[str, Any], tmp_path: Path
) -> None:
    collection = synapse_client.data_collections.get(demo["data_collection"])
    images = make_files(tmp_path, 5, 3 * KIB)
    items: list[dict[str, Any]] = [
        {"files": {"image_1": path}, "meta": {"n": n}} for n, path in enumerate(images)
    ]
    items[2] = {"files": {"video": images[2]}}  # refused by the collection, before sending
    before = synapse_client.tasks.filter(project=demo["project"]).count()
    with ProcessPoolExecutor(2) as pool:
        report = collection.upload_many(items, project=demo["project"], executor=pool)
    assert [i.ok for i in report.items] == [True, True, False, True, True]
    assert "unknown file specification" in str(report.items[2].error)
    for n, item in enumerate(report.items):
        if item.data_unit is None:
            continue
        unit = synapse_client.data_units.get(item.data_unit.id)  # read back
        assert unit.meta == {"n": n}
        assert unit.files is not None
        assert unit.files["image_1"]["checksum"] == md5(images[n])
    assert synapse_client.tasks.filter(project=demo["project"]).count() == before + 4


def test_a_dropped_chunk_in_a_worker_process_is_resumed_there(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    paths = make_files(tmp_path, 3, 200 * KIB)
    synapse_client.transport.policy = RetryPolicy(backoff_base=0.01, backoff_cap=0.05)
    synapse_backend.set_faults(drop_chunk=2, drop_when="after")
    with ProcessPoolExecutor(2) as pool:
        report = synapse_client.data_files.upload_many(
            paths, chunked=True, chunk_size=64 * KIB, executor=pool
        )
    assert report.ok
    dropped = [r for r in synapse_backend.requests if r.method == "PUT" and r.status is None]
    assert len(dropped) == 1  # the worker's upload lost a chunk's answer, and went on
    for path, item in zip(paths, report.items, strict=True):
        assert item.result is not None
        assert synapse_client.data_files.get(item.result.id).checksum == md5(path)


class DeletingPool(ThreadPoolExecutor):
    """A thread pool that deletes ``victim`` just before running the ``at``-th job: a
    file that was there when the call checked it, and is gone when its worker reads it."""

    def __init__(self, victim: Path, at: int) -> None:
        super().__init__(2)
        self.victim, self.at, self.jobs = victim, at, 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        self.jobs += 1
        if self.jobs == self.at:
            self.victim.unlink()
        return super().submit(fn, *args, **kwargs)


def test_a_file_gone_mid_run_is_one_items_outcome(synapse_client: Client, tmp_path: Path) -> None:
    paths = make_files(tmp_path, 10, 2 * KIB)
    with DeletingPool(paths[4], at=5) as pool:
        report = synapse_client.data_files.upload_many(paths, executor=pool)
    assert [item.ok for item in report.items] == [n != 4 for n in range(10)]
    error = report.items[4].error  # the worker's own check, or the open that raced it
    assert isinstance(error, (FileNotFoundError, InvalidInputError))
    assert "file-4.bin" in str(error)
    for path, item in zip(paths, report.items, strict=True):
        if item.result is not None:  # the other nine are on the server, read back
            assert synapse_client.data_files.get(item.result.id).checksum == md5(path)


def test_a_unit_whose_file_is_gone_mid_run_is_one_items_outcome(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    from synapse.local.seed import seed_demo

    demo = seed_demo(synapse_backend.backend)
    collection = synapse_client.data_collections.get(demo["data_collection"])
    paths = make_files(tmp_path, 10, 2 * KIB)
    items = [{"files": {"image_1": p}, "meta": {"n": n}} for n, p in enumerate(paths)]
    with DeletingPool(paths[6], at=7) as pool:
        report = collection.upload_many(items, project=demo["project"], executor=pool)
    assert [item.ok for item in report.items] == [n != 6 for n in range(10)]
    error = report.items[6].error  # the worker's own check, or the open that raced it
    assert isinstance(error, (FileNotFoundError, InvalidInputError))
    assert "file-6.bin" in str(error)
    units = synapse_client.data_units.filter(data_collection=demo["data_collection"])
    made = {(u.get("meta") or {}).get("n") for u in units.values("meta")}
    assert {0, 1, 2, 3, 4, 5, 7, 8, 9} <= made
    assert 6 not in made


def test_an_item_refused_before_sending_fails_alone_in_its_batch(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    from synapse.local.seed import seed_demo

    demo = seed_demo(synapse_backend.backend)
    collection = synapse_client.data_collections.get(demo["data_collection"])
    paths = make_files(tmp_path, 3, 1 * KIB)
    items: list[dict[str, Any]] = [
        {"files": {"image_1": p}, "meta": {"n": n}} for n, p in enumerate(paths)
    ]
    items[1]["meta"] = {"s": {1, 2}}  # a set: refused before the batch is sent
    with ThreadPoolExecutor(2) as pool:
        report = collection.upload_many(items, executor=pool, batch_size=3)
    assert [item.ok for item in report.items] == [True, False, True]
    assert "is a Python set" in str(report.items[1].error)
    made = [u.get("meta") for u in synapse_client.data_units.filter(
        data_collection=demo["data_collection"]).values("meta")]  # fmt: skip
    assert {"n": 0} in made
    assert {"n": 2} in made
