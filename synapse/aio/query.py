"""`AsyncQuerySet`: the `QuerySet` of an `AsyncClient`, with Django's async names.

Building a query is `QuerySet`'s own code (filters checked, ordering, slices, expansions,
the page plan): chaining returns an `AsyncQuerySet`, sends nothing and needs no
``await``. What sends requests has an ``a`` name (``acount()``, ``afirst()``...) or is
``async for``; the pages come from the client's `AsyncPageFetcher`.
"""

from __future__ import annotations

import html
from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Generator, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar, cast

from synapse.aio.values import AsyncValuesQuerySet
from synapse.context import awaiting
from synapse.pagination import Page
from synapse.query import QuerySet

if TYPE_CHECKING:
    from collections.abc import Sequence

    from synapse.aio.pagination import AsyncPageFetcher
    from synapse.aio.transport import AsyncTransport
    from synapse.context import Context
    from synapse.resources.base import Resource
    from synapse.values import Shape

__all__ = ["AsyncContext", "AsyncQuerySet"]

T = TypeVar("T", bound="Resource")
R = TypeVar("R")


class AsyncContext(Protocol):
    """What async managers and queries need from an `AsyncClient` besides `Context`."""

    atransport: AsyncTransport
    apage_fetcher: AsyncPageFetcher

    async def _adrive(self, steps: Generator[Any, Any, R], *, limit: int = 1) -> R:
        """Run a kind's steps on the loop as a transfer (``aclose`` stops it)."""
        ...

    async def _transfer(self, work: Coroutine[Any, Any, R]) -> R:
        """Run a transfer as a task the client keeps (``aclose`` stops it)."""
        ...


def async_context(client: Context) -> AsyncContext:
    """The async side of the client that loaded a manager (a clear error for a sync one)."""
    return cast("AsyncContext", awaiting(client))


