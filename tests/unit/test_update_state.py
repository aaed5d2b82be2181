"""An object's state around an update: an edit made while the update is in flight is
kept (still to be saved), and an update refused before sending leaves the object as it
was (nothing half set for a later save to send)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from synapse import Client, DeferredFieldError, InvalidInputError
from synapse.aio import AsyncClient, AsyncMockTransport
from synapse.http import MockTransport, Request, Response
from tests.conftest import BASE, TOKEN

TASK = {"id": 5, "project": 1, "data_unit": 2, "data": {}, "meta": {}, "tags": []}


def test_an_edit_made_while_an_update_is_in_flight_is_kept_and_saved_next() -> None:
    sent: list[dict[str, Any]] = []
    release = asyncio.Event()

    async def server(request: Request) -> Response:
        if request.method == "GET":
            return Response(200, json=TASK)
        body = json.loads(request.content)
        sent.append(body)
        if len(sent) == 1:
            await release.wait()  # the first PATCH is in flight while the task is edited
        return Response(200, json={**TASK, **body})

    async def run() -> Any:
        async with AsyncClient(BASE, TOKEN, transport=AsyncMockTransport(server)) as client:
            task = await client.tasks.aget(5)
            saving = asyncio.ensure_future(task.aupdate(meta={"first": 1}))
            while not sent:
                await asyncio.sleep(0)
            task.data = {"edited": True}  # while the PATCH of meta is in flight
            release.set()
            await saving
            assert task.meta == {"first": 1}  # the answer
            assert task.data == {"edited": True}  # the edit, kept...
            assert task.changed_fields == {"data"}  # ...and still to be saved
            await task.asave()
            return task

    task = asyncio.run(run())
    assert sent == [{"meta": {"first": 1}}, {"data": {"edited": True}}]
    assert task.changed_fields == set()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"meta": {"x": 1}, "nope": 2}, "no field 'nope'"),
        ({"meta": {"x": 1}, "is_discarded": "not a bool"}, "is_discarded"),
    ],
)
def test_an_update_refused_before_sending_leaves_the_object_as_it_was(
    fields: dict[str, Any], error: str
) -> None:
    sent: list[Request] = []

    def server(request: Request) -> Response:
        sent.append(request)
        return Response(200, json=TASK)

    with Client(BASE, TOKEN, transport=MockTransport(server)) as client:
        task = client.tasks.get(5)
        with pytest.raises(InvalidInputError, match=error):
            task.update(**fields)
        assert task.meta == {}
        assert task.changed_fields == set()
    assert [r.method for r in sent] == ["GET"]


def test_a_whole_update_of_a_trimmed_object_is_refused_before_setting_anything() -> None:
    async def server(request: Request) -> Response:
        return Response(200, json={"count": 1, "next": None, "results": [{"id": 7, "name": "P"}]})

    async def run() -> None:
        async with AsyncClient(BASE, TOKEN, transport=AsyncMockTransport(server)) as client:
            plugin = await client.plugins.only("id", "name").afirst()
            assert plugin is not None
            with pytest.raises(DeferredFieldError, match="updated whole"):
                await plugin.aupdate(name="renamed")
            assert plugin.name == "P"
            assert plugin.changed_fields == set()

    asyncio.run(run())


def test_awaiting_a_job_a_sync_client_loaded_is_refused_before_any_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def server(request: Request) -> Response:
        return Response(200, json={"id": 3, "status": "running"})

    slept: list[float] = []

    async def recorded(seconds: float) -> None:
        slept.append(seconds)

    with Client(BASE, TOKEN, transport=MockTransport(server)) as client:
        job = client.jobs.get(3)
        monkeypatch.setattr(asyncio, "sleep", recorded)
        with pytest.raises(InvalidInputError, match="await_"):
            asyncio.run(job.await_(poll=5))
    assert slept == []
