"""Lazy, chainable, sliceable queries over the backend's paginated lists.

A :class:`QuerySet` sends nothing until it is evaluated (iterated, ``len()``, ``list()``,
``bool()``, indexed). Chaining returns new QuerySets. Slices fetch only the pages that
cover them, with a page size chosen to fit (``qs[:10]`` is one request for 10 items).
``iterator()`` streams page by page without caching.

Pages are fetched by a :class:`PageFetcher`; :class:`SequentialFetcher` is the default.
A read-ahead or concurrent fetcher can be given to the client without touching QuerySet:
it only has to yield the pages of a :class:`PagePlan` in order.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import threading
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar, overload

import pydantic

from synapse.enums import WireEnum, require_enum
from synapse.errors import ClientError, InvalidInputError, NotFoundError, UnknownFilterWarning

if TYPE_CHECKING:
    from synapse.managers import ListMixin
    from synapse.resources.base import Resource
    from synapse.transport import Transport

__all__ = [
    "FilterSet",
    "Page",
    "PageFetcher",
    "PagePlan",
    "QuerySet",
    "ReadAheadFetcher",
    "SequentialFetcher",
    "UnknownFilterError",
    "plan_pages",
]

T = TypeVar("T", bound="Resource")
MAX_PAGE_SIZE = 1000

FilterType = Literal["id", "ids", "int", "bool", "str", "strs", "date", "code"] | type[WireEnum]


class UnknownFilterError(InvalidInputError):
    """A filter name the backend does not know: it would ignore it and return everything."""


# --------------------------------------------------------------------------- filters


def id_filters(name: str = "id") -> dict[str, FilterType]:
    """``id``, ``id__in`` and the ranges, for an id field."""
    return {
        name: "id",
        f"{name}__in": "ids",
        **{f"{name}__{op}": "int" for op in ("gt", "gte", "lt", "lte")},
    }


def date_ranges(*names: str) -> dict[str, FilterType]:
    """``__gt``, ``__gte``, ``__lt``, ``__lte`` for date fields."""
    return {f"{n}__{op}": "date" for n in names for op in ("gt", "gte", "lt", "lte")}


COMMON_FILTERS: dict[str, FilterType] = {"ids": "ids", "ids_ex": "ids", "search": "str"}
#: Query parameters that shape a listing rather than filter it; never checked as filters.
CONTROL_PARAMS = frozenset(
    {"page", "page_size", "ordering", "expand", "fields", "pagination", "response_mode"}
)


@dataclass(frozen=True)
class FilterSet:
    """The filters a list endpoint accepts (protocol section 8), and how to encode them."""

    fields: Mapping[str, FilterType] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    common: bool = True

    def allowed(self) -> dict[str, FilterType]:
        return {**(COMMON_FILTERS if self.common else {}), **self.fields}

    def check_names(
        self, names: Iterable[str], *, kind: str = "this list", unknown: str = "raise"
    ) -> list[str]:
        """The names not allowed. Each raises :class:`UnknownFilterError` with a
        suggestion, or with ``unknown="warn"`` gives an :class:`UnknownFilterWarning`."""
        allowed = self.allowed()
        strangers = [name for name in names if name not in allowed]
        for name in strangers:
            message = self._unknown(name, allowed, kind)
            if unknown != "warn":
                raise UnknownFilterError(message)
            warnings.warn(f"sending it anyway: {message}", UnknownFilterWarning, stacklevel=4)
        return strangers

    def encode(
        self, filters: Mapping[str, Any], *, kind: str = "this list", unknown: str = "raise"
    ) -> dict[str, str]:
        """Wire values for ``filters``; unknown names and bad values raise before sending
        (unknown names are sent as given, with a warning, when ``unknown="warn"``)."""
        strangers = self.check_names(filters, kind=kind, unknown=unknown)
        allowed = self.allowed()
        return {
            name: _encode_value(name, allowed.get(name, "str"), value)
            if name not in strangers
            else _raw_value(value)
            for name, value in filters.items()
        }

    def normalize(
        self, params: Mapping[str, Any], *, kind: str = "this list", unknown: str = "raise"
    ) -> dict[str, Any]:
        """The method API's ``params``: names checked, enum values normalised (``running``
        is ``RUNNING``), everything else as the caller gave it."""
        names = [name for name in params if name not in CONTROL_PARAMS]
        self.check_names(names, kind=kind, unknown=unknown)
        allowed = self.allowed()
        normal = dict(params)
        for name, value in params.items():
            ftype = allowed.get(name)
            if isinstance(ftype, type) and value is not None:
                field = f"filter {name!r}"
                if isinstance(value, (list, tuple)):
                    normal[name] = [require_enum(ftype, v, field=field).value for v in value]
                else:
                    normal[name] = require_enum(ftype, value, field=field).value
        return normal

    def _unknown(self, name: str, allowed: Mapping[str, Any], kind: str) -> str:
        message = f"unknown filter {name!r} for {kind}"
        hint = self.hints.get(name)
        close = [hint] if hint else difflib.get_close_matches(name, list(allowed), n=3)
        if close:
            message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        message += " (the backend ignores unknown filters and would return everything)"
        return message


def _raw_value(value: Any) -> str:
    if isinstance(value, WireEnum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_raw_value(v) for v in value)
    return str(value)


def _pk_of(name: str, value: Any) -> int | str:
    from synapse.resources.base import Resource

    if isinstance(value, Resource):
        if value.pk is None:
            raise InvalidInputError(f"filter {name!r}: the object has no id yet")
        pk: int | str = value.pk
        return pk
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"filter {name!r} expects an id (int) or an object, got {value!r}")
    return value


def _encode_value(name: str, ftype: FilterType, value: Any) -> str:
    if isinstance(ftype, type):
        return str(require_enum(ftype, value, field=f"filter {name!r}").value)
    if ftype == "id":
        return str(_pk_of(name, value))
    if ftype == "ids":
        if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
            value = [value]
        pks = [str(_pk_of(name, v)) for v in value]
        if not pks:
            raise InvalidInputError(f"filter {name!r} needs at least one id")
        return ",".join(pks)
    if ftype == "strs":
        values = [value] if isinstance(value, str) else list(value)
        if not values or not all(isinstance(v, str) and v for v in values):
            raise InvalidInputError(f"filter {name!r} expects strings, got {value!r}")
        return ",".join(str(v) for v in values)
    if ftype == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError(f"filter {name!r} expects an int, got {value!r}")
        return str(value)
    if ftype == "bool":
        if not isinstance(value, bool):
            raise InvalidInputError(f"filter {name!r} expects True or False, got {value!r}")
        return "true" if value else "false"
    if ftype == "date":
        if isinstance(value, (dt.datetime, dt.date)):
            return value.isoformat()
        if isinstance(value, str) and value:
            return value
        raise InvalidInputError(f"filter {name!r} expects a date or datetime, got {value!r}")
    if ftype == "code":
        code = getattr(value, "code", value)
        if not isinstance(code, str) or not code:
            raise InvalidInputError(f"filter {name!r} expects a code string, got {value!r}")
        return code
    if isinstance(value, WireEnum):
        return str(value.value)
    if not isinstance(value, str):
        raise InvalidInputError(f"filter {name!r} expects a string, got {value!r}")
    return value


# --------------------------------------------------------------------------- pages


@dataclass(frozen=True)
class PagePlan:
    """Which items of a list to fetch: ``[low, high)`` of the filtered, ordered list."""

    path: str
    params: tuple[tuple[str, str], ...]
    low: int = 0
    high: int | None = None
    page_size: int = 100
    #: Parse results straight from the JSON into this resource class (else dicts).
    model: type[Resource] | None = None


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


class SequentialFetcher:
    """Fetches one page at a time, when the consumer asks for it."""

    read_ahead = False

    def __init__(self) -> None:
        self.server_max: int | None = None  # learnt if the server caps page sizes lower

    def _start(
        self, transport: Transport, path: str, params: list[tuple[str, str]]
    ) -> Callable[[], bytes]:
        """Begin fetching a page; the returned call gives its body."""
        return lambda: transport.send("GET", path, params=params).content

    def pages(self, transport: Transport, plan: PagePlan) -> Iterator[Page]:
        wanted = None if plan.high is None else plan.high - plan.low
        if wanted is not None and wanted <= 0:
            return
        default = min(plan.page_size, self.server_max or MAX_PAGE_SIZE)
        size, number, skip = plan_pages(plan.low, plan.high, default)
        if self.server_max and size > self.server_max:
            size, number, skip = plan_pages(plan.low, None, self.server_max)

        def start(page: int) -> Callable[[], Any]:
            params = [*plan.params, ("page_size", str(size)), ("page", str(page))]
            return self._start(transport, plan.path, params)

        pending = start(number)
        sent = 0
        while True:
            try:
                content = pending()
            except NotFoundError:
                if number == 1:
                    raise
                return  # DRF answers 404 for a page past the end: nothing more
            count, results, has_next = _parse_page(content, plan.model)
            start_of_page = (number - 1) * size
            expected = size if count is None else min(size, max(0, count - start_of_page))
            if len(results) < expected and has_next:
                if sent or not results or self.server_max == len(results):
                    raise ClientError("the server changed its page size during a listing")
                # The server caps page sizes below ours: learn its limit and start over.
                self.server_max = len(results)
                yield from self.pages(transport, plan)
                return
            items, offset = results[skip:], skip
            skip = 0
            if wanted is not None:
                items = items[: wanted - sent]
            sent += len(items)
            more = has_next and bool(results) and (wanted is None or sent < wanted)
            if more:
                number += 1
                pending = start(number)  # with read-ahead, fetched while this page is used
            yield Page(count, items, content, offset)
            if not more:
                return


class ReadAheadFetcher(SequentialFetcher):
    """Fetches the next page on a worker thread while the current one is consumed.

    Items still come out in order, exactly once; at most two pages are held.
    """

    read_ahead = True

    def __init__(self) -> None:
        super().__init__()
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def _start(
        self, transport: Transport, path: str, params: list[tuple[str, str]]
    ) -> Callable[[], bytes]:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(4, thread_name_prefix="synapse-pages")
        started = threading.Event()

        def fetch() -> bytes:
            started.set()
            return transport.send("GET", path, params=params).content

        future = self._executor.submit(fetch)
        # Let the worker send the request now, before this thread turns CPU-bound again
        # (a waiting thread would otherwise wait for the interpreter's switch interval).
        started.wait(0.05)
        return future.result

    def close(self) -> None:
        """Stop the worker threads (a later listing starts new ones)."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None

    def __getstate__(self) -> dict[str, Any]:
        return {"server_max": self.server_max}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]
        self.server_max = state["server_max"]


