"""Fetching the pages of a list: planning which pages cover a range, and parsing them.

A `PagePlan` says which items of a filtered, ordered list are wanted; a
`PageFetcher` yields the pages that cover it, in order, each item once.
`SequentialFetcher` is the default; `ReadAheadFetcher` fetches the next page
while the current one is consumed. `QuerySet>` and the
method API's ``ListResult`` both consume pages through these, and nothing else.
"""

from __future__ import annotations

import json
import math
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from synapse.errors import ClientError, IncompleteResultError, NotFoundError

if TYPE_CHECKING:
    import pydantic

    from synapse.config import TimeoutLike
    from synapse.transport import Transport

__all__ = [
    "MAX_PAGE_SIZE",
    "ConcurrentFetcher",
    "Page",
    "PageFetcher",
    "PagePlan",
    "PageSource",
    "PageWalk",
    "ReadAheadFetcher",
    "SequentialFetcher",
    "StableSteps",
    "StableWalk",
    "plan_pages",
    "window_bounds",
]

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class PagePlan:
    """Which items of a list to fetch: ``[low, high)`` of the filtered, ordered list."""

    path: str
    params: tuple[tuple[str, str], ...]
    low: int = 0
    high: int | None = None
    page_size: int = 100
    #: Parse results straight from the JSON into this resource class (else dicts).
    model: type[pydantic.BaseModel] | None = None
    #: Use ``page_size`` as given even for a bounded range (the caller asked for it).
    fixed_size: bool = False
    #: The list's count when the listing was planned, if known: pages must agree.
    count: int | None = None
    #: Every page request's timeout, over the client's (the method API's ``timeout=``).
    timeout: TimeoutLike | None = None


@dataclass(frozen=True)
class Page:
    """One answer of a list endpoint, cut to the planned range.

    ``items`` are dicts, or instances of the plan's ``model`` (not yet bound to a client)
    when the page parsed straight into it; ``content`` and ``offset`` locate each item's
    JSON for later (``content`` is the page's bytes, ``offset`` the index of ``items[0]``).
    """

    count: int | None
    items: list[Any]
    content: bytes = b""
    offset: int = 0


def plan_pages(low: int, high: int | None, default: int) -> tuple[int, int, int]:
    """``(page_size, first_page, skip)`` that cover ``[low, high)`` in the fewest requests.

    Unbounded ranges use the default page size. Bounded ones pick the page size (at most
    1000) with the fewest pages, then the least over-fetch.
    """
    if high is None:
        size = default
    else:
        best: tuple[int, int, int] | None = None
        for size_candidate in range(1, MAX_PAGE_SIZE + 1):
            pages = math.ceil(high / size_candidate) - low // size_candidate
            key = (pages, pages * size_candidate, size_candidate)
            if best is None or key < best:
                best = key
        assert best is not None
        size = best[2]
    first = low // size + 1
    return size, first, low - (first - 1) * size


def window_bounds(in_flight: int, max_in_flight: int | None) -> tuple[int, int]:
    """``(in_flight, max_in_flight)`` of a fetcher, checked: the window starts at
    ``in_flight`` pages and widens up to ``max_in_flight`` (by default four times the
    start, at most 32; ``in_flight=1`` stays strictly sequential)."""
    if isinstance(in_flight, bool) or not isinstance(in_flight, int) or in_flight < 1:
        raise ValueError(f"in_flight must be an int >= 1, got {in_flight!r}")
    if max_in_flight is None:
        max_in_flight = 1 if in_flight == 1 else min(4 * in_flight, 32)
    if (
        isinstance(max_in_flight, bool)
        or not isinstance(max_in_flight, int)
        or max_in_flight < in_flight
    ):
        raise ValueError(f"max_in_flight must be an int >= in_flight, got {max_in_flight!r}")
    return in_flight, max_in_flight


