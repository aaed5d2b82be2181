"""Partitions while others write: key ranges fixed when the partitions are made keep
every live row exactly once; page ranges raise instead of shifting."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse import BackendClient, IncompleteResultError, InvalidInputError
from synapse.local import LocalBackend

TOTAL = 240


@pytest.fixture
def world() -> Iterator[tuple[LocalBackend, BackendClient, int]]:
    with LocalBackend(tasks=TOTAL) as backend:
        client = BackendClient(backend.url, access_token=backend.token, page_size=20)
        yield backend, client, backend.big_project
        client.close()


def live_ids(client: BackendClient, project: int) -> set[int]:
    return {t["id"] for t in client.tasks.filter(project=project).values("id")}


@pytest.mark.parametrize("ordering", [None, "id", "-id"])
def test_key_partitions_keep_every_live_row_once_under_deletes_and_inserts(
    world: tuple[LocalBackend, BackendClient, int], ordering: str | None
) -> None:
    backend, client, project = world
    query = client.tasks.filter(project=project)
    if ordering:
        query = query.order_by(ordering)
    parts = query.partitions(4)
    assert [p.kind for p in parts] == ["keys"] * 4
    before = live_ids(client, project)
    seen = [t.id for t in parts[0]]
    # Others delete 60 rows (some already read, most not) and insert 60 new ones.
    doomed = sorted(before)[::4][:60]
    for pk in doomed:
        client.tasks.delete(pk)
    for n in range(60):
        backend.backend.new("tasks", {"project": project, "data": {"new": n}})
    for part in parts[1:]:
        seen.extend(t.id for t in part)
    assert len(seen) == len(set(seen))  # nothing twice
    survivors = before - set(doomed)
    assert survivors <= set(seen)  # no live original row missed
    assert set(seen) <= before | live_ids(client, project)  # nothing invented
    if ordering:
        descending = ordering.startswith("-")
        assert seen == sorted(seen, reverse=descending)


def test_page_partitions_raise_instead_of_shifting(
    world: tuple[LocalBackend, BackendClient, int],
) -> None:
    _, client, project = world
    parts = client.tasks.filter(project=project).partitions(4, by="pages")
    assert [p.kind for p in parts] == ["pages"] * 4
    first = [t.id for t in parts[0]]
    for pk in first[:30]:
        client.tasks.delete(pk)
    rest = (t.id for part in parts[1:] for t in part)
    with pytest.raises(IncompleteResultError, match="page"):
        list(rest)


def test_by_keys_is_refused_where_the_ordering_is_not_the_key(
    world: tuple[LocalBackend, BackendClient, int],
) -> None:
    _, client, project = world
    with pytest.raises(InvalidInputError, match="by='pages'"):
        client.tasks.filter(project=project).order_by("created").partitions(2, by="keys")
    with pytest.raises(InvalidInputError, match="by must be"):
        client.tasks.filter(project=project).partitions(2, by="rows")  # type: ignore[arg-type]
    # Kinds without key range filters fall back to pages.
    assert {p.kind for p in client.projects.all().partitions(1)} <= {"pages"}


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(n=st.integers(1, 15), descending=st.booleans())
def test_key_partitions_cover_the_query_once_in_order(
    world: tuple[LocalBackend, BackendClient, int], n: int, descending: bool
) -> None:
    _, client, project = world
    query = client.tasks.filter(project=project).order_by("-id" if descending else "id")
    whole = [t["id"] for t in query.values("id")]
    parts = query.partitions(n)
    assert len(parts) <= n
    joined = [t["id"] for part in parts for t in part.values("id")]
    assert joined == whole


def test_a_count_no_list_has_is_refused_before_planning(
    world: tuple[LocalBackend, BackendClient, int],
) -> None:
    from synapse.partitions import MAX_PARTITIONS, split

    _, client, project = world
    query = client.tasks.filter(project=project)
    with pytest.raises(InvalidInputError, match=f"more than {MAX_PARTITIONS}"):
        split(query, 10**10, 100)
    assert len(split(query, 10**10, 100, n=8, key_range=None)) == 8
