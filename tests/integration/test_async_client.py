"""The async client over real HTTP against the local backend: the same object API,
awaited (issue 22)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse import Client, ClientConnectionError, InvalidInputError, JobStatus, NotFoundError
from synapse.aio import AsyncClient, AsyncQuerySet
from synapse.local import LocalBackend
from synapse.resources import Job, Project, Task

pytestmark = pytest.mark.anyio


@pytest.fixture
async def aclient(synapse_backend: LocalBackend) -> AsyncIterator[AsyncClient]:
    client = AsyncClient(synapse_backend.url, synapse_backend.token, page_size=5)
    client.transport.policy = dataclasses.replace(client.transport.policy, sleep=lambda s: None)
    async with client:
        yield client


def paths(backend: LocalBackend) -> list[tuple[str, str, str]]:
    return [(r.method, r.path, r.query) for r in backend.requests]


async def test_listing_counts_and_slices_match_the_sync_client(
    aclient: AsyncClient, synapse_client: Client, demo: dict[str, Any]
) -> None:
    query = aclient.tasks.filter(project=demo["project"]).order_by("-id")
    assert isinstance(query, AsyncQuerySet)
    expected = [t.id for t in synapse_client.tasks.filter(project=demo["project"]).order_by("-id")]
    assert len(expected) == 12
    assert [t.id async for t in query] == expected
    assert [t.id async for t in query.aiterator(chunk_size=2)] == expected
    assert [t.id async for t in query[3:9]] == expected[3:9]
    assert await query.acount() == 12
    assert await query[10:20].acount() == 2
    first, last = await query.afirst(), await query.alast()
    assert (first and first.id, last and last.id) == (expected[0], expected[-1])
    assert await query.aexists()
    assert not await query.none().aexists()
    assert await aclient.tasks.filter(project=demo["project"] + 100).acount() == 0
    assert isinstance(first, Task)
    assert first.data == synapse_client.tasks.get(expected[0]).data


async def test_building_a_query_sends_nothing(
    aclient: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    synapse_backend.clear_requests()
    query = aclient.tasks.filter(project=demo["project"]).order_by("id").expand("data_unit")[2:4]
    query = query.only("id", "data")
    assert "AsyncQuerySet Task" in repr(query)
    assert synapse_backend.requests == []
    assert [t.id async for t in query] == [3, 4]
    assert len(synapse_backend.requests) == 1  # one page of 2


async def test_get_save_refresh_delete(
    aclient: AsyncClient, synapse_client: Client, synapse_backend: LocalBackend, demo: Any
) -> None:
    task = await aclient.tasks.aget(1)
    assert task.id == 1
    assert (await aclient.tasks.aget(pk=1)).id == 1  # Django's name for the key
    synapse_backend.clear_requests()
    task.meta = {"reviewed": True}
    await task.asave()
    assert paths(synapse_backend)[0][:2] == ("PATCH", "/tasks/1/")
    await task.asave()  # nothing changed: nothing sent
    assert len(synapse_backend.requests) == 1
    assert synapse_client.tasks.get(1).meta == {"reviewed": True}
    synapse_client.tasks.get(1).update(meta={"from": "sync"})
    await task.arefresh()
    assert task.meta == {"from": "sync"}
    with pytest.raises(Task.DoesNotExist):
        await aclient.tasks.aget(99999)
    with pytest.raises(NotFoundError):
        await aclient.tasks.aget(99999)
    tag = await aclient.task_tags.afirst()
    assert tag is not None
    await tag.adelete()
    with pytest.raises(InvalidInputError, match="deleted"):
        await tag.asave()
    with pytest.raises(NotFoundError):
        await aclient.task_tags.aget(tag.id)


async def test_create_get_or_create_bulk_and_in_bulk(
    aclient: AsyncClient, synapse_client: Client, demo: dict[str, Any]
) -> None:
    project = await aclient.projects.acreate(title="async")
    assert isinstance(project, Project)
    assert synapse_client.projects.get(project.id).title == "async"
    found, created = await aclient.projects.aget_or_create(id=project.id)
    assert (found.id, created) == (project.id, False)
    # TaskManager has a create of its own (one batch request): its acreate runs it
    task = await aclient.tasks.acreate(project=project.id, data_unit=1)
    assert task.project_id == project.id
    report = await aclient.tasks.abulk_create(
        [{"project": project.id, "data_unit": 2}, {"project": project.id, "data_unit": 99999}]
    )
    assert len(report.created) == 1
    assert len(report.failed) == 1
    tags = await aclient.task_tags.abulk_create(
        [{"project": project.id, "name": f"t{i}"} for i in range(6)]
    )
    assert tags.ok
    assert [t.name for t in tags.created] == [f"t{i}" for i in range(6)]  # in order
    ids = [t.id for t in tags.created]
    by_id = await aclient.task_tags.ain_bulk([ids[4], ids[0], 99999])
    assert sorted(by_id) == sorted([ids[0], ids[4]])
    with pytest.raises(InvalidInputError):
        await aclient.projects.acreate(title=["not", "a", "title"])


async def test_actions_run_wait_logs_annotate(
    aclient: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    plugin = await aclient.plugins.aget(demo["plugins"]["yolo-trainer"])
    job = await plugin.arun(action="train", params={"epochs": 2})
    assert isinstance(job, Job)
    assert await job.await_(poll=0.01) is job
    assert job.status is JobStatus.SUCCEEDED
    assert len(await job.alogs()) == 3
    task = await aclient.tasks.aget(2)
    await task.aannotate({"boxes": [1]}, action="save", schema="any")
    assert task.data == {"boxes": [1]}
    assert paths(synapse_backend)[-1] == ("PUT", "/tasks/2/annotate_task_data/", "schema=any")


async def test_sync_calls_on_the_loop_raise_instead_of_blocking(
    aclient: AsyncClient, synapse_client: Client, synapse_backend: LocalBackend, demo: Any
) -> None:
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="await"):
        aclient.tasks.get(1)
    with pytest.raises(InvalidInputError, match="await"):
        list(aclient.tasks.all())
    assert synapse_backend.requests == []
    sync_task = synapse_client.tasks.get(1)
    with pytest.raises(InvalidInputError, match="AsyncClient"):
        await sync_task.asave()
    with pytest.raises(AttributeError):
        aclient.no_such_kind  # noqa: B018
    assert "tasks" in dir(aclient)


async def test_expanded_relations_come_without_a_request(
    aclient: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    task = await aclient.tasks.all().expand("data_unit").afirst()
    assert task is not None
    synapse_backend.clear_requests()
    assert task.data_unit is not None
    assert synapse_backend.requests == []
    project = await aclient.projects.aget(demo["project"])
    assert await project.tasks.acount() == 12  # a relation's query is async too


async def test_relations_load_with_await_once_then_from_the_cache(
    aclient: AsyncClient,
    synapse_client: Client,
    synapse_backend: LocalBackend,
    demo: dict[str, Any],
) -> None:
    task = await aclient.tasks.aget(1)
    other = await aclient.tasks.aget(2)
    synapse_backend.clear_requests()
    project = await task.arelated(Task.project)
    assert isinstance(project, Project)
    assert project.id == task.project_id == demo["project"]
    assert [(m, p) for m, p, _ in paths(synapse_backend)] == [
        ("GET", f"/projects/{demo['project']}/")
    ]
    assert project.title == synapse_client.projects.get(demo["project"]).title
    # the attribute now holds it, and another task's project comes from the cache
    assert task.project is project
    synapse_backend.clear_requests()
    assert (await other.arelated("project")).id == project.id
    assert (await task.arelated("project")) is project
    assert synapse_backend.requests == []
    # a copy per owner: an unsaved edit through one task's project stays there
    project.title = "edited here only"
    assert (await other.arelated(Task.project)).title != "edited here only"
    # an expanded relation needs no request at all
    expanded = await aclient.tasks.all().expand("data_unit").afirst()
    assert expanded is not None
    synapse_backend.clear_requests()
    assert (await expanded.arelated(Task.data_unit)) is expanded.data_unit
    assert synapse_backend.requests == []
    unloaded = await aclient.tasks.aget(3)
    with pytest.raises(InvalidInputError, match="arelated for a relation"):
        unloaded.data_unit  # noqa: B018 - the attribute cannot wait on the loop
    with pytest.raises(InvalidInputError, match="no relation 'projet'"):
        await task.arelated("projet")
    with pytest.raises(InvalidInputError, match="loaded by an AsyncClient"):
        await synapse_client.tasks.get(1).arelated(Task.project)
    with pytest.raises(InvalidInputError, match="not one of Project's"):
        await project.arelated(Task.project)


async def test_stable_walks(aclient: AsyncClient, demo: dict[str, Any]) -> None:
    newest_first = [t.id async for t in aclient.tasks.all().aiterator(stable=True)]
    assert newest_first == sorted(newest_first, reverse=True)
    assert len(newest_first) == await aclient.tasks.acount()
    by_key = [t.id async for t in aclient.tasks.order_by("id").aiterator(stable=True)]
    assert by_key == sorted(newest_first)
    with pytest.raises(InvalidInputError, match="no stable iteration"):
        [u async for u in aclient.data_units.all().aiterator(stable=True)]


async def test_retries_are_awaited_through_the_one_policy(
    synapse_backend: LocalBackend, synapse_client: Client, demo: dict[str, Any]
) -> None:
    waits: list[float] = []

    async def record(seconds: float) -> None:
        waits.append(seconds)

    client = AsyncClient(synapse_backend.url, synapse_backend.token)
    client.transport.policy = dataclasses.replace(client.transport.policy, sleep=record)  # type: ignore[arg-type]
    synapse_backend.fail_next("/projects/", 503)
    async with client:
        assert await client.projects.acount() == synapse_client.projects.count()
    assert len(waits) == 1


async def test_aclose_leaves_nothing_running(
    synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    before = asyncio.all_tasks()
    client = AsyncClient(synapse_backend.url, synapse_backend.token, page_size=1)
    pages = client.tasks.all().aiterator()
    assert (await anext(pages)).id is not None
    await anext(pages)  # the other pages are in flight now
    assert client.apage_fetcher.tasks
    await client.aclose()
    assert client.apage_fetcher.tasks == set()
    await pages.aclose()
    assert asyncio.all_tasks() <= before


@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    page_size=st.integers(1, 7),
    in_flight=st.integers(1, 6),
    start=st.integers(0, 14),
    length=st.integers(0, 14),
    every=st.integers(2, 3),
)
def test_every_item_once_in_order_under_503s_and_429s(
    synapse_backend: LocalBackend,
    page_size: int,
    in_flight: int,
    start: int,
    length: int,
    every: int,
) -> None:
    """Property, over real HTTP: whatever the page size, the pages in flight, the slice
    and the injected faults, an async listing is the list, in order, each item once."""
    synapse_backend.reset()
    synapse_backend.clear_requests()
    for i in range(13):
        synapse_backend.backend.new("projects", {"title": f"p{i}"})
    synapse_backend.set_faults(rate_limit_every=every, retry_after=0.0, error_rate=0.2, seed=every)

    async def run() -> tuple[list[int], list[int], int]:
        client = AsyncClient(
            synapse_backend.url,
            synapse_backend.token,
            page_size=page_size,
            pages_in_flight=in_flight,
            max_retries=12,
        )
        client.transport.policy = dataclasses.replace(client.transport.policy, sleep=lambda s: None)
        async with client:
            query = client.projects.order_by("id")
            whole = [p.id async for p in query]
            part = [p.id async for p in query[start : start + length]]
            return whole, part, await query.acount()

    try:
        whole, part, count = asyncio.run(run())
    finally:
        synapse_backend.set_faults(rate_limit_every=0, error_rate=0.0)
    assert 429 in {r.status for r in synapse_backend.requests}  # faults were injected
    assert whole == sorted(set(whole))
    assert len(whole) == count == 13
    assert part == whole[start : start + length]


def test_one_client_serves_successive_event_loops(
    synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    """A script that calls ``asyncio.run`` twice with one client gets a new pool in the
    second loop, not connections tied to the closed one."""
    client = AsyncClient(synapse_backend.url, synapse_backend.token)
    first = asyncio.run(client.projects.aget(demo["project"]))
    second = asyncio.run(client.projects.aget(demo["project"]))
    assert first.id == second.id == demo["project"]
    asyncio.run(client.aclose())


async def test_https_to_a_plain_http_server_says_tls_and_that_nothing_was_sent(
    synapse_backend: LocalBackend,
) -> None:
    url = synapse_backend.url.replace("http://", "https://")
    async with AsyncClient(url, "t" * 20, max_retries=0) as client:
        with pytest.raises(ClientConnectionError, match=r"TLS handshake failed.*http://"):
            await client.projects.acount()


async def test_acreate_refuses_a_near_miss_before_sending(
    aclient: AsyncClient, synapse_backend: LocalBackend
) -> None:
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="did you mean 'title'"):
        await aclient.projects.acreate(titel="x")
    assert synapse_backend.requests == []
