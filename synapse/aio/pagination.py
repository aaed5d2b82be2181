"""Fetching the pages of a list with asyncio: up to N page requests in flight, the
pages handed out in order, each item once.

The planning (`plan_pages`), the parsing (`_parse_page`) and the page type are
`synapse.pagination`'s; this module only schedules. Every page request is a task the
fetcher keeps: leaving an ``async for`` (break, an error, a cancellation) cancels the
ones in flight, and `AsyncPageFetcher.aclose` cancels and awaits whatever is left.
"""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncGenerator, Callable, Coroutine
from typing import Any

from synapse.aio.transport import AsyncTransport
from synapse.errors import ClientError, NotFoundError
from synapse.pagination import (
    Page,
    PagePlan,
    PageWalk,
    StableSteps,
    StableWalk,
    _whole_json,
    window_bounds,
)

__all__ = ["AsyncPageFetcher", "astable_pages"]


class AsyncPageFetcher:
    """Keeps ``in_flight`` page requests going while pages are consumed, more (up to
    ``max_in_flight``) while the consumer waits on the network.

    The sync `ConcurrentFetcher`'s decisions, step for step (both drive a `PageWalk`):
    the first page alone (its ``count`` says how many follow), then the rest in an
    adaptive window, each retried in its own task by the transport without reordering
    anything; a page that vanishes or a count that changes raises
    `IncompleteResultError`. ``server_max`` (page-size caps learnt per path) is shared
    with the client's sync fetcher. ``client.apage_fetcher = AsyncPageFetcher(4,
    max_in_flight=4)`` keeps a fixed window.
    """

    def __init__(
        self,
        in_flight: int = 4,
        server_max: dict[str, int] | None = None,
        max_in_flight: int | None = None,
    ) -> None:
        self.in_flight, self.max_in_flight = window_bounds(in_flight, max_in_flight)
        self.server_max: dict[str, int] = {} if server_max is None else server_max
        self.tasks: set[asyncio.Task[Any]] = set()
        #: Page tasks that `aclose` cancelled: their listings say the client was closed.
        self._closed: weakref.WeakSet[asyncio.Task[Any]] = weakref.WeakSet()

    async def pages(self, transport: AsyncTransport, plan: PagePlan) -> AsyncGenerator[Page, None]:
        walk = PageWalk(plan, self.server_max, self.in_flight, self.max_in_flight)
        if walk.empty:
            return

        async def fetch(page: int) -> bytes:
            params = walk.params(page)
            answer = await transport.send(
                "GET", plan.path, params=params, complete=_whole_json, timeout=plan.timeout
            )
            return answer.content

        try:
            content = await fetch(walk.number)
        except NotFoundError as error:
            if walk.number == 1:
                raise
            answer = await transport.send(
                "GET", plan.path, params=walk.count_params(), timeout=plan.timeout
            )
            walk.past_end(answer.content, error)
            return
        if not walk.start(content):  # the server caps page sizes below ours: learnt
            async for page in self.pages(transport, plan):
                yield page
            return
        pending: deque[asyncio.Task[bytes]] = deque()
        try:
            while True:
                yield walk.page()
                if not walk.more():
                    return
                if self._send(pending, fetch, walk.to_send(len(pending))):
                    # let the new tasks send now: awaiting a page that is already
                    # there would not give the loop a turn, and they would wait
                    await asyncio.sleep(0)
                head = pending.popleft() if pending else None
                ready = None if head is None else head.done()
                self._send(pending, fetch, walk.advance(ready, len(pending)))
                try:
                    content = (
                        await self._awaited(head) if head is not None else await fetch(walk.number)
                    )
                except NotFoundError as error:
                    raise walk.vanished() from error
                walk.receive(content)
        finally:
            for task in pending:
                task.cancel()  # what is in flight is dropped with the loop that wanted it
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)

    def _send(
        self,
        pending: deque[asyncio.Task[bytes]],
        fetch: Callable[[int], Coroutine[Any, Any, bytes]],
        numbers: list[int],
    ) -> bool:
        """Put the pages ``numbers`` in flight (after ``pending``); whether there were any."""
        for number in numbers:
            task: asyncio.Task[bytes] = asyncio.ensure_future(fetch(number))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            pending.append(task)
        return bool(numbers)

    async def _awaited(self, task: asyncio.Task[bytes]) -> bytes:
        try:
            return await task
        except asyncio.CancelledError:
            if task in self._closed:  # not this listing's own cancellation
                raise ClientError(
                    "the client was closed while this listing was in progress"
                ) from None
            raise

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
    steps = StableSteps(plan, walk)
    while (request := steps.request()) is not None:
        url, params = request
        answer = await transport.send("GET", url, params=params, timeout=plan.timeout)
        page = steps.receive(answer.content, transport.sync.on_own_origin)
        if page is not None:
            yield page
