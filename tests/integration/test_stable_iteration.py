"""Stable iteration: no skipped and no repeated item while others insert and delete."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from synapse import BackendClient, IncompleteResultError, InvalidInputError
from synapse.local import LocalBackend
from synapse.local.kinds import KINDS

TOTAL = 300


@pytest.fixture
def world() -> Iterator[tuple[LocalBackend, BackendClient, int]]:
    with LocalBackend(tasks=TOTAL) as backend:
        client = BackendClient(backend.url, access_token=backend.token)
        yield backend, client, backend.big_project
        client.close()


def churn(backend: LocalBackend, project: int, seen: list[int], step: int) -> None:
    """What other users do meanwhile: delete 10 rows already listed, add 5 new ones."""
    store = backend.backend.store
    for pk in seen[step * 10 : step * 10 + 10]:
        store.delete(KINDS["tasks"], pk)
    for n in range(5):
        backend.backend.new("tasks", {"project": project, "data": {"new": step * 10 + n}})


def walk_with_churn(backend: LocalBackend, project: int, items: Iterator[Any]) -> list[int]:
    seen: list[int] = []
    for index, item in enumerate(items):
        seen.append(item["id"] if isinstance(item, dict) else item.id)
        if index % 25 == 24:  # between pages (pages of 25)
            churn(backend, project, seen, index // 25)
    return seen


def originals(project: int, backend: LocalBackend) -> set[int]:
    kind = KINDS["tasks"]
    return {
        d["id"] for d in backend.backend.store.get_many(kind, list(range(1, TOTAL + 1))).values()
    }


def test_page_numbers_under_deletes_raise_instead_of_skipping(
    world: tuple[LocalBackend, BackendClient, int],
) -> None:
    """Page numbers shift under deletes (a live item would be skipped): a listing that
    is not stable says so, naming the page, instead of returning a shorter result."""
    backend, client, project = world
    qs = client.tasks.filter(project=project).page_size(25)
    with pytest.raises(
        IncompleteResultError, match=r"page \d+ counts \d+ items where the listing was planned with"
    ) as caught:
        walk_with_churn(backend, project, qs.iterator())
    assert "stable=True" in str(caught.value)


@pytest.mark.parametrize("ordering", [None, "-id", "id"])
def test_stable_iteration_sees_every_original_item_exactly_once(
    world: tuple[LocalBackend, BackendClient, int], ordering: str | None
) -> None:
    backend, client, project = world
    start = originals(project, backend)
    qs = client.tasks.filter(project=project).page_size(25)
    if ordering:
        qs = qs.order_by(ordering)
    backend.clear_requests()
    seen = walk_with_churn(backend, project, qs.iterator(stable=True))
    assert len(seen) == len(set(seen))  # nothing twice
    assert start <= set(seen)  # every original row: deleted ones were deleted after we saw them
    descending = ordering != "id"
    assert seen == sorted(seen, reverse=descending)
    queries = [r.query for r in backend.requests if r.path == "/sdk/tasks/"]
    if descending:  # the backend's cursor pagination
        assert "pagination=cursor" in queries[0]
        assert all("cursor=" in q for q in queries[1:])
    else:  # keyset on id
        assert all("pagination" not in q for q in queries)
        assert all("id__gt=" in q for q in queries[1:])


def test_list_all_stable_over_the_method_api(
    world: tuple[LocalBackend, BackendClient, int],
) -> None:
    backend, client, project = world
    start = originals(project, backend)
    result, count = client.list_tasks(
        params={"project": project, "page_size": 25}, list_all=True, stable=True
    )
    assert len(result) == count == TOTAL
    seen = walk_with_churn(backend, project, iter(result))
    assert len(seen) == len(set(seen))
    assert start <= set(seen)


def test_stable_iteration_is_refused_where_the_backend_cannot_walk_stably(
    world: tuple[LocalBackend, BackendClient, int],
) -> None:
    backend, client, _ = world
    backend.clear_requests()
    with pytest.raises(InvalidInputError, match="no stable iteration"):
        list(client.data_units.all().iterator(stable=True))
    with pytest.raises(InvalidInputError, match="ordered by id"):
        list(client.tasks.order_by("created").iterator(stable=True))
    with pytest.raises(InvalidInputError, match="slice"):
        list(client.tasks.all()[5:10].iterator(stable=True))
    with pytest.raises(InvalidInputError, match="list_all"):
        client.list_tasks(stable=True)
    assert backend.requests == []
