"""Scale-out on a real ``dask.distributed.LocalCluster`` with two worker processes, against
the local backend over real HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from synapse import Client
from synapse.local import LocalBackend
from synapse.retry import RetryPolicy

distributed = pytest.importorskip("distributed")

TASKS = 1200


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as local,
        distributed.Client(local) as dask_client,
    ):
        yield dask_client


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[LocalBackend, Client]]:
    # Quick retries: the 503 storm below is survived by retrying, not by waiting long.
    retry = RetryPolicy(max_retries=10, backoff_base=0.01, backoff_cap=0.05)
    with LocalBackend(tasks=TASKS) as backend, Client(backend.url, backend.token, retry=retry) as c:
        yield backend, c


def test_the_dask_frame_equals_to_pandas_of_the_same_query(cluster: Any, world: Any) -> None:
    backend, client = world
    query = client.tasks.filter(project=backend.big_project).order_by("-id")[10:1100]
    frame = query.to_dask(npartitions=4)
    assert frame.npartitions == 4
    assert frame.dtypes.to_dict() == query.none().to_pandas().dtypes.to_dict()  # meta
    got = frame.compute()
    pd.testing.assert_frame_equal(got, query.to_pandas())
    assert isinstance(got["data"].iloc[0], dict)  # nested JSON stays objects, not text


def test_a_partition_in_a_503_storm_is_retried_and_the_result_is_exact(
    cluster: Any, world: Any
) -> None:
    backend, client = world
    query = client.tasks.filter(project=backend.big_project).order_by("id")
    expected = query.to_pandas(["id", "status_label", "created"])
    backend.clear_requests()
    backend.set_faults(error_rate=0.3, seed=7)
    try:
        got = query.to_dask(6, columns=["id", "status_label", "created"]).compute()
    finally:
        backend.set_faults(error_rate=0.0)
    statuses = [r.status for r in backend.requests if r.path.endswith("/tasks/")]
    assert statuses.count(503) >= 1  # the storm did hit the workers
    pd.testing.assert_frame_equal(got, expected)


def test_selected_columns_are_asked_of_the_server(cluster: Any, world: Any) -> None:
    backend, client = world
    frame = client.tasks.filter(project=backend.big_project).to_dask(3)
    backend.clear_requests()
    counts = frame[["id", "status_label"]].compute()
    assert list(counts.columns) == ["id", "status_label"]
    assert len(counts) == TASKS
    queries = [r.query for r in backend.requests if r.path.endswith("/tasks/")]
    assert queries
    assert all("fields=status_label" in q and "fields=data" not in q for q in queries)


def test_an_empty_query_is_one_empty_partition(cluster: Any, world: Any) -> None:
    _, client = world
    frame = client.tasks.filter(ids=[987654321]).to_dask()
    got = frame.compute()
    assert len(got) == 0
    assert list(got.columns) == list(client.tasks.all().none().to_pandas().columns)


def test_upload_through_the_cluster_lands_every_file(
    cluster: Any, world: Any, tmp_path: Path
) -> None:
    _, client = world
    paths = []
    for n in range(8):
        path = tmp_path / f"f{n}.bin"
        path.write_bytes(bytes((n + i) % 256 for i in range(20_000 + n)))
        paths.append(path)
    report = client.data_files.upload_many(paths, executor=cluster)
    assert report.ok
    for path, item in zip(paths, report.items, strict=True):
        assert item.result is not None
        stored = client.data_files.get(item.result.id)  # read back
        assert stored.checksum == hashlib.md5(path.read_bytes()).hexdigest()


def test_a_failing_partition_never_shows_the_token(cluster: Any, world: Any) -> None:
    backend, client = world
    frame = client.tasks.filter(project=backend.big_project).to_dask(3)
    backend.set_faults(once={"/sdk/tasks/": 400})  # not retried: the partition fails
    try:
        with pytest.raises(Exception) as failure:  # noqa: PT011 - whatever Dask re-raises
            frame.compute()
    finally:
        backend.set_faults(once={})
    logs = f"{cluster.get_worker_logs()} {cluster.get_scheduler_logs()}"
    assert "400" in str(failure.value)
    assert "Compute Failed" in logs  # the worker logged the failed task
    assert backend.token not in f"{failure.value!r} {failure.value} {logs}"
    assert backend.token not in repr(frame)
