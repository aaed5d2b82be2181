"""The AsyncClient's rows and tables over real HTTP against the local backend:
``values()``, ``values_list()``, ``ato_pandas()`` and ``ato_arrow()`` give what the sync
client gives for the same query, fetched on the loop with no worker thread (issue 22,
item 2: "the same managers and querysets")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse import Client, DeferredFieldError, InvalidInputError
from synapse.aio import AsyncClient
from synapse.local import LocalBackend
from tests.integration.test_async_transfers import threadless

pytestmark = pytest.mark.anyio

#: Task fields by attribute and by wire name, a relation id, nested JSON, a list.
FIELDS = ["id", "project", "project_id", "data_unit_id", "data", "meta", "tags", "created"]


@pytest.fixture
async def aclient(
    synapse_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[AsyncClient]:
    """An async client whose worker-thread paths refuse: rows come from the loop."""
    client = AsyncClient(synapse_backend.url, synapse_backend.token, page_size=5)
    async with threadless(client, monkeypatch):
        yield client


async def test_values_and_values_list_rows_are_the_sync_clients(
    aclient: AsyncClient, synapse_client: Client, demo: dict[str, Any]
) -> None:
    query = aclient.tasks.filter(project=demo["project"]).order_by("-id")
    sync = synapse_client.tasks.filter(project=demo["project"]).order_by("-id")
    assert len(list(sync)) == 12  # three pages of 5 for the async client
    rows = query.values("id", "project_id", "data")
    assert [r async for r in rows] == list(sync.values("id", "project_id", "data"))
    assert [r async for r in query.values()] == list(sync.values())
    assert [r async for r in query.values_list("id", "data_unit_id").aiterator()] == list(
        sync.values_list("id", "data_unit_id")
    )
    flat = query.values_list("id", flat=True)
    ids = list(sync.values_list("id", flat=True))
    assert [i async for i in flat] == ids
    assert [i async for i in flat[3:9]] == ids[3:9]
    assert [i async for i in flat[3:9][1:3]] == ids[4:6]
    assert [i async for i in flat.filter(id__in=ids[:4]).exclude(id=ids[1])] == [
        ids[0],
        *ids[2:4],
    ]
    assert [i async for i in flat.order_by("id")[:2]] == sorted(ids)[:2]
    assert await flat.acount() == 12
    assert await flat[10:20].acount() == 2
    assert await rows.afirst() == next(iter(sync.values("id", "project_id", "data")))
    assert await flat.aexists()
    assert not await query.none().values("id").aexists()
    assert await query.none().values("id").afirst() is None
    assert await query.none().values("id").acount() == 0
    assert "async values_list ['id']" in repr(flat)
    named = [r async for r in query.values_list("id", "project_id", named=True)]
    assert named == list(sync.values_list("id", "project_id"))
    assert [(r.id, r.project_id) for r in named] == [(i, demo["project"]) for i in ids]
    with pytest.raises(InvalidInputError, match="not both"):
        query.values_list("id", flat=True, named=True)


async def test_a_row_that_is_none_still_exists(
    aclient: AsyncClient, synapse_client: Client, demo: dict[str, Any]
) -> None:
    sync = synapse_client.tasks.filter(project=demo["project"]).order_by("id")
    assert sync.values_list("assignment", flat=True).first() is None  # unassigned tasks
    assert sync.values_list("assignment", flat=True).exists()  # ... that exist
    query = aclient.tasks.filter(project=demo["project"]).order_by("id")
    assert await query.values_list("assignment", flat=True).afirst() is None
    assert await query.values_list("assignment", flat=True).aexists()
    assert not await query.filter(id=10**6).values_list("assignment", flat=True).aexists()


async def test_values_ask_the_server_for_their_fields_only(
    aclient: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    synapse_backend.clear_requests()
    query = aclient.tasks.filter(project=demo["project"]).values("data_unit_id")[:3]
    assert synapse_backend.requests == []  # nothing is sent until read
    rows = [r async for r in query]
    assert [set(r) for r in rows] == [{"data_unit_id"}] * 3
    assert [r.query.count("fields=") for r in synapse_backend.requests] == [2]  # id, data_unit


async def test_a_sync_for_on_the_loop_says_what_works_and_run_sync_still_reads(
    synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    async with AsyncClient(synapse_backend.url, synapse_backend.token) as client:
        rows = client.tasks.filter(project=demo["project"]).values_list("id", flat=True)
        with pytest.raises(
            InvalidInputError, match=r"values_list\(\) rows are read with `async for"
        ):
            list(rows)
        with pytest.raises(InvalidInputError, match="aiterator"):
            rows[0]
        assert await client.run_sync(lambda: list(rows)) == [r async for r in rows]


@pytest.mark.parametrize("flatten", [False, True])
@pytest.mark.parametrize("columns", [None, ["id", "data_unit_id", "meta"]])
async def test_tables_are_the_sync_clients(
    aclient: AsyncClient,
    synapse_client: Client,
    demo: dict[str, Any],
    columns: list[str] | None,
    flatten: bool,
) -> None:
    query = aclient.tasks.filter(project=demo["project"]).order_by("id")[1:11]
    sync = synapse_client.tasks.filter(project=demo["project"]).order_by("id")[1:11]
    frame = await query.ato_pandas(columns, flatten=flatten, progress=False)
    assert len(frame) == 10
    pd.testing.assert_frame_equal(frame, sync.to_pandas(columns, flatten=flatten))
    table = await query.ato_arrow(columns, flatten=flatten)
    assert table.equals(sync.to_arrow(columns, flatten=flatten))
    empty = await query.none().ato_pandas(columns)
    pd.testing.assert_frame_equal(empty, sync.none().to_pandas(columns))


async def test_a_column_the_server_does_not_send_is_the_sync_clients_error(
    aclient: AsyncClient, synapse_client: Client, demo: dict[str, Any]
) -> None:
    with pytest.raises(DeferredFieldError, match="did you mean 'data_unit_id'") as caught:
        await aclient.tasks.filter(project=demo["project"]).ato_pandas(["data_unit_idd"])
    with pytest.raises(DeferredFieldError) as expected:
        synapse_client.tasks.filter(project=demo["project"]).to_pandas(["data_unit_idd"])
    assert str(caught.value) == str(expected.value)
    with pytest.raises(InvalidInputError, match="flatten"):  # checked before sending
        await aclient.tasks.all().ato_arrow(["data_unit.id"])


@settings(max_examples=15, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True),
    shape=st.sampled_from(["dict", "tuple", "flat", "named"]),
    start=st.integers(0, 13),
    length=st.none() | st.integers(0, 13),
    page_size=st.integers(1, 6),
)
def test_rows_of_any_slice_and_fields_are_the_sync_clients(
    synapse_backend: LocalBackend,
    synapse_client: Client,
    demo: dict[str, Any],
    fields: list[str],
    shape: str,
    start: int,
    length: int | None,
    page_size: int,
) -> None:
    """Property, over real HTTP: whatever the fields, the shape, the slice and the page
    size, the async client's rows are the sync client's."""
    stop = None if length is None else start + length
    names = fields[:1] if shape == "flat" else fields

    def rows(query: Any) -> Any:
        query = query.filter(project=demo["project"]).order_by("-id").page_size(page_size)
        if shape == "dict":
            return query.values(*names)[start:stop]
        return query.values_list(*names, flat=shape == "flat", named=shape == "named")[start:stop]

    async def run() -> tuple[list[Any], int]:
        async with AsyncClient(synapse_backend.url, synapse_backend.token) as client:
            got = rows(client.tasks)
            return [row async for row in got], await got.acount()

    got, count = asyncio.run(run())
    expected = list(rows(synapse_client.tasks))
    assert got == expected
    assert count == len(expected)