class PageWalk:
    """The decisions of one paged listing, without I/O: which page to request next, how
    many to keep in flight, and whether each answer agrees with what came before.

    The threaded `ConcurrentFetcher` and the asyncio ``AsyncPageFetcher`` both drive one
    walk per listing; they only send the requests it names and hand it the answers, so a
    listing behaves the same whichever fetcher reads it. The first page is asked alone
    (`start`); then, for each page handed out (`page`), `more` says whether another
    follows, `to_send` names the pages to put in flight, `advance` moves to the next page
    and adapts the window (it grows each time the consumer would wait on the network,
    and shrinks back by one after a whole window of pages found already there), and
    `receive` checks its answer.
    """

    def __init__(
        self, plan: PagePlan, server_max: dict[str, int], in_flight: int, max_in_flight: int
    ) -> None:
        self.plan = plan
        self.server_max = server_max
        self.in_flight = in_flight
        self.max_in_flight = max_in_flight
        #: Nothing to fetch: the range is empty.
        self.empty = plan.high is not None and plan.high <= plan.low
        self.cap = server_max.get(plan.path)
        default = min(plan.page_size, self.cap or MAX_PAGE_SIZE)
        size, number, skip = plan_pages(plan.low, None if plan.fixed_size else plan.high, default)
        if self.cap and size > self.cap:
            size, number, skip = plan_pages(plan.low, None, self.cap)
        self.size, self.number, self.skip = size, number, skip
        self.window = in_flight  # pages kept in flight: grows while the consumer waits
        self.ready_run = 0  # pages in a row found already there: a whole window narrows it
        self.following = number + 1  # the next page number not yet put in flight
        self.last: int | None = None  # the last page number to fetch, when the count says
        self.tally = _Tally(plan, plan.count)
        self.count: int | None = None
        self.results: list[Any] = []
        self.next_url: str | None = None
        self.content = b""

    def params(self, page: int) -> list[tuple[str, str]]:
        """The query of page number ``page``."""
        return [*self.plan.params, ("page_size", str(self.size)), ("page", str(page))]

    def count_params(self) -> list[tuple[str, str]]:
        """The query of the smallest page, asked for its count only."""
        return [*self.plan.params, ("page_size", "1"), ("page", "1")]

    def _parse(self, content: bytes, number: int) -> tuple[int | None, list[Any], str | None]:
        try:
            return _parse_page(content, self.plan.model)
        except ClientError as error:
            where = f"listing {self.plan.path}: page {number}"
            raise ClientError(f"{where}: {error.message}") from None

    def past_end(self, content: bytes, error: NotFoundError) -> None:
        """The first page asked (not page 1) answered 404 (``error``), and ``content`` is
        the answer of `count_params`: return if the range starts past the end (DRF's 404
        for a page past the last: the range is empty), else raise that the page vanished."""
        count = self._parse(content, 1)[0]
        if count is None or count > self.plan.low:
            raise _Tally(self.plan, count).vanished(self.number) from error

    def start(self, content: bytes) -> bool:
        """Take the first page's answer; False when it shows the server caps page sizes
        below ours: the cap is learnt (in ``server_max``) and the listing starts over."""
        count, results, next_url = self._parse(content, self.number)
        if self._short(count, results, next_url):
            if not results or self.cap == len(results):
                raise ClientError("the server changed its page size during a listing")
            self.server_max[self.plan.path] = len(results)
            return False
        plan = self.plan
        self.tally = _Tally(plan, count if plan.count is None else plan.count)
        self.tally.check_count(count, self.number)
        if count is not None:
            end = count if plan.high is None else min(count, plan.high)
            self.last = max(self.number, math.ceil(end / self.size))
        self.count, self.results, self.next_url, self.content = count, results, next_url, content
        return True

    def _short(self, count: int | None, results: list[Any], next_url: str | None) -> bool:
        """Whether a page that is not the last holds fewer items than its size."""
        start = (self.number - 1) * self.size
        expected = self.size if count is None else min(self.size, max(0, count - start))
        return len(results) < expected and bool(next_url)

    def page(self) -> Page:
        """The current page, cut to the range (its items are counted as handed out)."""
        items = self.tally.take(self.results[self.skip :])
        page = Page(self.count, items, self.content, self.skip)
        self.skip = 0
        return page

    def more(self) -> bool:
        """Whether another page follows; when none does, the listing is checked complete."""
        if self.next_url and self.results and self.tally.wants_more():
            return True
        self.tally.check_complete(self.number)
        return False

    def to_send(self, pending: int) -> list[int]:
        """The page numbers to put in flight now, with ``pending`` already going: none
        before more was asked (a caller who wanted the first page paid one request), none
        without a count, none when strictly sequential."""
        numbers: list[int] = []
        if self.last is None or self.in_flight <= 1:
            return numbers
        while pending + len(numbers) < self.window and self.following <= self.last:
            numbers.append(self.following)
            self.following += 1
        return numbers

    def advance(self, ready: bool | None, pending: int) -> list[int]:
        """Move to the next page, whose request is ``ready`` (answered), not yet (False)
        or not in flight (None), with ``pending`` more after it. Waiting widens the
        window (the pages to put in flight are returned); finding it there narrows it."""
        self.number += 1
        if ready is None:
            return []
        if ready:
            # Narrowed only after a whole window of pages found there: narrowing at each
            # one kept the window at the edge of waiting, and every wait cost latency.
            self.ready_run += 1
            if self.ready_run >= self.window:
                self.window = max(self.window - 1, self.in_flight)
                self.ready_run = 0
            return []
        self.ready_run = 0
        self.window = min(self.window + 1, self.max_in_flight)
        return self.to_send(pending + 1)

    def vanished(self) -> IncompleteResultError:
        """The error for the current page answering 404 after the first."""
        return self.tally.vanished(self.number)

    def receive(self, content: bytes) -> None:
        """Take the current page's answer, checked against what came before."""
        count, results, next_url = self._parse(content, self.number)
        self.tally.check_count(count, self.number)
        if self._short(count, results, next_url):
            raise ClientError("the server changed its page size during a listing")
        self.count, self.results, self.next_url, self.content = count, results, next_url, content