class AsyncQuerySet(QuerySet[T]):
    """A lazy query whose evaluation is awaited: ``async for``, ``aiterator()``,
    ``acount()``, ``aexists()``, ``afirst()``, ``alast()``, ``aget()``, ``ain_bulk()``;
    rows with ``values()``/``values_list()`` (an `AsyncValuesQuerySet`), tables with
    ``ato_pandas()``/``ato_arrow()``.

    ``async for`` streams page by page without caching (a listing of millions holds a
    few pages). The sync evaluation (``list(qs)``, ``len(qs)``) raises: it would block
    the event loop.
    """

    # -- chaining, as QuerySet's (typed as what it makes: an AsyncQuerySet)

    def _clone(self, **changes: Any) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", super()._clone(**changes))

    def all(self) -> AsyncQuerySet[T]:
        return self._clone()

    def filter(self, **filters: Any) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", super().filter(**filters))

    def exclude(self, **filters: Any) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", super().exclude(**filters))

    def none(self) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", super().none())

    def order_by(self, *fields: str) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", super().order_by(*fields))

    def expand(self, *relations: str) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", super().expand(*relations))

    def only(self, *fields: str) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", super().only(*fields))

    def page_size(self, size: int) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", super().page_size(size))

    def _slice(self, start: int, stop: int | None) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", self[start:stop])

    def _sliced(self, key: slice) -> AsyncQuerySet[T]:
        return cast("AsyncQuerySet[T]", super()._sliced(key))

    def values(self, *fields: str) -> AsyncValuesQuerySet:
        """`QuerySet.values`, read with ``async for``, ``afirst()``, ``acount()``..."""
        return cast("AsyncValuesQuerySet", super().values(*fields))

    def values_list(
        self, *fields: str, flat: bool = False, named: bool = False
    ) -> AsyncValuesQuerySet:
        """`QuerySet.values_list`, read with ``async for``, ``afirst()``, ``acount()``..."""
        return cast("AsyncValuesQuerySet", super().values_list(*fields, flat=flat, named=named))

    def _rows(self, fields: tuple[str, ...], shape: Shape) -> AsyncValuesQuerySet:
        return AsyncValuesQuerySet(self, fields, shape)

    # -- evaluation, awaited

    def _async(self) -> AsyncContext:
        return async_context(self._manager.client)

    def _apages(self, plan: Any) -> AsyncGenerator[Page, None]:
        """The fetcher's own generator (not a wrapper: closing it must reach the
        fetcher, which cancels the pages in flight)."""
        client = self._async()
        return client.apage_fetcher.pages(client.atransport, plan)

    async def aiterator(
        self, chunk_size: int | None = None, *, stable: bool = False
    ) -> AsyncIterator[T]:
        """Stream the results page by page, without caching (`QuerySet.iterator`'s
        ``stable`` walk too). ``chunk_size`` is the page size of the requests."""
        query: AsyncQuerySet[T] = self if chunk_size is None else self.page_size(chunk_size)
        if query._empty:
            return
        if stable:
            from synapse.aio.pagination import astable_pages

            query._check_unsliced("walk stably")
            walk = query._manager.stable_walk(query._ordering)
            pages = astable_pages(self._async().atransport, query._plan(), walk)
        else:
            pages = query._apages(query._plan())
        try:
            async for page in pages:
                for obj in query._objects(iter([page])):
                    yield obj
        finally:
            await pages.aclose()  # a break cancels the pages in flight, now

    async def _araw_items(self, wire: tuple[str, ...]) -> AsyncGenerator[dict[str, Any], None]:
        """`QuerySet._raw_items`, awaited: the wire dicts of ``values(*wire)``'s rows."""
        pages = cast("AsyncQuerySet[T]", self._rows_query(wire))._adict_pages()
        try:
            async for page in pages:
                for item in page.items:
                    yield item
        finally:
            await pages.aclose()

    async def _adict_pages(self) -> AsyncGenerator[Page, None]:
        """`QuerySet._dict_pages`, awaited: the pages with their items as wire dicts."""
        if self._empty:
            return
        pages = self._apages(self._dict_plan())
        try:
            async for page in pages:
                yield page
        finally:
            await pages.aclose()  # closing this reaches the fetcher's pages in flight

    async def ato_pandas(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> Any:
        """`QuerySet.to_pandas`, its pages fetched on the loop. Needs
        ``synapse-orm[pandas]``."""
        return await self._atable(columns, flatten, progress, "pandas")

    async def ato_arrow(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> Any:
        """`QuerySet.to_arrow`, its pages fetched on the loop. Needs
        ``synapse-orm[arrow]``."""
        return await self._atable(columns, flatten, progress, "arrow")

    async def _atable(
        self,
        columns: Sequence[str] | None,
        flatten: bool,
        progress: bool | None,
        backend: Literal["pandas", "arrow"],
    ) -> Any:
        """The sync table's own fill (columns, types, progress), fed the pages fetched
        here."""
        fill, fields = self._table()._table_fill(columns, flatten, progress, backend)
        query = cast("AsyncQuerySet[T]", self._table_query(fields))
        pages = query._adict_pages()
        try:
            async for page in pages:
                fill.add(*query._table_page(page))
        finally:
            fill.close()
            await pages.aclose()
        return fill.result()

    def __aiter__(self) -> AsyncIterator[T]:
        if self._result_cache is not None:
            return _aiter_list(self._result_cache)
        return self.aiterator()

    async def acount(self) -> int:
        """How many objects match: one request with ``page_size=1``."""
        if self._result_cache is not None:
            return len(self._result_cache)
        if self._empty:
            return 0
        pages = self._apages(replace(self._plan(low=0, high=1), page_size=1))
        try:
            page = await anext(pages, None)
        finally:
            await pages.aclose()
        total = self._in_range(page.count if page is not None else None)
        if total is None:  # the endpoint gives no count: count by iterating
            return sum([1 async for _ in self.aiterator()])
        return total

    async def afirst(self) -> T | None:
        """The first object, or None (one small request)."""
        if self._result_cache is not None:
            return self._result_cache[0] if self._result_cache else None
        found = [obj async for obj in self._slice(0, 1).aiterator()]
        return found[0] if found else None

    async def alast(self) -> T | None:
        """The last object in the query's order (by id when unordered), or None."""
        ordering = self._ordering or (self._manager.resource._pk_field,)
        flipped = tuple(o[1:] if o.startswith("-") else f"-{o}" for o in ordering)
        return await self.order_by(*flipped).afirst()

    async def aexists(self) -> bool:
        """Whether anything matches (one small request)."""
        return await self.afirst() is not None

    async def aget(self, **filters: Any) -> T:
        """The one object matching; ``DoesNotExist`` or ``MultipleObjectsReturned`` else."""
        query = self.filter(**filters) if filters else self
        found = [obj async for obj in query._slice(0, 2).aiterator()]
        resource = self._manager.resource
        if not found:
            raise resource.DoesNotExist(f"no {resource.__name__} matches {query._describe()}")
        if len(found) > 1:
            raise resource.MultipleObjectsReturned(
                f"more than one {resource.__name__} matches {query._describe()}"
            )
        return found[0]

    async def ain_bulk(self, ids: Iterable[Any]) -> dict[Any, T]:
        """The objects with these ids, by id: one request per 100 ids."""
        wanted = list(dict.fromkeys(ids))
        found: dict[Any, T] = {}
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            async for obj in self.filter(ids=chunk).page_size(len(chunk)).aiterator():
                found[obj.pk] = obj
        return found

    async def aset_tags(self, tags: Any, action: str = "add") -> Any:
        """`set_tags` awaited: the query's ids (its cache, or one ``only("id")``
        listing), then one request; nothing is sent when nothing matches."""
        tagger = self._tagger()
        cached = self._result_cache
        ids = (
            [o.pk for o in cached] if cached is not None else [o.pk async for o in self.only("id")]
        )
        return await tagger.aset_tags(ids, tags, action) if ids else None

    def __repr__(self) -> str:
        return super().__repr__().replace("<QuerySet", "<AsyncQuerySet", 1)

    def _repr_html_(self, rows: int = 10) -> str:
        """What a notebook shows for the query itself: its description, with no request
        (a display hook cannot await; the rows are ``await qs.ato_pandas()`` away)."""
        return (
            f"<code>{html.escape(repr(self))}</code> <small>not fetched: <code>await "
            "query.ato_pandas()</code>, or <code>async for</code> over it</small>"
        )


async def _aiter_list(items: list[T]) -> AsyncIterator[T]:
    for item in items:
        yield item
