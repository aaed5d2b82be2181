"""QuerySet semantics as properties, against a DRF-style paginator served by ``responses``."""

from __future__ import annotations

import copy
import json
import math
import pickle
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse import Client, InvalidInputError, JobStatus, StorageCategory, Task
from synapse.pagination import ConcurrentFetcher, ReadAheadFetcher, SequentialFetcher, plan_pages
from tests.conftest import BASE, waits_with

LIST_URL = f"{BASE}/sdk/tasks/"


def serve(items: list[dict[str, Any]], calls: list[dict[str, list[str]]], cap: int = 1000) -> Any:
    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        query = parse_qs(urlsplit(request.url).query)
        calls.append(query)
        size = min(int(query.get("page_size", ["100"])[0]), cap)
        page = int(query.get("page", ["1"])[0])
        pages = max(1, math.ceil(len(items) / size))
        if page > pages:
            return 404, {}, json.dumps({"detail": "Invalid page."})
        chunk = items[(page - 1) * size : page * size]
        body = {
            "count": len(items),
            "next": f"{LIST_URL}?page={page + 1}" if page < pages else None,
            "previous": None,
            "results": chunk,
        }
        return 200, {}, json.dumps(body)

    return callback


def fresh_client(page_size: int = 100) -> Client:
    client = Client(BASE, "token-for-properties-1234", page_size=page_size)
    waits_with(client)
    return client


def minimal_pages(low: int, high: int) -> int:
    """The fewest pages any page size covers ``[low, high)`` with, counted by brute force
    (the page of each wanted index), not by the planner's own formula."""
    return min(len({i // p for i in range(low, high)}) for p in range(1, 1001))


@pytest.mark.parametrize(
    "fetcher", [SequentialFetcher, ReadAheadFetcher, lambda: ConcurrentFetcher(4)]
)
@settings(max_examples=100)
@given(
    total=st.integers(0, 60),
    page_size=st.integers(1, 15),
    a=st.integers(0, 70),
    length=st.one_of(st.none(), st.integers(0, 70)),
)
def test_slicing_equals_list_slicing(
    fetcher: Any, total: int, page_size: int, a: int, length: int | None
) -> None:
    items = [{"id": i + 1, "project": 1} for i in range(total)]
    b = None if length is None else a + length
    with responses.RequestsMock() as mock:
        calls: list[dict[str, list[str]]] = []
        mock.add_callback(responses.GET, LIST_URL, callback=serve(items, calls))
        client = fresh_client(page_size)
        client.page_fetcher = fetcher()
        everything = [t.id for t in client.tasks.all()]
        assert everything == [i["id"] for i in items]
        assert len(calls) == max(1, math.ceil(total / page_size))
        calls.clear()
        sliced = [t.id for t in client.tasks.all()[a:b]]
        assert sliced == everything[a:b]
        # A range that starts past the end is answered 404; one more small request (the
        # count) tells it apart from a page that vanished.
        past_end = int(a >= total)
        if b is not None:
            needed = 0 if b <= a else minimal_pages(a, b) + past_end
            assert len(calls) <= needed
        else:
            assert len(calls) <= max(1, math.ceil((total - a) / page_size) + 1) + past_end
        calls.clear()
        assert client.tasks.all()[a:b].count() == len(everything[a:b])
        assert len(calls) == 1


@settings(max_examples=60)
@given(total=st.integers(0, 40), page_size=st.integers(1, 12))
def test_count_equals_number_iterated(total: int, page_size: int) -> None:
    items = [{"id": i + 1} for i in range(total)]
    with responses.RequestsMock() as mock:
        calls: list[dict[str, list[str]]] = []
        mock.add_callback(responses.GET, LIST_URL, callback=serve(items, calls))
        client = fresh_client(page_size)
        assert client.tasks.count() == sum(1 for _ in client.tasks.iterator())


@settings(max_examples=40)
@given(total=st.integers(1, 30), cap=st.integers(1, 10))
def test_a_server_that_caps_page_size_still_gives_everything(total: int, cap: int) -> None:
    items = [{"id": i + 1} for i in range(total)]
    with responses.RequestsMock() as mock:
        calls: list[dict[str, list[str]]] = []
        mock.add_callback(responses.GET, LIST_URL, callback=serve(items, calls, cap=cap))
        client = fresh_client(50)
        assert [t.id for t in client.tasks.all()] == [i["id"] for i in items]


@settings(max_examples=25)
@given(low=st.integers(0, 2500), length=st.integers(1, 1500))
def test_plan_pages_covers_the_range(low: int, length: int) -> None:
    high = low + length
    size, first, skip = plan_pages(low, high, 100)
    assert 1 <= size <= 1000
    assert (first - 1) * size + skip == low
    assert 0 <= skip < size
    assert math.ceil(high / size) - (first - 1) == minimal_pages(low, high)


@given(
    project=st.integers(1, 10**9),
    ids=st.lists(st.integers(1, 10**6), min_size=1, max_size=5),
    discarded=st.booleans(),
)
def test_filters_encode_as_the_backend_expects(
    project: int, ids: list[int], discarded: bool
) -> None:
    client = fresh_client()
    qs = client.tasks.filter(project=project, id__in=ids, is_discarded=discarded, tags=ids[0])
    params = dict(qs._params())
    assert params == {
        "project": str(project),
        "id__in": ",".join(map(str, ids)),
        "is_discarded": "true" if discarded else "false",
        "tags": str(ids[0]),
    }


@given(value=st.one_of(st.text(max_size=5), st.floats(), st.booleans(), st.none()))
def test_id_filters_reject_non_ids(value: Any) -> None:
    client = fresh_client()
    with pytest.raises(InvalidInputError):
        client.tasks.filter(project=value)


@given(name=st.text("abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=20))
def test_only_declared_filter_names_pass(name: str) -> None:
    client = fresh_client()
    allowed = client.tasks.filters.allowed()
    if name in allowed:
        return
    # an unknown name, or a declared one the SDK refuses ("groups": no defined meaning)
    with pytest.raises(InvalidInputError, match=r"unknown filter|is not supported"):
        client.tasks.filter(**{name: 1})


def test_enum_filters_send_wire_strings() -> None:
    client = fresh_client()
    assert dict(client.jobs.filter(status=JobStatus.FAILED)._params()) == {"status": "FAILED"}
    assert dict(client.jobs.filter(status="RUNNING")._params()) == {"status": "RUNNING"}
    assert dict(client.storages.filter(category=StorageCategory.INTERNAL)._params()) == {
        "category": "internal"
    }


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=8,
)


@given(
    meta=st.dictionaries(st.text(max_size=5), json_values, max_size=4),
    extra=st.dictionaries(st.sampled_from(["x_new", "y_new"]), json_values, max_size=2),
    tags=st.lists(st.integers(1, 50), max_size=4),
)
def test_models_round_trip_and_dirty_state_survives_pickle_and_copy(
    meta: dict[str, Any], extra: dict[str, Any], tags: list[int]
) -> None:
    wire = {"id": 7, "project": 3, "data_unit": 4, "meta": meta, "tags": tags, **extra}
    task = Task.from_api(fresh_client(), wire)
    dumped = task.model_dump(mode="json", by_alias=True, exclude_unset=True)
    assert dumped == wire
    task.tags = [*tags, 99]
    for clone in (pickle.loads(pickle.dumps(task)), copy.copy(task), copy.deepcopy(task)):
        assert clone.changed_fields == {"tags"}
        assert clone.tags == [*tags, 99]
        assert clone == task