class PageFetcher(Protocol):
    """Yields the pages of a plan, in order, each item exactly once."""

    def pages(self, transport: Transport, plan: PagePlan) -> Iterator[Page]: ...


class ConcurrentFetcher:
    """Keeps up to ``in_flight`` page requests going while pages are consumed.

    The first page is fetched in the caller's thread (the first item costs one request,
    and a one-page query starts no thread); its ``count`` tells how many pages follow,
    and those are fetched ``in_flight`` at a time on worker threads named
    ``synapse-pages``. Items come out in order, each exactly once; at most
    ``in_flight + 1`` pages are held. Each page goes through the transport, so a page
    answered 503 is retried in its own slot without reordering anything. ``in_flight=1``
    is strictly sequential. Without a ``count`` (some endpoints), pages are followed one
    by one.

    The window adapts to the latency: each time the consumer finds the next page still
    on its way (it is about to wait on the network), one more page is put in flight,
    up to ``max_in_flight``; after a whole window of pages already there, it shrinks by
    one, down to ``in_flight``. A page waiting out a retry thus does not stop the pages
    after it from being fetched, and at most ``max_in_flight + 1`` pages are held: the
    memory cap (``client.page_fetcher = ConcurrentFetcher(4, max_in_flight=8)``).

    The threads belong to one listing and end with it: leaving the loop early (a
    ``break``, an error, Ctrl-C) cancels the pages not yet sent and stops the retries of
    those in flight, and the threads are daemons, so they never hold up an exit.
    `close()` stops every listing in progress, which then raises a `ClientError`
    saying so.
    """

    def __init__(self, in_flight: int = 4, max_in_flight: int | None = None) -> None:
        self.in_flight, self.max_in_flight = window_bounds(in_flight, max_in_flight)
        #: Page-size caps learnt per list path, where a server caps them below ours.
        self.server_max: dict[str, int] = {}
        self._lock = threading.Lock()
        self._listings: set[_Workers] = set()

    def pages(self, transport: Transport, plan: PagePlan) -> Iterator[Page]:
        walk = PageWalk(plan, self.server_max, self.in_flight, self.max_in_flight)
        if walk.empty:
            return
        workers = _Workers(self.max_in_flight)

        def fetch(page: int) -> bytes:
            if workers.stopped.is_set():
                raise workers.stop_error()
            answer = transport.send(
                "GET", plan.path, params=walk.params(page), complete=_whole_json,
                cancelled=workers.stopped.is_set, timeout=plan.timeout,
            )  # fmt: skip
            return answer.content

        try:
            content = fetch(walk.number)
        except NotFoundError as error:
            if walk.number == 1:
                raise
            walk.past_end(
                transport.send(
                    "GET", plan.path, params=walk.count_params(), timeout=plan.timeout
                ).content,
                error,
            )
            return
        if not walk.start(content):  # the server caps page sizes below ours: learnt
            yield from self.pages(transport, plan)
            return
        with self._lock:
            self._listings.add(workers)
        try:
            yield from self._follow(walk, workers, fetch)
        finally:
            workers.stop()  # pages not sent are never sent; those in flight retry no more
            with self._lock:
                self._listings.discard(workers)

    @staticmethod
    def _follow(walk: PageWalk, workers: _Workers, fetch: Callable[[int], bytes]) -> Iterator[Page]:
        """The pages of ``walk`` from its first, the following ones fetched on ``workers``."""
        pending: deque[Future[bytes]] = deque()
        while True:
            yield walk.page()
            if not walk.more():
                return
            pending.extend(workers.submit(fetch, n) for n in walk.to_send(len(pending)))
            head = pending.popleft() if pending else None
            ready = None if head is None else head.done()
            pending.extend(workers.submit(fetch, n) for n in walk.advance(ready, len(pending)))
            try:
                content = workers.result(head) if head is not None else fetch(walk.number)
            except NotFoundError as error:
                raise walk.vanished() from error
            walk.receive(content)

    def close(self) -> None:
        """Stop the listings in progress (each raises, saying the client was closed)."""
        with self._lock:
            listings = list(self._listings)
        for workers in listings:
            workers.stop(closed=True)

    def __getstate__(self) -> dict[str, Any]:
        return {
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "server_max": self.server_max,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        ConcurrentFetcher.__init__(  # subclasses too
            self, state["in_flight"], state.get("max_in_flight")
        )
        self.server_max = state["server_max"]


def _whole_json(content: bytes) -> bool:
    """Whether a page's body can be whole JSON: a cut one ends inside a value."""
    stripped = content.strip()
    return stripped[:1] in (b"{", b"[") and stripped[-1:] in (b"}", b"]")


class _Workers:
    """The daemon threads of one listing, started as pages are asked for and ended
    with the listing."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.stopped = threading.Event()
        self.closed = False
        self._jobs: queue.SimpleQueue[tuple[Callable[[int], bytes], int, Future[bytes]] | None]
        self._jobs = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []

    def submit(self, fetch: Callable[[int], bytes], number: int) -> Future[bytes]:
        future: Future[bytes] = Future()
        if self.stopped.is_set():
            future.cancel()  # its threads are ending: nothing more is sent
            return future
        self._jobs.put((fetch, number, future))
        if len(self._threads) < self.size:
            thread = threading.Thread(target=self._work, name="synapse-pages", daemon=True)
            self._threads.append(thread)
            thread.start()
        return future

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            fetch, number, future = job
            if self.stopped.is_set() or not future.set_running_or_notify_cancel():
                future.cancel()
                continue
            try:
                future.set_result(fetch(number))
            except BaseException as error:  # handed to the consumer, who raises it
                future.set_exception(error)

    def result(self, future: Future[bytes]) -> bytes:
        try:
            return future.result()
        except CancelledError:
            raise self.stop_error() from None
        except ClientError as error:
            if self.closed:  # the connection went with the client: say why
                raise self.stop_error() from error
            raise

    def stop_error(self) -> ClientError:
        if self.closed:
            return ClientError("the client was closed while this listing was in progress")
        return ClientError("the listing was stopped")

    def stop(self, *, closed: bool = False) -> None:
        self.closed = self.closed or closed
        self.stopped.set()
        for _ in self._threads:
            self._jobs.put(None)  # each thread ends after the request it is in


class _Tally:
    """What a listing has handed out against what its first page announced.

    A page that vanishes, a last page that comes short, a count that changes between
    pages: each would make a shorter (or shifted) result that looks complete, so each
    raises [`IncompleteResultError`][synapse.errors.IncompleteResultError] instead.
    """

    def __init__(self, plan: PagePlan, count: int | None) -> None:
        self.path = plan.path
        self.wanted = None if plan.high is None else plan.high - plan.low
        self.count = count
        self.sent = 0
        #: items the announced count promises for the planned range (None: no count)
        self.expected: int | None = None
        if count is not None:
            upper = count if plan.high is None else min(count, plan.high)
            self.expected = max(0, upper - plan.low)

    def take(self, items: list[Any]) -> list[Any]:
        if self.wanted is not None:
            items = items[: self.wanted - self.sent]
        self.sent += len(items)
        return items

    def wants_more(self) -> bool:
        return self.wanted is None or self.sent < self.wanted

    def _where(self, number: int) -> str:
        return f"listing {self.path}: page {number}"

    def check_complete(self, number: int) -> None:
        if self.expected is not None and self.sent < self.expected:
            raise IncompleteResultError(
                f"{self._where(number)} was the last, with {self.sent} of the "
                f"{self.expected} items the server announced"
            )

    def check_count(self, count: int | None, number: int) -> None:
        if self.count is not None and count is not None and count != self.count:
            raise IncompleteResultError(
                f"{self._where(number)} counts {count} items where the listing was planned "
                f"with {self.count}: the list changed while it was read, so pages shifted "
                "(iterate with stable=True to list while rows change)"
            )

    def vanished(self, number: int) -> IncompleteResultError:
        total = "" if self.expected is None else f" of {self.expected}"
        return IncompleteResultError(
            f"{self._where(number)} answered 404 after {self.sent}{total} items: "
            "the list shrank while it was read (iterate with stable=True to list while "
            "rows change)"
        )


class SequentialFetcher(ConcurrentFetcher):
    """One page at a time, when the consumer asks for it (``in_flight=1``)."""

    def __init__(self) -> None:
        super().__init__(1)


class ReadAheadFetcher(ConcurrentFetcher):
    """The next page fetched while the current one is consumed (``in_flight=2``)."""

    def __init__(self) -> None:
        super().__init__(2, max_in_flight=2)


class PageSource:
    """A listed page's bytes, parsed at most once, shared by the objects listed from it.

    Objects keep a reference to their page and their index instead of a dict of their
    own: nothing is parsed while a listing streams, and the first object that needs its
    server state (``repr``, ``changed_fields``, ``save``) parses the page for all of them.
    """

    __slots__ = ("_results", "content")

    def __init__(self, content: bytes) -> None:
        self.content = content
        self._results: list[Any] | None = None

    def item(self, index: int) -> Mapping[str, Any]:
        if self._results is None:
            page = json.loads(self.content)
            self._results = page["results"] if isinstance(page, dict) else page
        item: Mapping[str, Any] = self._results[index]
        return item


_PAGE_ADAPTERS: dict[type, pydantic.TypeAdapter[Any]] = {}


def _parse_page(
    content: bytes, model: type[pydantic.BaseModel] | None
) -> tuple[int | None, list[Any], str | None]:
    """``(count, results, next)`` of a page's JSON; results parse straight into
    ``model`` when given (one pass, no intermediate dicts), else into dicts."""
    if model is not None:
        import pydantic  # loaded with the models, not with the package

        adapter = _PAGE_ADAPTERS.get(model)
        if adapter is None:
            envelope = pydantic.create_model(
                f"{model.__name__}Page",
                count=(int | None, None),
                next=(str | None, None),
                results=(list[model], ...),  # type: ignore[valid-type]
            )
            adapter = _PAGE_ADAPTERS[model] = pydantic.TypeAdapter(envelope)
        try:
            page = adapter.validate_json(content)
            return page.count, page.results, page.next
        except pydantic.ValidationError:
            pass  # a bare list, expanded relations, an odd object: the general path says
    try:
        answer = json.loads(content) if content else None
    except ValueError:
        raise ClientError(f"expected a page of JSON results, got {content[:80]!r}") from None
    except RecursionError:
        raise ClientError("the page nests its JSON deeper than Python can read") from None
    return _envelope(answer)


def _envelope(answer: Any) -> tuple[int | None, list[dict[str, Any]], str | None]:
    count: Any
    link: Any
    if isinstance(answer, list):  # some endpoints answer a bare list
        results, count, link = answer, len(answer), None
    elif isinstance(answer, Mapping) and isinstance(answer.get("results"), list):
        results, count, link = answer["results"], answer.get("count"), answer.get("next")
    else:
        raise ClientError(f"expected a page of results, got {type(answer).__name__}")
    for index, item in enumerate(results):
        if not isinstance(item, Mapping):  # every listing path reads items as objects
            raise ClientError(f"result {index} of the page is {type(item).__name__}, not an object")
    counted = count if isinstance(count, int) and not isinstance(count, bool) else None
    if counted is not None and counted < 0:
        counted = None  # no list has fewer than no items: an unknown count
    return counted, results, link if isinstance(link, str) and link else None


# --------------------------------------------------------------------------- stable walks


@dataclass(frozen=True)
class StableWalk:
    """How to list every item once while others insert and delete rows.

    Page numbers shift when rows before the current page are deleted (a live item is
    skipped) or inserted (an item comes twice). A stable walk asks for what comes after
    the last item seen instead: ``"cursor"``, the backend's own cursor pagination
    (``pagination=cursor``, a unique descending ordering, ``next`` links followed), or
    ``"keyset"``, ``<pk>__gt=<last pk>`` (``__lt`` descending) ordered by the key.
    """

    strategy: Literal["cursor", "keyset"]
    key: str = "id"
    descending: bool = False

    @property
    def ordering(self) -> str:
        return f"-{self.key}" if self.descending else self.key


class StableSteps:
    """The requests of a stable walk, without I/O, for the sync and the async listing
    alike: `request` names the next one (None when the walk is over) and `receive`
    takes its answer, giving the page (None when it holds nothing)."""

    def __init__(self, plan: PagePlan, walk: StableWalk) -> None:
        if plan.low or plan.high is not None:
            raise ValueError("a stable walk covers the whole list, not a slice")
        self.model = plan.model
        self.walk = walk
        base = [(k, v) for k, v in plan.params if k != "ordering"]
        ordered = [("ordering", walk.ordering), ("page_size", str(plan.page_size))]
        if walk.strategy == "cursor":
            ordered.insert(0, ("pagination", "cursor"))
        self.base = [*base, *ordered]
        self.bound = f"{walk.key}__lt" if walk.descending else f"{walk.key}__gt"
        self._next: tuple[str, list[tuple[str, str]] | None] | None = (plan.path, self.base)
        self._error: ClientError | None = None

    def request(self) -> tuple[str, list[tuple[str, str]] | None] | None:
        """``(url, params)`` of the next request, or None when the walk is over."""
        if self._error is not None:
            raise self._error
        return self._next

    def receive(self, content: bytes, own_origin: Callable[[str], str]) -> Page | None:
        """Take the answer to `request`; ``own_origin`` checks a ``next`` link."""
        _, results, next_url = _parse_page(content, self.model)
        url = self._next[0] if self._next else ""
        self._next = None
        if next_url and results:
            if self.walk.strategy == "cursor":
                self._next = own_origin(next_url), None  # the link carries all
            else:
                tail = results[-1]
                key = self.walk.key
                last = tail.get(key) if isinstance(tail, Mapping) else getattr(tail, key, None)
                if last is None:  # raised once this page is handed out
                    message = f"a stable walk needs each item's {key!r}; the server sent none"
                    self._error = ClientError(message)
                self._next = url, [*self.base, (self.bound, str(last))]
        return Page(None, results, content, 0) if results else None


def stable_pages(transport: Transport, plan: PagePlan, walk: StableWalk) -> Iterator[Page]:
    """The pages of ``plan`` (its filters; any ordering in it is replaced by the walk's),
    walked stably: no item is skipped or repeated when rows change meanwhile. Pages carry
    no count (the cursor envelope has none)."""
    steps = StableSteps(plan, walk)
    while (request := steps.request()) is not None:
        url, params = request
        page = steps.receive(
            transport.send("GET", url, params=params, timeout=plan.timeout).content,
            transport.on_own_origin,
        )
        if page is not None:
            yield page
