"""Fetching the pages of a list with asyncio: up to N page requests in flight, the
pages handed out in order, each item once.

The planning (`plan_pages`), the parsing (`_parse_page`) and the page type are
`synapse.pagination`'s; this module only schedules. Every page request is a task the
fetcher keeps: leaving an ``async for`` (break, an error, a cancellation) cancels the
ones in flight, and `AsyncPageFetcher.aclose` cancels and awaits whatever is left.
"""

from __future__ import annotations

import asyncio
import math
import weakref
from collections import deque
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from synapse.aio.transport import AsyncTransport
from synapse.errors import ClientError, NotFoundError
from synapse.pagination import (
    MAX_PAGE_SIZE,
    Page,
    PagePlan,
    StableWalk,
    _parse_page,
    _Tally,
    _whole_json,
    plan_pages,
)

__all__ = ["AsyncPageFetcher", "astable_pages"]


class AsyncPageFetcher:
    """Keeps up to ``in_flight`` page requests going while pages are consumed.

    As the sync `ConcurrentFetcher`, step for step: the first page alone (its ``count``
    says how many follow), then the rest ``in_flight`` at a time, each retried in its own
    task by the transport without reordering anything; a page that vanishes or a count
    that changes raises `IncompleteResultError` (the same tally). ``server_max``
    (page-size caps learnt per path) is shared with the client's sync fetcher.
    """

    def __init__(self, in_flight: int = 4, server_max: dict[str, int] | None = None) -> None:
        if isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1:
            raise ValueError(f"in_flight must be an int >= 1, got {in_flight!r}")
        self.in_flight = in_flight
        self.server_max: dict[str, int] = {} if server_max is None else server_max
        self.tasks: set[asyncio.Task[Any]] = set()
        #: Page tasks that `aclose` cancelled: their listings say the client was closed.
        self._closed: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    def _start(self, fetch: Any, number: int) -> asyncio.Task[bytes]:
        task: asyncio.Task[bytes] = asyncio.ensure_future(fetch(number))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def pages(self, transport: AsyncTransport, plan: PagePlan) -> AsyncGenerator[Page, None]:
        wanted = None if plan.high is None else plan.high - plan.low
        if wanted is not None and wanted <= 0:
            return
        cap = self.server_max.get(plan.path)
        default = min(plan.page_size, cap or MAX_PAGE_SIZE)
        size, number, skip = plan_pages(plan.low, None if plan.fixed_size else plan.high, default)
        if cap and size > cap:
            size, number, skip = plan_pages(plan.low, None, cap)

        async def fetch(page: int) -> bytes:
            params = [*plan.params, ("page_size", str(size)), ("page", str(page))]
            answer = await transport.send("GET", plan.path, params=params, complete=_whole_json)
            return answer.content

        def parse(content: bytes, page: int) -> tuple[int | None, list[Any], str | None]:
            try:
                return _parse_page(content, plan.model)
            except ClientError as error:
                raise ClientError(f"listing {plan.path}: page {page}: {error.message}") from None

        async def awaited(task: asyncio.Task[bytes]) -> bytes:
            try:
                return await task
            except asyncio.CancelledError:
                if task in self._closed:  # not this listing's own cancellation
                    raise ClientError(
                        "the client was closed while this listing was in progress"
                    ) from None
                raise

        try:
            content = await fetch(number)
        except NotFoundError as error:
            if number == 1:
                raise
            # DRF answers 404 for a page past the end: a range that starts there is
            # empty. Ask the count to tell that apart from a page that vanished.
            one = [*plan.params, ("page_size", "1"), ("page", "1")]
            answer = await transport.send("GET", plan.path, params=one)
            count = parse(answer.content, 1)[0]
            if count is None or count > plan.low:
                raise _Tally(plan, count).vanished(number) from error
            return
        count, results, next_url = parse(content, number)
        expected = size if count is None else min(size, max(0, count - (number - 1) * size))
        if len(results) < expected and next_url:
            if not results or cap == len(results):
                raise ClientError("the server changed its page size during a listing")
            self.server_max[plan.path] = len(results)  # learn the server's cap, start over
            async for page in self.pages(transport, plan):
                yield page
            return
        tally = _Tally(plan, count if plan.count is None else plan.count)
        tally.check_count(count, number)
        last: int | None = None
        if count is not None:
            end = count if plan.high is None else min(count, plan.high)
            last = max(number, math.ceil(end / size))
        pending: deque[asyncio.Task[bytes]] = deque()
        following = number + 1
        try:
            while True:
                items = tally.take(results[skip:])
                yield Page(count, items, content, skip)
                skip = 0
                if not (next_url and results and tally.wants_more()):
                    tally.check_complete(number)
                    return
                if last is not None and self.in_flight > 1:
                    started = len(pending)
                    while len(pending) < self.in_flight and following <= last:
                        pending.append(self._start(fetch, following))
                        following += 1
                    if len(pending) > started:
                        # let the new tasks send now: awaiting a page that is already
                        # there would not give the loop a turn, and they would wait
                        await asyncio.sleep(0)
                number += 1
                try:
                    content = await awaited(pending.popleft()) if pending else await fetch(number)
                except NotFoundError as error:
                    raise tally.vanished(number) from error
                count, results, next_url = parse(content, number)
                tally.check_count(count, number)
                start = (number - 1) * size
                expected = size if count is None else min(size, max(0, count - start))
                if len(results) < expected and next_url:
                    raise ClientError("the server changed its page size during a listing")
        finally:
            for task in pending:
                task.cancel()  # what is in flight is dropped with the loop that wanted it
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel every page request still going, and wait until they have stopped."""
        running = list(self.tasks)
        for task in running:
            self._closed.add(task)
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)


async def astable_pages(
    transport: AsyncTransport, plan: PagePlan, walk: StableWalk
) -> AsyncGenerator[Page, None]:
    """`synapse.pagination.stable_pages`, awaited: the same requests, one at a time."""
    if plan.low or plan.high is not None:
        raise ValueError("a stable walk covers the whole list, not a slice")
    base = [(k, v) for k, v in plan.params if k != "ordering"]
    size = str(plan.page_size)
    if walk.strategy == "cursor":
        url: str = plan.path
        params: list[tuple[str, str]] | None = [
            *base, ("pagination", "cursor"), ("ordering", walk.ordering), ("page_size", size)
        ]  # fmt: skip
        while True:
            content = (await transport.send("GET", url, params=params)).content
            _, results, next_url = _parse_page(content, plan.model)
            if results:
                yield Page(None, results, content, 0)
            if not next_url or not results:
                return
            url, params = transport.sync.on_own_origin(next_url), None  # the link carries all
    bound = f"{walk.key}__lt" if walk.descending else f"{walk.key}__gt"
    last: Any = None
    while True:
        params = [*base, ("ordering", walk.ordering), ("page_size", size)]
        if last is not None:
            params.append((bound, str(last)))
        content = (await transport.send("GET", plan.path, params=params)).content
        _, results, next_url = _parse_page(content, plan.model)
        if results:
            yield Page(None, results, content, 0)
        if not next_url or not results:
            return
        tail = results[-1]
        last = tail.get(walk.key) if isinstance(tail, Mapping) else getattr(tail, walk.key, None)
        if last is None:
            raise ClientError(f"a stable walk needs each item's {walk.key!r}; the server sent none")
