"""A page that vanishes in the middle of a listing is an error naming the page, never a
shorter result: over real HTTP against the local backend, on every listing path."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from synapse import BackendClient, Client, IncompleteResultError
from synapse.http import HTTPTransport, Request, Response
from synapse.local import LocalBackend

TASKS = 230


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[LocalBackend, int]]:
    with LocalBackend(tasks=TASKS) as backend:
        yield backend, backend.big_project


class ArmAfter:
    """An HTTP transport that arms the local backend's one-shot 404 on the task list
    just before the request for page ``after + 1`` goes out: that page vanishes. List
    requests go one at a time, so no other page's request can take the 404 (pages are
    fetched concurrently, in a window that grows)."""

    def __init__(self, inner: HTTPTransport, backend: LocalBackend, after: int) -> None:
        self.inner, self.backend, self.after = inner, backend, after
        self.lock = threading.Lock()

    def handle(self, request: Request) -> Response:
        if not request.url.rstrip("/").endswith("sdk/tasks"):
            return self.inner.handle(request)
        with self.lock:
            page = str(self.after + 1)
            if ("page", page) in request.params:  # (a request of an earlier test still in
                # flight cannot take it: it is for that page only)
                self.backend.set_faults(once={f"/sdk/tasks/?page={page}": 404})
            return self.inner.handle(request)

    def close(self) -> None:
        self.inner.close()


def client_for(backend: LocalBackend, after: int, in_flight: int = 1) -> Client:
    client = BackendClient(backend.url, backend.token, page_size=50, pages_in_flight=in_flight)
    client.transport.http = ArmAfter(client.transport.http, backend, after)
    return client


@pytest.fixture(autouse=True)
def _disarm(world: tuple[LocalBackend, int]) -> Iterator[None]:
    yield
    world[0].set_faults(once={})


@pytest.mark.parametrize("in_flight", [1, 4])
def test_iterator_raises_naming_the_vanished_page(
    world: tuple[LocalBackend, int], in_flight: int
) -> None:
    backend, project = world
    with client_for(backend, after=1, in_flight=in_flight) as client:
        seen: list[int] = []
        listing = client.tasks.filter(project=project).iterator()
        with pytest.raises(IncompleteResultError, match=r"sdk/tasks/: page \d+ answered 404") as e:
            seen.extend(task.id for task in listing)
        # Whole pages in order up to the vanished one, then the error: never a silent end.
        vanished = int(str(e.value).split("page ")[1].split()[0])
        assert len(seen) == (vanished - 1) * 50 < TASKS
        if in_flight == 1:
            assert vanished == 2


def test_to_pandas_raises(world: tuple[LocalBackend, int]) -> None:
    backend, project = world
    with (
        client_for(backend, after=1) as client,
        pytest.raises(IncompleteResultError, match="page 2"),
    ):
        client.tasks.filter(project=project).to_pandas(progress=False)


def test_slice_raises(world: tuple[LocalBackend, int]) -> None:
    backend, project = world
    with client_for(backend, after=1) as client, pytest.raises(IncompleteResultError, match="page"):
        list(client.tasks.filter(project=project).page_size(50)[10:200])


def test_list_all_of_the_method_api_raises(world: tuple[LocalBackend, int]) -> None:
    backend, project = world
    with client_for(backend, after=1) as client:
        result, _ = client.list_tasks(params={"project": project}, list_all=True)
        with pytest.raises(IncompleteResultError, match="page 2"):
            list(result)


def test_page_partitions_raise_when_a_page_vanishes_between_them(
    world: tuple[LocalBackend, int],
) -> None:
    backend, project = world
    with client_for(backend, after=1000) as client:
        parts = client.tasks.filter(project=project).order_by("created").partitions(5)
        assert [p.kind for p in parts] == ["pages"] * 5
        rows = [len(list(parts[0]))]
        backend.set_faults(once={"/sdk/tasks/": 404})
        with pytest.raises(IncompleteResultError):
            rows.append(len(list(parts[1])))
        assert rows == [parts[0].stop]


def test_without_faults_every_path_is_complete(world: tuple[LocalBackend, int]) -> None:
    """The checks never fire on a healthy listing (the control of the tests above)."""
    backend, project = world
    with client_for(backend, after=10**9, in_flight=4) as client:
        query = client.tasks.filter(project=project)
        ids: list[Any] = [t.id for t in query.iterator()]
        assert len(ids) == len(set(ids)) == TASKS
        assert len(query.to_pandas(progress=False)) == TASKS
        assert len(list(query.page_size(50)[10:200])) == 190
        items, count = client.list_tasks(params={"project": project}, list_all=True)
        assert len(list(items)) == count == TASKS
