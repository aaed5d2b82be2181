"""The QuerySet verbs a Django user reaches for, each with the fewest requests; names and
settings checked; errors that cross processes."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synapse.protocol as protocol
from synapse import Client, InvalidInputError, QuerySet, Task
from synapse.local import LocalBackend
from synapse.local.kinds import KINDS as TABLES
from synapse.local.store import Query


def listed(backend: LocalBackend) -> list[str]:
    return [r.query for r in backend.requests if r.path == "/sdk/tasks/"]


@pytest.fixture
def qs(synapse_client: Client, demo: dict[str, Any]) -> Any:
    return synapse_client.tasks.filter(project=demo["project"])


def test_none_last_exclude_in_bulk(qs: Any, synapse_backend: LocalBackend) -> None:
    synapse_backend.clear_requests()
    assert list(qs.none()) == []
    assert qs.none().count() == 0
    assert synapse_backend.requests == []
    last = qs.last()
    assert last is not None
    assert last.id == 12
    assert "ordering=-id" in listed(synapse_backend)[-1]
    assert [t.id for t in qs.exclude(id__in=[1, 2]).exclude(id=3)][:2] == [4, 5]
    with pytest.raises(InvalidInputError, match="only exclude by id"):
        qs.exclude(is_discarded=True)
    synapse_backend.clear_requests()
    found = qs.in_bulk([2, 5, 999])
    assert sorted(found) == [2, 5]
    assert isinstance(found[5], Task)
    assert len(listed(synapse_backend)) == 1


def test_values_are_plain_dicts_with_wire_names(qs: Any, demo: dict[str, Any]) -> None:
    rows = list(qs.values("id", "project"))
    assert rows[0] == {"id": 1, "project": demo["project"]}
    assert [r["id"] for r in rows] == list(range(1, 13))
    assert all(type(r) is dict for r in rows)
    assert list(qs.values_list("id", flat=True))[:3] == [1, 2, 3]
    assert next(iter(qs.values_list("id", "project")))[0] == 1
    with pytest.raises(InvalidInputError):
        list(qs.values_list("id", "project", flat=True))


def test_named_rows_and_a_row_that_is_none_still_exists(qs: Any, demo: dict[str, Any]) -> None:
    rows = list(qs.values_list("id", "project_id", named=True)[:2])
    assert [(r.id, r.project_id) for r in rows] == [(1, demo["project"]), (2, demo["project"])]
    assert rows == [(1, demo["project"]), (2, demo["project"])]  # tuples still
    with pytest.raises(InvalidInputError, match="not both"):
        qs.values_list("id", flat=True, named=True)
    unassigned = qs.values_list("assignment", flat=True)
    assert unassigned.first() is None  # a row, whose value is None
    assert unassigned.exists()
    assert not qs.filter(id=10**6).values_list("assignment", flat=True).exists()


def test_a_second_value_of_one_filter_raises_and_id_lists_intersect(qs: Any) -> None:
    assert qs.filter(project=1).filter(project=1).count() == 12
    with pytest.raises(InvalidInputError, match="already"):
        qs.filter(project=2)
    assert [t.id for t in qs.filter(id__in=[1, 2, 3]).filter(id__in=[2, 3, 4])] == [2, 3]
    assert qs.filter(id__in=[1]).filter(id__in=[2]).count() == 0


def test_page_sizes_are_honoured(
    synapse_client: Client, synapse_backend: LocalBackend, qs: Any
) -> None:
    synapse_backend.clear_requests()
    assert len(list(qs.page_size(5)[0:12])) == 12
    assert len(listed(synapse_backend)) == 3  # 3 requests of 5, as asked
    synapse_backend.clear_requests()
    assert len(list(qs.iterator(chunk_size=4))) == 12
    assert all("page_size=4" in q for q in listed(synapse_backend))
    synapse_client.page_size = 6
    synapse_backend.clear_requests()
    assert len(list(qs)) == 12
    assert all("page_size=6" in q for q in listed(synapse_backend))
    with pytest.raises(InvalidInputError):
        synapse_client.page_size = 0


def test_assigning_an_unknown_name_raises_with_a_suggestion(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    task = synapse_client.tasks.get(1)
    with pytest.raises(AttributeError, match="did you mean 'meta'"):
        task.metaa = {"x": 1}  # type: ignore[attr-defined]
    assert task.changed_fields == set()


@pytest.mark.parametrize(
    "name", sorted(n for n, k in protocol.KINDS.items() if "get" in k.capabilities)
)
def test_get_by_id_keyword_works_for_every_kind_with_get(
    synapse_client: Client, synapse_backend: LocalBackend, demo: Any, name: str
) -> None:
    table = TABLES[protocol.KINDS[name].table]
    pk = min(
        doc["id"] for doc in synapse_backend.backend.store.select(table, Query(), limit=9, offset=0)
    )
    manager = getattr(synapse_client, name)
    got = manager.get(id=pk)
    assert isinstance(got, manager.resource)
    assert got.pk == pk
    assert got == manager.get(pk)


def test_does_not_exist_errors_pickle(synapse_client: Client) -> None:
    with pytest.raises(Task.DoesNotExist) as caught:
        synapse_client.tasks.get(99999)
    again = pickle.loads(pickle.dumps(caught.value))
    assert type(again) is Task.DoesNotExist
    assert again.status_code == 404


def test_values_are_lazy_querysets(qs: Any, synapse_backend: LocalBackend) -> None:
    synapse_backend.clear_requests()
    rows = qs.values("id")
    flat = qs.values_list("id", flat=True)
    assert listed(synapse_backend) == []  # nothing is sent until iterated
    assert list(rows[:3]) == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert len(listed(synapse_backend)) == 1  # one page of three
    assert rows.count() == 12
    assert [r["id"] for r in rows] == [r["id"] for r in rows] == list(range(1, 13))
    assert list(flat.filter(id__in=[2, 3, 4]).exclude(id=3)) == [2, 4]
    assert list(flat.order_by("-id")[:2]) == [12, 11]
    assert flat[4] == 5
    assert rows.first() == {"id": 1}
    assert list(qs.values_list("id", "project")[1:2]) == [(2, 1)]
    with pytest.raises(IndexError):
        flat[50]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.integers(0, 14), st.integers(0, 14), st.integers(0, 3))
def test_sliced_values_are_the_sliced_ids(qs: Any, low: int, high: int, more: int) -> None:
    ids = list(range(1, 13))
    flat = qs.values_list("id", flat=True)
    assert list(flat[low:high]) == ids[low:high]
    assert list(flat[low:][more : more + 2]) == ids[low:][more : more + 2]


def test_managers_offer_the_query_verbs(
    synapse_client: Client, demo: dict[str, Any], synapse_backend: LocalBackend
) -> None:
    tasks = synapse_client.tasks
    synapse_backend.clear_requests()
    assert list(tasks.none()) == []
    assert synapse_backend.requests == []
    last = tasks.last()
    assert last is not None
    assert last.id == max(t.id for t in tasks.all() if t.id is not None)
    assert [t.id for t in tasks.exclude(id__in=[1, 2])][:2] == [3, 4]
    assert sorted(tasks.in_bulk([2, 5])) == [2, 5]
    assert list(tasks.values_list("id", flat=True)[:2]) == [1, 2]
    assert tasks.values("id").count() == tasks.count()
    every = sorted(t.id for t in tasks.all() if t.id is not None)
    assert sorted(t.id for part in tasks.partitions(2) for t in part if t.id) == every
    for verb in ("none", "exclude", "last", "in_bulk", "values", "values_list", "to_pandas",
                 "to_arrow", "partitions", "to_dask", "raw_filter", "page_size"):  # fmt: skip
        assert hasattr(QuerySet, verb)
        assert getattr(tasks, verb).__doc__, verb