_PAGE_ADAPTERS: dict[type, pydantic.TypeAdapter[Any]] = {}


def _parse_page(content: bytes, model: type[Resource] | None) -> tuple[int | None, list[Any], bool]:
    """``(count, results, has_next)`` of a page's JSON; results parse straight into
    ``model`` when given (one pass, no intermediate dicts), else into dicts."""
    if model is not None:
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
            return page.count, page.results, bool(page.next)
        except pydantic.ValidationError:
            pass  # a bare list, expanded relations, an odd object: the general path says
    try:
        answer = json.loads(content) if content else None
    except ValueError:
        raise ClientError(f"expected a page of JSON results, got {content[:80]!r}") from None
    return _envelope(answer)


def _envelope(answer: Any) -> tuple[int | None, list[dict[str, Any]], bool]:
    if isinstance(answer, list):  # some endpoints answer a bare list
        return len(answer), answer, False
    if not isinstance(answer, Mapping) or not isinstance(answer.get("results"), list):
        raise ClientError(f"expected a page of results, got {type(answer).__name__}")
    count = answer.get("count")
    return (count if isinstance(count, int) else None), answer["results"], bool(answer.get("next"))


# --------------------------------------------------------------------------- QuerySet


class QuerySet(Generic[T]):
    """A lazy query of one kind of resource. Chain, slice, iterate; Django-like."""

    def __init__(
        self,
        manager: ListMixin[T],
        *,
        filters: Mapping[str, str] | None = None,
        ordering: tuple[str, ...] = (),
        expand: tuple[str, ...] = (),
        fields: tuple[str, ...] = (),
        page_size: int | None = None,
        low: int = 0,
        high: int | None = None,
    ) -> None:
        self._manager = manager
        self._filters = dict(filters or {})
        self._ordering = ordering
        self._expand = expand
        self._fields = fields
        self._page_size = page_size
        self._low = low
        self._high = high
        self._result_cache: list[T] | None = None

    # ------------------------------------------------------------------ chaining

    def _clone(self, **changes: Any) -> QuerySet[T]:
        state: dict[str, Any] = {
            "filters": self._filters,
            "ordering": self._ordering,
            "expand": self._expand,
            "fields": self._fields,
            "page_size": self._page_size,
            "low": self._low,
            "high": self._high,
        }
        state.update(changes)
        return type(self)(self._manager, **state)

    def _check_unsliced(self, what: str) -> None:
        if self._low or self._high is not None:
            raise InvalidInputError(f"cannot {what} a sliced QuerySet; {what} before slicing")

    def all(self) -> QuerySet[T]:
        """A copy of this query (with an empty cache)."""
        return self._clone()

    def filter(self, **filters: Any) -> QuerySet[T]:
        """Narrow the query; names and values are checked now, before any request."""
        self._check_unsliced("filter")
        encoded = self._manager.filters.encode(
            filters,
            kind=self._manager.resource.__name__,
            unknown=self._manager.client.config.unknown_filters,
        )
        return self._clone(filters={**self._filters, **encoded})

    def raw_filter(self, **params: Any) -> QuerySet[T]:
        """Send filters as given, for names the SDK does not know yet (the real backend may
        know more than the SDK); each unknown name gives an :class:`UnknownFilterWarning`
        instead of an error. Known names are checked as in :meth:`filter`."""
        self._check_unsliced("filter")
        encoded = self._manager.filters.encode(
            params, kind=self._manager.resource.__name__, unknown="warn"
        )
        return self._clone(filters={**self._filters, **encoded})

    def order_by(self, *fields: str) -> QuerySet[T]:
        """Order by fields; ``-field`` for descending. Replaces any earlier ordering."""
        self._check_unsliced("order")
        for name in fields:
            if not isinstance(name, str) or not name.lstrip("-"):
                raise InvalidInputError(f"order_by takes field names, got {name!r}")
        return self._clone(ordering=tuple(fields))

    def expand(self, *relations: str) -> QuerySet[T]:
        """Ask the server to nest related objects (e.g. ``"data_unit"``) in the answer."""
        return self._clone(expand=self._expand + tuple(relations))

    def only(self, *fields: str) -> QuerySet[T]:
        """Ask the server for these fields only (``fields=``); ``id`` is always kept."""
        wanted = tuple(dict.fromkeys(("id", *fields)))
        return self._clone(fields=wanted)

    def page_size(self, size: int) -> QuerySet[T]:
        """Items per request when iterating (1 to 1000)."""
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_PAGE_SIZE:
            raise InvalidInputError(f"page_size must be an int from 1 to 1000, got {size!r}")
        return self._clone(page_size=size)

    # ------------------------------------------------------------------ wire

    def _params(self) -> tuple[tuple[str, str], ...]:
        pairs = list(self._filters.items())
        if self._ordering:
            pairs.append(("ordering", ",".join(self._ordering)))
        expand = tuple(dict.fromkeys((*self._manager.default_expand, *self._expand)))
        pairs.extend(("expand", e) for e in expand)
        pairs.extend(("fields", f) for f in self._fields)
        return tuple(pairs)

    def _plan(self, low: int | None = None, high: int | None = None) -> PagePlan:
        client = self._manager.client
        return PagePlan(
            path=self._manager.list_path,
            params=self._params(),
            low=self._low if low is None else low,
            high=self._high if high is None else high,
            page_size=self._page_size or client.config.page_size,
            model=None if self._expand else self._manager.resource,
        )

    def _pages(self, plan: PagePlan) -> Iterator[Page]:
        client = self._manager.client
        return client.page_fetcher.pages(client.transport, plan)

    # ------------------------------------------------------------------ evaluation

    def iterator(self) -> Iterator[T]:
        """Stream the results page by page, without caching them."""
        resource = self._manager.resource
        client = self._manager.client
        for page in self._pages(self._plan()):
            if page.items and isinstance(page.items[0], resource):
                # Bound lazily: the state is built on first use (see Resource._meta).
                content, bind = page.content, object.__setattr__
                for index, obj in enumerate(page.items, start=page.offset):
                    bind(obj, "_state", (client, content, index))
                    yield obj
            else:
                yield from resource.from_api_many(client, page.items)

    def _fetch_all(self) -> list[T]:
        if self._result_cache is None:
            self._result_cache = list(self.iterator())
        return self._result_cache

    def __iter__(self) -> Iterator[T]:
        return iter(self._fetch_all())

    def __len__(self) -> int:
        return len(self._fetch_all())

    def __bool__(self) -> bool:
        return bool(self._fetch_all())

    @overload
    def __getitem__(self, key: int) -> T: ...
    @overload
    def __getitem__(self, key: slice) -> QuerySet[T]: ...
    def __getitem__(self, key: int | slice) -> T | QuerySet[T]:
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise ValueError("QuerySet slices do not take a step")
            start, stop = key.start or 0, key.stop
            for bound in (start, stop):
                if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                    raise TypeError(f"slice bounds must be ints, got {bound!r}")
                if bound is not None and bound < 0:
                    raise ValueError("negative indexing is not supported")
            low = self._low + start
            high = self._low + stop if stop is not None else None
            if self._high is not None:
                high = self._high if high is None else min(high, self._high)
                low = min(low, self._high)
            sliced = self._clone(low=low, high=high)
            if self._result_cache is not None:
                sliced._result_cache = self._result_cache[start:stop]
            return sliced
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(f"QuerySet indices must be ints or slices, got {key!r}")
        if key < 0:
            raise ValueError("negative indexing is not supported")
        if self._result_cache is not None:
            return self._result_cache[key]
        found = list(self[key : key + 1].iterator())
        if not found:
            raise IndexError("QuerySet index out of range")
        return found[0]

    def count(self) -> int:
        """How many objects match: the cache's length, or one request with page_size=1."""
        if self._result_cache is not None:
            return len(self._result_cache)
        page = next(self._pages(replace(self._plan(low=0, high=1), page_size=1)), None)
        total = page.count if page is not None and page.count is not None else None
        if total is None:  # the endpoint gives no count: count by iterating
            return sum(1 for _ in self.iterator())
        upper = total if self._high is None else min(total, self._high)
        return max(0, upper - self._low)

    def exists(self) -> bool:
        """Whether anything matches (one small request unless cached)."""
        if self._result_cache is not None:
            return bool(self._result_cache)
        return self.first() is not None

    def first(self) -> T | None:
        """The first object, or None (one small request unless cached)."""
        if self._result_cache is not None:
            return self._result_cache[0] if self._result_cache else None
        found = list(self[:1].iterator())
        return found[0] if found else None

    def get(self, **filters: Any) -> T:
        """The one object matching; ``DoesNotExist`` or ``MultipleObjectsReturned`` else."""
        query = self.filter(**filters) if filters else self
        found = list(query[:2].iterator())
        resource = self._manager.resource
        if not found:
            raise resource.DoesNotExist(f"no {resource.__name__} matches {query._describe()}")
        if len(found) > 1:
            raise resource.MultipleObjectsReturned(
                f"more than one {resource.__name__} matches {query._describe()}"
            )
        return found[0]

    def set_tags(self, tags: Any, action: str = "add") -> Any:
        """Add (or remove) tags on every matching object: its ids, then one request."""
        setter = getattr(self._manager, "set_tags", None)
        if setter is None:
            raise AttributeError(f"{self._manager.resource.__name__} objects have no tags")
        source = self._result_cache if self._result_cache is not None else self.only("id")
        ids = [obj.pk for obj in source]
        return setter(ids, tags, action) if ids else None

    def _describe(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self._filters.items()) or "the query"

    def __repr__(self) -> str:
        parts = [self._manager.resource.__name__]
        if self._filters:
            parts.append(f"filter({self._describe()})")
        if self._ordering:
            parts.append(f"order_by({', '.join(self._ordering)})")
        if self._low or self._high is not None:
            parts.append(f"[{self._low}:{'' if self._high is None else self._high}]")
        if self._result_cache is not None:
            parts.append(f"({len(self._result_cache)} cached)")
        return f"<QuerySet {' '.join(parts)}>"
