"""Async pages in flight: N at once, items in order and each once, and nothing left
running after a break, a cancellation or ``aclose()`` (issue 22). No clock: the mock
server's pages wait on events the test controls."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse import ClientError, IncompleteResultError
from synapse.aio import AsyncClient, AsyncMockTransport
from synapse.aio.pagination import AsyncPageFetcher
from synapse.http import Request, Response
from tests.conftest import BASE

pytestmark = pytest.mark.anyio

LIST_URL = f"{BASE}/sdk/tasks/"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def page_of(request: Request, total: int) -> Response:
    query = dict(request.params)
    size, page = int(query["page_size"]), int(query["page"])
    rows = [{"id": i + 1, "project": 1} for i in range((page - 1) * size, min(total, page * size))]
    last = max(1, -(-total // size))
    following = f"{LIST_URL}?page={page + 1}" if page < last else None
    return Response(200, json={"count": total, "next": following, "previous": None,
                               "results": rows})  # fmt: skip


def client_for(handler: Callable[[Request], Awaitable[Response]], **kwargs: Any) -> AsyncClient:
    client = AsyncClient(BASE, "t" * 20, transport=AsyncMockTransport(handler), **kwargs)
    client.transport.policy = dataclasses.replace(client.transport.policy, sleep=lambda s: None)
    return client


async def loop_turn() -> None:
    """One turn of the event loop for the other tasks: no clock is involved."""
    loop = asyncio.get_running_loop()
    turned = loop.create_future()
    loop.call_soon(turned.set_result, None)
    await turned


def page_number(request: Request) -> int:
    return int(dict(request.params)["page"])


async def test_n_pages_are_in_flight_at_once_and_items_come_in_order() -> None:
    in_flight, seen_max, total = 0, 0, 40
    full = asyncio.Event()

    async def handler(request: Request) -> Response:
        nonlocal in_flight, seen_max
        in_flight += 1
        seen_max = max(seen_max, in_flight)
        try:
            if page_number(request) > 1 and not full.is_set():
                if in_flight == 3:  # the first three pages after the first are all out
                    full.set()
                await full.wait()
            return page_of(request, total)
        finally:
            in_flight -= 1

    async with client_for(handler, page_size=4, pages_in_flight=3) as client:
        client.apage_fetcher = AsyncPageFetcher(3, max_in_flight=3)  # a fixed window
        got = [t.id async for t in client.tasks.all()]
    assert got == list(range(1, total + 1))
    assert seen_max == 3  # never more than the window


async def test_the_window_widens_while_the_consumer_waits_and_never_passes_its_cap() -> None:
    held: dict[int, asyncio.Event] = {}
    most, now = 0, 0

    async def handler(request: Request) -> Response:
        nonlocal most, now
        now += 1
        most = max(most, now)
        try:
            if page_number(request) > 1:
                await held.setdefault(page_number(request), asyncio.Event()).wait()
            return page_of(request, 40)
        finally:
            now -= 1

    async with client_for(handler, page_size=1, pages_in_flight=2) as client:
        assert client.apage_fetcher.max_in_flight == 8  # the sync fetcher's default cap
        client.apage_fetcher = AsyncPageFetcher(2, max_in_flight=5)

        async def consume() -> list[int]:
            return [t.id async for t in client.tasks.all()]

        consumer = asyncio.ensure_future(consume())
        # The consumer waits on each page in turn: the window grows by one per wait,
        # so 3, then 4, then 5 requests come to be held at once, never 6.
        for page in range(2, 41):
            while page not in held:
                await loop_turn()
            for _ in range(3):
                await loop_turn()
            held[page].set()
        got = await consumer
    assert got == list(range(1, 41))
    assert most == 5  # widened from 2 up to the cap, not past it


def holding_after_page_two(cancelled: list[int]) -> Callable[[Request], Awaitable[Response]]:
    """Pages 1-2 of 100 tasks answer; the later ones stay in flight until cancelled,
    each noted in ``cancelled``."""
    never = asyncio.Event()

    async def handler(request: Request) -> Response:
        if page_number(request) > 2:
            try:
                await never.wait()
            except asyncio.CancelledError:
                cancelled.append(page_number(request))
                raise
        return page_of(request, 100)

    return handler


async def test_a_break_cancels_the_pages_in_flight() -> None:
    cancelled: list[int] = []
    client = client_for(holding_after_page_two(cancelled), page_size=10, pages_in_flight=4)
    async with contextlib.aclosing(client.tasks.all().aiterator()) as tasks:
        async for task in tasks:
            if task.id == 11:  # the first of page 2: pages 3-5 are being fetched
                break
    assert sorted(cancelled) == [3, 4, 5]
    assert client.apage_fetcher.tasks == set()
    await client.aclose()


async def test_a_plain_break_is_cleaned_up_by_the_loop() -> None:
    never = asyncio.Event()

    async def handler(request: Request) -> Response:
        if page_number(request) > 2:
            await never.wait()
        return page_of(request, 100)

    client = client_for(handler, page_size=10, pages_in_flight=4)
    async for task in client.tasks.all():
        if task.id == 11:
            break
    assert client.apage_fetcher.tasks  # pages 3-5 in flight until the loop cleans up
    for _ in range(10):  # the loop finalizes the abandoned generator on its next turns
        if not client.apage_fetcher.tasks:
            break
        await loop_turn()
    assert client.apage_fetcher.tasks == set()
    await client.aclose()


async def test_cancelling_the_consumer_leaves_no_task_running() -> None:
    started = asyncio.Event()
    never = asyncio.Event()

    async def handler(request: Request) -> Response:
        if page_number(request) > 1:
            if page_number(request) == 4:
                started.set()
            await never.wait()
        return page_of(request, 100)

    client = client_for(handler, page_size=10, pages_in_flight=3)
    before = asyncio.all_tasks()

    async def consume() -> list[int]:
        return [t.id async for t in client.tasks.all()]

    consumer = asyncio.ensure_future(consume())
    await started.wait()
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert client.apage_fetcher.tasks == set()
    assert asyncio.all_tasks() <= before
    await client.aclose()


async def test_aclose_cancels_what_a_suspended_listing_has_in_flight() -> None:
    never = asyncio.Event()

    async def handler(request: Request) -> Response:
        if page_number(request) > 1:
            await never.wait()
        return page_of(request, 100)

    client = client_for(handler, page_size=10, pages_in_flight=4)
    tasks = client.tasks.all().aiterator()
    for _ in range(10):  # the first page
        await anext(tasks)
    consumer = asyncio.ensure_future(anext(tasks))  # waits for page 2, pages 2-5 in flight
    for _ in range(5):
        await loop_turn()
    # pages 2-5, and 6: the consumer waits on page 2, which widens the window by one
    assert len(client.apage_fetcher.tasks) == 5
    await client.aclose()
    assert client.apage_fetcher.tasks == set()
    with pytest.raises(ClientError, match="client was closed"):
        await consumer  # the listing says why, as the sync one does
    await tasks.aclose()


@settings(max_examples=60)
@given(
    total=st.integers(0, 90),
    page_size=st.integers(1, 9),
    in_flight=st.integers(1, 6),
    start=st.integers(0, 100),
    length=st.integers(0, 60),
    seed=st.integers(0, 10**6),
)
def test_every_item_once_in_order_and_slices_under_503s_and_429s(
    total: int, page_size: int, in_flight: int, start: int, length: int, seed: int
) -> None:
    rng = random.Random(seed)
    faults: list[int] = []

    async def handler(request: Request) -> Response:
        await loop_turn()  # let the other pages interleave
        roll = rng.random()
        if roll < 0.15:
            faults.append(503)
            return Response(503, json={"detail": "busy"})
        if roll < 0.3:
            faults.append(429)
            return Response(429, headers={"Retry-After": "0"}, json={})
        assert urlsplit(request.url).path == "/sdk/tasks/"
        return page_of(request, total)

    async def run() -> tuple[list[int], list[int], int]:
        async with client_for(
            handler, page_size=page_size, pages_in_flight=in_flight, max_retries=30
        ) as client:
            whole = [t.id async for t in client.tasks.all()]
            part = [t.id async for t in client.tasks.all()[start : start + length]]
            return whole, part, await client.tasks.all()[start:].acount()

    whole, part, counted = asyncio.run(run())
    assert whole == list(range(1, total + 1))
    assert part == whole[start : start + length]
    assert counted == max(0, total - start)


@pytest.mark.parametrize("in_flight", [1, 4])
async def test_a_vanished_page_or_a_changed_count_raises_instead_of_shortening(
    in_flight: int,
) -> None:
    async def vanishing(request: Request) -> Response:
        if page_number(request) == 3:
            return Response(404, json={"detail": "Invalid page."})
        return page_of(request, 50)

    async with client_for(vanishing, page_size=10, pages_in_flight=in_flight) as client:
        seen: list[int] = []

        async def consume() -> None:
            async for task in client.tasks.all():
                seen.append(task.id)

        with pytest.raises(IncompleteResultError, match="page 3"):
            await consume()
        assert seen == list(range(1, 21))

    async def growing(request: Request) -> Response:
        return page_of(request, 50 if page_number(request) < 2 else 51)

    async with client_for(growing, page_size=10, pages_in_flight=in_flight) as client:
        with pytest.raises(IncompleteResultError, match="counts 51"):
            [t async for t in client.tasks.all()]

    async def past_the_end(request: Request) -> Response:
        if page_number(request) > 5:
            return Response(404, json={"detail": "Invalid page."})
        return page_of(request, 50)

    async with client_for(past_the_end, page_size=10, pages_in_flight=in_flight) as client:
        assert [t async for t in client.tasks.all().page_size(10)[60:70]] == []


async def test_a_page_cut_short_is_retried_like_a_broken_connection() -> None:
    served: list[int] = []

    async def handler(request: Request) -> Response:
        served.append(page_number(request))
        whole = page_of(request, 30)
        if served.count(2) == 1 and page_number(request) == 2:
            return Response(200, content=whole.content[:40])  # the connection cut inside
        return whole

    async with client_for(handler, page_size=10, pages_in_flight=2) as client:
        assert [t.id async for t in client.tasks.all()] == list(range(1, 31))
    assert served.count(2) == 2


@pytest.mark.parametrize("shape", ["values", "values_list"])
async def test_a_break_out_of_rows_cancels_the_pages_in_flight(shape: str) -> None:
    """``values()`` rows walk the same pages: leaving the loop cancels the pages still
    being fetched, once the iterator is closed (``aclosing``, or by the loop)."""
    cancelled: list[int] = []
    client = client_for(holding_after_page_two(cancelled), page_size=10, pages_in_flight=4)
    rows = getattr(client.tasks.all(), shape)("id")
    async with contextlib.aclosing(rows.aiterator()) as walk:
        async for row in walk:
            if (row["id"] if shape == "values" else row[0]) == 11:  # pages 3-5 in flight
                assert client.apage_fetcher.tasks
                break
    assert sorted(cancelled) == [3, 4, 5]
    assert client.apage_fetcher.tasks == set()
    await client.aclose()
