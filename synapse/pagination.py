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

    from synapse.transport import Transport

__all__ = [
    "MAX_PAGE_SIZE",
    "ConcurrentFetcher",
    "Page",
    "PageFetcher",
    "PagePlan",
    "PageSource",
    "ReadAheadFetcher",
    "SequentialFetcher",
    "StableWalk",
    "plan_pages",
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
    up to ``max_in_flight``; each time the page is already there, the window shrinks by
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
        self.in_flight = in_flight
        self.max_in_flight = max_in_flight
        #: Page-size caps learnt per list path, where a server caps them below ours.
        self.server_max: dict[str, int] = {}
        self._lock = threading.Lock()
        self._listings: set[_Workers] = set()

    def pages(self, transport: Transport, plan: PagePlan) -> Iterator[Page]:
        wanted = None if plan.high is None else plan.high - plan.low
        if wanted is not None and wanted <= 0:
            return
        cap = self.server_max.get(plan.path)
        default = min(plan.page_size, cap or MAX_PAGE_SIZE)
        size, number, skip = plan_pages(plan.low, None if plan.fixed_size else plan.high, default)
        if cap and size > cap:
            size, number, skip = plan_pages(plan.low, None, cap)
        workers = _Workers(self.max_in_flight)

        def fetch(page: int) -> bytes:
            if workers.stopped.is_set():
                raise workers.stop_error()
            params = [*plan.params, ("page_size", str(size)), ("page", str(page))]
            answer = transport.send(
                "GET", plan.path, params=params, complete=_whole_json,
                cancelled=workers.stopped.is_set,
            )  # fmt: skip
            return answer.content

        def parse(content: bytes, page: int) -> tuple[int | None, list[Any], str | None]:
            try:
                return _parse_page(content, plan.model)
            except ClientError as error:
                raise ClientError(f"listing {plan.path}: page {page}: {error.message}") from None

        try:
            content = fetch(number)
        except NotFoundError as error:
            if number == 1:
                raise
            # DRF answers 404 for a page past the end: a range that starts there is
            # empty. Ask the count to tell that apart from a page that vanished.
            one = [*plan.params, ("page_size", "1"), ("page", "1")]
            count = parse(transport.send("GET", plan.path, params=one).content, 1)[0]
            if count is None or count > plan.low:
                raise _Tally(plan, count).vanished(number) from error
            return
        count, results, next_url = parse(content, number)
        expected = size if count is None else min(size, max(0, count - (number - 1) * size))
        if len(results) < expected and next_url:
            if not results or cap == len(results):
                raise ClientError("the server changed its page size during a listing")
            # The server caps page sizes below ours: learn its limit and start over.
            self.server_max[plan.path] = len(results)
            yield from self.pages(transport, plan)
            return
        tally = _Tally(plan, count if plan.count is None else plan.count)
        tally.check_count(count, number)
        last: int | None = None  # the last page number to fetch, when the count says
        if count is not None:
            end = count if plan.high is None else min(count, plan.high)
            last = max(number, math.ceil(end / size))
        pending: deque[Future[bytes]] = deque()
        following = number + 1
        window = self.in_flight  # pages kept in flight: grows while the consumer waits
        with self._lock:
            self._listings.add(workers)
        try:
            while True:
                items = tally.take(results[skip:])
                yield Page(count, items, content, skip)
                skip = 0
                if not (next_url and results and tally.wants_more()):
                    tally.check_complete(number)
                    return
                # Asked for more: keep up to `window` pages going from here on (not
                # before, so that a caller who wanted the first page paid one request).
                if last is not None and self.in_flight > 1:
                    while len(pending) < window and following <= last:
                        pending.append(workers.submit(fetch, following))
                        following += 1
                number += 1
                head = pending.popleft() if pending else None
                if head is not None and last is not None and not head.done():  # widen
                    window = min(window + 1, self.max_in_flight)
                    while len(pending) + 1 < window and following <= last:
                        pending.append(workers.submit(fetch, following))
                        following += 1
                elif head is not None and head.done():  # it was there already: narrow
                    window = max(window - 1, self.in_flight)
                try:
                    content = workers.result(head) if head is not None else fetch(number)
                except NotFoundError as error:
                    raise tally.vanished(number) from error
                count, results, next_url = parse(content, number)
                tally.check_count(count, number)
                start = (number - 1) * size
                expected = size if count is None else min(size, max(0, count - start))
                if len(results) < expected and next_url:
                    raise ClientError("the server changed its page size during a listing")
        finally:
            workers.stop()  # pages not sent are never sent; those in flight retry no more
            with self._lock:
                self._listings.discard(workers)

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


def stable_pages(transport: Transport, plan: PagePlan, walk: StableWalk) -> Iterator[Page]:
    """The pages of ``plan`` (its filters; any ordering in it is replaced by the walk's),
    walked stably: no item is skipped or repeated when rows change meanwhile. Pages carry
    no count (the cursor envelope has none)."""
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
            content = transport.send("GET", url, params=params).content
            _, results, next_url = _parse_page(content, plan.model)
            if results:
                yield Page(None, results, content, 0)
            if not next_url or not results:
                return
            url, params = transport.on_own_origin(next_url), None  # the link carries all
    bound = f"{walk.key}__lt" if walk.descending else f"{walk.key}__gt"
    last: Any = None
    while True:
        params = [*base, ("ordering", walk.ordering), ("page_size", size)]
        if last is not None:
            params.append((bound, str(last)))
        content = transport.send("GET", plan.path, params=params).content
        _, results, next_url = _parse_page(content, plan.model)
        if results:
            yield Page(None, results, content, 0)
        if not next_url or not results:
            return
        tail = results[-1]
        last = tail.get(walk.key) if isinstance(tail, Mapping) else getattr(tail, walk.key, None)
        if last is None:
            raise ClientError(f"a stable walk needs each item's {walk.key!r}; the server sent none")
