"""Conformance, generated from the protocol declarations: every declared filter of every
kind is honoured by the local backend end to end through the SDK, and every declared
capability is served.

The expected rows come from a brute-force reading of the declaration over the stored
rows (Python, not the server's SQL): a value that matches nothing gives no row, a value
that matches gives exactly those rows. A filter the server ignored would return every
row, which each filter's values are chosen to tell apart.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

import synapse.protocol as protocol
from synapse import Client, JobStatus, StorageCategory
from synapse.local import LocalBackend
from synapse.local.kinds import KINDS as TABLES
from synapse.local.seed import seed_demo
from synapse.local.store import Query
from synapse.protocol import Filter

NOTHING_ID = 999_999
NOTHING_TEXT = "no-such-value"
ENUMS: dict[str, list[str]] = {
    "enum:JobStatus": [s.value for s in JobStatus],
    "enum:StorageCategory": [c.value for c in StorageCategory],
}
LISTED = sorted(n for n, k in protocol.KINDS.items() if "list" in k.capabilities)
FILTERS = [
    (name, filter_name)
    for name in LISTED
    for filter_name, declared in sorted(protocol.KINDS[name].allowed_filters().items())
    if not declared.refused
]
REFUSED = [
    (name, filter_name)
    for name, kind in sorted(protocol.KINDS.items())
    for filter_name, declared in sorted(kind.allowed_filters().items())
    if declared.refused
]


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[LocalBackend, Client]]:
    with LocalBackend() as backend:
        seed_demo(backend.backend)
        with Client(backend.url, backend.token) as client:
            yield backend, client


def stored(backend: LocalBackend, table: str) -> list[dict[str, Any]]:
    return backend.backend.store.select(TABLES[table], Query(), limit=10**9, offset=0)


def reached(backend: LocalBackend, doc: dict[str, Any], declared: Filter) -> list[dict[str, Any]]:
    """The rows a filter reads for one object: itself, or the rows its join reaches."""
    join = declared.join
    if join is None:
        return [doc]
    others = stored(backend, join.table)
    if join.reverse:
        return [o for o in others if o.get(join.key) == doc["id"]]
    return [o for o in others if o["id"] == doc.get(join.key)]


def holds(row: dict[str, Any], declared: Filter, value: Any) -> bool:
    """Whether one reached row satisfies the filter, read from the declaration."""
    lookup = declared.lookup
    if lookup == "text":
        body = json.dumps({k: v for k, v in row.items() if k != "id"})
        return str(value).lower() in body.lower()
    got = row["id"] if declared.field == "id" else row.get(declared.field)
    values = value if isinstance(value, list) else [value]
    if lookup == "in":
        return got in values
    if lookup == "not_in":
        return got not in values
    if lookup == "overlap":
        return bool(set(got or []) & set(values))
    if got is None:
        return False
    compare = {"gt": got.__gt__, "gte": got.__ge__, "lt": got.__lt__, "lte": got.__le__}
    if lookup in compare:
        return bool(compare[lookup](value))
    return bool(got == value)


def expected(backend: LocalBackend, kind: protocol.Kind, declared: Filter, value: Any) -> set[int]:
    """The ids of the stored rows the filter keeps, by brute force."""
    rows = stored(backend, kind.table)
    if declared.lookup == "limit":
        return {row["id"] for row in rows}  # it shapes pages: every row is still listed
    kept = set()
    for row in rows:
        reach = reached(backend, row, declared)
        if declared.lookup == "exists":
            ok = bool(reach) == value
        else:
            ok = any(holds(r, declared, value) for r in reach)
        if ok:
            kept.add(row["id"])
    return kept


def candidates(backend: LocalBackend, kind: protocol.Kind, declared: Filter) -> list[Any]:
    """Values for a filter: ones the stored rows hold (they match) and ones no row
    holds (they match nothing)."""
    if declared.type == "bool":
        return [True, False]
    if declared.choices:
        return list(declared.choices)
    if declared.type in ENUMS:
        return ENUMS[declared.type]
    if declared.lookup == "limit":
        return [1]
    table = declared.join.table if declared.join else kind.table
    rows = stored(backend, table)
    if declared.lookup == "text":
        titles = [r.get("title") or r.get("name") or r.get("code") for r in rows]
        return [*(t for t in titles[:1] if isinstance(t, str)), NOTHING_TEXT]
    present: list[Any] = []
    for row in rows:
        got = row["id"] if declared.field == "id" else row.get(declared.field)
        for item in got if isinstance(got, list) else [got]:
            if item is not None and item not in present:
                present.append(item)
    middle = present[len(present) // 2 : len(present) // 2 + 1]
    picked = [*present[:1], *middle]
    if declared.type in ("id", "int"):
        return [*picked, NOTHING_ID]
    if declared.type == "ids":
        return [[v] for v in picked] + [[NOTHING_ID]]
    if declared.type == "strs":
        return [[v] for v in picked] + [[NOTHING_TEXT]]
    if declared.type == "date":
        return picked  # ranges over stored instants
    return [*picked, NOTHING_TEXT]


@pytest.mark.parametrize(("name", "filter_name"), FILTERS)
def test_every_declared_filter_is_honoured_end_to_end(
    world: tuple[LocalBackend, Client], name: str, filter_name: str
) -> None:
    backend, client = world
    kind = protocol.KINDS[name]
    declared = kind.allowed_filters()[filter_name]
    every = {row["id"] for row in stored(backend, kind.table)}
    assert every, f"the demo holds no {name}"
    told_apart = False
    for value in candidates(backend, kind, declared):
        want = expected(backend, kind, declared, value)
        got = [obj.pk for obj in getattr(client, name).filter(**{filter_name: value})]
        assert sorted(got) == sorted(want), f"{name}?{filter_name}={value!r}"
        told_apart |= want != every
    if declared.lookup != "limit":
        # some value keeps fewer rows than all: a server ignoring it would have failed
        assert told_apart, f"no value of {filter_name} tells its rows apart in the demo"


@pytest.mark.parametrize(("name", "filter_name"), REFUSED)
def test_a_refused_filter_never_reaches_the_server(
    world: tuple[LocalBackend, Client], name: str, filter_name: str
) -> None:
    from synapse import UnknownFilterError

    backend, client = world
    before = len(backend.requests)
    with pytest.raises(UnknownFilterError, match="not supported"):
        getattr(client, name).filter(**{filter_name: [1]}).count()
    assert len(backend.requests) == before


def served_operations(backend: LocalBackend) -> dict[str, set[str]]:
    document = requests.get(f"{backend.url}/openapi.json", timeout=10).json()
    return {path: set(methods) for path, methods in document["paths"].items()}


@pytest.mark.parametrize("name", sorted(protocol.KINDS))
def test_every_declared_capability_and_action_is_served(
    world: tuple[LocalBackend, Client], name: str
) -> None:
    backend, client = world
    kind = protocol.KINDS[name]
    served = served_operations(backend)
    detail = f"/{kind.path}{{pk}}/"
    wanted = {
        "list": (f"/{kind.listed_at}", "get"),
        "create": (f"/{kind.path}", "post"),
        "get": (detail, "get"),
        "update": (detail, "put" if kind.full_update else "patch"),
        "delete": (detail, "delete"),
    }
    for capability in kind.capabilities:
        path, method = wanted[capability]
        assert method in served.get(path, set()), f"{name}: {capability} is not served"
    for action in kind.actions:
        path = f"/{kind.path}{action.path}"
        assert action.method.lower() in served.get(path, set()), f"{name}: {action.name}"
    manager = getattr(client, name)
    if "list" in kind.capabilities:
        listed = [obj.pk for obj in manager.all()]
        assert sorted(listed) == sorted(r["id"] for r in stored(backend, kind.table))
        assert manager.count() == len(listed)
    if "get" in kind.capabilities:
        first = min(r["id"] for r in stored(backend, kind.table))
        assert manager.get(first).pk == first


def test_the_openapi_document_lists_exactly_the_honoured_filters(
    world: tuple[LocalBackend, Client],
) -> None:
    backend, _ = world
    document = requests.get(f"{backend.url}/openapi.json", timeout=10).json()
    for name in LISTED:
        kind = protocol.KINDS[name]
        operation = document["paths"][f"/{kind.listed_at}"]["get"]
        names = {p["name"] for p in operation["parameters"] if p["in"] == "query"}
        honoured = {n for n, f in kind.allowed_filters().items() if not f.refused}
        assert names - protocol.CONTROL_PARAMS - {"cursor"} == honoured, name


EXPANSIONS = [(name, relation) for name in LISTED for relation in protocol.KINDS[name].expansions]


@pytest.mark.parametrize(("name", "relation"), EXPANSIONS)
def test_every_declared_expansion_is_served(
    world: tuple[LocalBackend, Client], name: str, relation: str
) -> None:
    """``expand=<relation>`` nests the related object where the row holds its id."""
    _, client = world
    kind = protocol.KINDS[name]
    page = client.request("GET", kind.listed_at, params={"expand": relation, "page_size": 50})
    rows = [r for r in page["results"] if r.get(relation) not in (None, [], {})]
    assert rows, f"the demo holds no {name} with a {relation}"
    for row in rows:
        value = row[relation]
        nested = value if isinstance(value, list) else [value]
        assert all(isinstance(v, dict) and "id" in v for v in nested), (name, relation, value)


ORDERINGS = [(name, field) for name in LISTED for field in sorted(protocol.KINDS[name].orderings)]


def _sort_key(value: Any) -> tuple[Any, ...]:
    return (0,) if value is None else (1, value)  # SQL puts NULL first


@pytest.mark.parametrize(("name", "field"), ORDERINGS)
def test_every_declared_ordering_is_honoured_end_to_end(
    world: tuple[LocalBackend, Client], name: str, field: str
) -> None:
    backend, client = world
    kind = protocol.KINDS[name]
    rows = sorted(stored(backend, kind.table), key=lambda r: r["id"])  # ties: by id
    column = "id" if field in ("id", kind.pk) else field
    for descending in (False, True):
        want = [
            r["id"]
            for r in sorted(rows, key=lambda r: _sort_key(r.get(column)), reverse=descending)
        ]
        if column == "id" and descending:
            want = sorted(want, reverse=True)
        got = [
            obj.pk for obj in getattr(client, name).order_by(f"{'-' if descending else ''}{field}")
        ]
        assert got == want, (name, field, descending)


@settings(max_examples=40)
@given(data=st.data())
def test_filters_combine_as_an_intersection(
    world: tuple[LocalBackend, Client], data: st.DataObject
) -> None:
    """Any few declared filters of a kind together keep exactly the rows each keeps."""
    backend, client = world
    name = data.draw(st.sampled_from(["tasks", "assignments", "ground_truth_events"]))
    kind = protocol.KINDS[name]
    usable = sorted(
        n for n, f in kind.allowed_filters().items() if not f.refused and f.lookup != "limit"
    )
    chosen = data.draw(st.lists(st.sampled_from(usable), min_size=1, max_size=3, unique=True))
    filters: dict[str, Any] = {}
    want = {row["id"] for row in stored(backend, kind.table)}
    for filter_name in chosen:
        declared = kind.allowed_filters()[filter_name]
        value = data.draw(st.sampled_from(candidates(backend, kind, declared)))
        filters[filter_name] = value
        want &= expected(backend, kind, declared, value)
    got = [obj.pk for obj in getattr(client, name).filter(**filters)]
    assert sorted(got) == sorted(want), filters
