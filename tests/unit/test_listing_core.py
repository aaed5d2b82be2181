"""One listing core for both clients: the same scripted server, listed through the
threaded `ConcurrentFetcher` and the asyncio `AsyncPageFetcher`, gives the same items and
the same errors (both drive `PageWalk`; only sending differs). No clock: retries wait
through a no-op sleep."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse import Client, ClientError
from synapse.aio import AsyncClient, AsyncMockTransport
from synapse.http import MockTransport, Request, Response
from synapse.pagination import PagePlan, PageWalk, StableSteps, StableWalk
from tests.conftest import BASE, waits_with

LIST_URL = f"{BASE}/sdk/tasks/"
Handler = Callable[[Request], Response]


def page_of(request: Request, total: int, *, cap: int | None = None, cut: int = 0) -> Response:
    query = dict(request.params)
    size, page = int(query["page_size"]), int(query["page"])
    if cap is not None:
        size = min(size, cap)
    if page > max(1, -(-total // size)):
        return Response(404, json={"detail": "Invalid page."})
    rows = [{"id": i + 1, "project": 1} for i in range((page - 1) * size, min(total, page * size))]
    rows = rows[: len(rows) - cut]
    following = f"{LIST_URL}?page={page + 1}" if page * size < total else None
    return Response(200, json={"count": total, "next": following, "previous": None,
                               "results": rows})  # fmt: skip


def number(request: Request) -> int:
    return int(dict(request.params)["page"])


def once_each(fault: Callable[[], Response], pages: set[int], total: int) -> Handler:
    """Pages in ``pages`` fail with ``fault()`` on their first request, then answer."""
    failed: set[int] = set()
    lock = threading.Lock()

    def handler(request: Request) -> Response:
        with lock:
            first = number(request) in pages and number(request) not in failed
            failed.add(number(request))
        return fault() if first else page_of(request, total)

    return handler


def busy() -> Response:
    return Response(503, json={"detail": "busy"})


def slow_down() -> Response:
    return Response(429, headers={"Retry-After": "0"}, json={"detail": "slow down"})


def vanished(request: Request) -> Response:
    if number(request) == 3:
        return Response(404, json={"detail": "Invalid page."})
    return page_of(request, 50)


def short_last(request: Request) -> Response:
    # announced 50, the last page holds 7 of its 10
    return page_of(request, 50, cut=3 if number(request) == 5 else 0)


def count_changes(request: Request) -> Response:
    return page_of(request, 50 if number(request) < 2 else 51)


def capped(request: Request) -> Response:
    return page_of(request, 40, cap=7)  # the server caps page sizes at 7


def size_changes(request: Request) -> Response:
    return page_of(request, 40, cap=None if number(request) < 3 else 5)


def not_json(request: Request) -> Response:
    return (
        Response(200, content=b'{"results": "none"}')
        if number(request) == 2
        else page_of(request, 30)
    )


SCENARIOS: dict[str, Callable[[], Handler]] = {
    "plain": lambda: lambda request: page_of(request, 35),
    "empty": lambda: lambda request: page_of(request, 0),
    "503s": lambda: once_each(busy, {1, 2, 4}, 45),
    "429s": lambda: once_each(slow_down, {2, 3, 5}, 45),
    "vanished page": lambda: vanished,
    "short last page": lambda: short_last,
    "count change": lambda: count_changes,
    "server caps page size": lambda: capped,
    "page size changes": lambda: size_changes,
    "a page of no list": lambda: not_json,
}


Outcome = tuple[list[int], str | None]


def sync_outcome(handler: Handler, in_flight: int, window: slice) -> Outcome:
    client = waits_with(
        Client(BASE, "t" * 20, transport=MockTransport(handler), page_size=10,
               pages_in_flight=in_flight, max_retries=5)
    )  # fmt: skip
    seen: list[int] = []
    try:
        for task in client.tasks.all()[window].iterator():
            seen.append(task.id)
    except ClientError as error:
        return seen, f"{type(error).__name__}: {error.message}"
    finally:
        client.close()
    return seen, None


def async_outcome(handler: Handler, in_flight: int, window: slice) -> Outcome:
    async def run() -> Outcome:
        client = AsyncClient(BASE, "t" * 20, transport=AsyncMockTransport(handler), page_size=10,
                             pages_in_flight=in_flight, max_retries=5)  # fmt: skip
        client.transport.policy = dataclasses.replace(client.transport.policy, sleep=lambda s: None)
        seen: list[int] = []
        async with client:
            try:
                async for task in client.tasks.all()[window].aiterator():
                    seen.append(task.id)
            except ClientError as error:
                return seen, f"{type(error).__name__}: {error.message}"
        return seen, None

    return asyncio.run(run())


@pytest.mark.parametrize("in_flight", [1, 3])
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_both_fetchers_give_the_same_items_and_errors(name: str, in_flight: int) -> None:
    whole = slice(None)
    synced = sync_outcome(SCENARIOS[name](), in_flight, whole)
    awaited = async_outcome(SCENARIOS[name](), in_flight, whole)
    assert synced == awaited


def test_the_scenarios_end_as_scripted() -> None:
    """The scenarios above are not vacuous: each ends as it was written to."""
    outcomes = {name: sync_outcome(make(), 3, slice(None)) for name, make in SCENARIOS.items()}
    assert outcomes["plain"] == (list(range(1, 36)), None)
    assert outcomes["empty"] == ([], None)
    assert outcomes["503s"] == outcomes["429s"] == (list(range(1, 46)), None)
    assert outcomes["server caps page size"] == (list(range(1, 41)), None)
    items, error = outcomes["vanished page"]
    assert items == list(range(1, 21))
    assert error is not None
    assert error.startswith("IncompleteResultError")
    assert "page 3" in error
    items, error = outcomes["short last page"]
    assert items == list(range(1, 48))
    assert error is not None
    assert "47 of the 50" in error
    assert (outcomes["count change"][1] or "").startswith("IncompleteResultError")
    assert "counts 51" in (outcomes["count change"][1] or "")
    assert outcomes["page size changes"][1] == (
        "ClientError: the server changed its page size during a listing"
    )
    assert outcomes["a page of no list"][0] == list(range(1, 11))
    assert outcomes["a page of no list"][1] == (
        "ClientError: listing sdk/tasks/: page 2: expected a page of results, got dict"
    )


@settings(max_examples=25)
@given(
    name=st.sampled_from(sorted(SCENARIOS)),
    in_flight=st.integers(1, 5),
    start=st.integers(0, 60),
    length=st.integers(0, 50),
)
def test_slices_agree_between_the_fetchers(
    name: str, in_flight: int, start: int, length: int
) -> None:
    window = slice(start, start + length)
    synced = sync_outcome(SCENARIOS[name](), in_flight, window)
    assert synced == async_outcome(SCENARIOS[name](), in_flight, window)


def test_the_walk_widens_while_the_consumer_waits_and_narrows_when_pages_are_there() -> None:
    walk = PageWalk(PagePlan("/sdk/tasks/", ()), {}, in_flight=2, max_in_flight=4)
    body = b'{"count": 100, "next": "n", "results": [%s]}' % b",".join(b"{}" for _ in range(100))
    assert walk.start(body)
    assert walk.last == 1  # one page holds all: nothing to send
    assert walk.to_send(0) == []
    walk = PageWalk(PagePlan("/sdk/tasks/", (), page_size=10), {}, in_flight=2, max_in_flight=4)
    first = b'{"count": 100, "next": "n", "results": [%s]}' % b",".join(b"{}" for _ in range(10))
    assert walk.start(first)
    assert walk.to_send(0) == [2, 3]
    assert walk.advance(False, 1) == [4]  # waited on page 2: window 3
    assert walk.number == 2
    assert walk.window == 3
    assert walk.advance(False, 1) == [5, 6]  # waited again: window 4, the cap
    assert walk.advance(False, 3) == []
    assert walk.window == 4
    for _ in range(3):  # there, three times: not yet a whole window (4) of them
        assert walk.advance(True, 3) == []
    assert walk.window == 4
    assert walk.advance(True, 3) == []  # the fourth in a row: narrower
    assert walk.window == 3
    assert walk.advance(False, 2) == [7]  # a wait widens at once, and restarts the count
    assert walk.window == 4
    for _ in range(3):
        assert walk.advance(True, 3) == []
    assert walk.window == 4  # three in a row since the wait: not yet narrower
    assert walk.number == 12  # eleven pages on from the first


def test_stable_steps_name_the_requests_and_raise_after_a_page_without_its_key() -> None:
    steps = StableSteps(PagePlan("/sdk/tasks/", (("ordering", "x"),), page_size=2),
                        StableWalk("keyset"))  # fmt: skip
    assert steps.request() == ("/sdk/tasks/", [("ordering", "id"), ("page_size", "2")])
    page = steps.receive(b'{"next": "n", "results": [{"id": 4}, {"id": 9}]}', str)
    assert page is not None
    assert [item["id"] for item in page.items] == [4, 9]
    assert steps.request() == (
        "/sdk/tasks/", [("ordering", "id"), ("page_size", "2"), ("id__gt", "9")]
    )  # fmt: skip
    page = steps.receive(b'{"next": "n", "results": [{"name": "x"}]}', str)
    assert page is not None
    assert page.items == [{"name": "x"}]  # handed out, then:
    with pytest.raises(ClientError, match="needs each item's 'id'"):
        steps.request()
    with pytest.raises(ValueError, match="whole list"):
        StableSteps(PagePlan("/sdk/tasks/", (), low=3), StableWalk("cursor"))
