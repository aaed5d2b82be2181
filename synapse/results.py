"""``ListResult``: what the method API's ``list_*(list_all=True)`` returns."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any, overload

from synapse.frames import Pages, Tabular
from synapse.pagination import Page, PagePlan, StableWalk, stable_pages

if TYPE_CHECKING:
    from pydantic import BaseModel

    from synapse.config import TimeoutLike
    from synapse.context import Context

__all__ = ["ListResult"]


class ListResult(Tabular):
    """``list_*(list_all=True)``: every item, lazily; ``len()`` is the server's count.

    ``len()`` fetches the first page if needed (and iteration then reuses it); iterating
    streams the pages. ``result[i]`` and ``result[a:b]`` fetch only the pages that cover
    them, planned as [`QuerySet`][synapse.query.QuerySet] slices are (``result[0]`` is one request
    for one item). A negative index asks for the count first. ``list_all=True`` returns
    it as the first of ``(items, count)``, where the old package gave a generator.

    With ``stable=True`` (a [`StableWalk`][synapse.pagination.StableWalk]), iterating never
    skips or repeats an item while rows are inserted or deleted; ``len()`` then costs one
    small request of its own.
    """

    def __init__(
        self,
        client: Context,
        path: str,
        params: list[tuple[str, Any]],
        page_size: int,
        convert: Callable[[dict[str, Any]], None] | None,
        *,
        walk: StableWalk | None = None,
        resource: type[BaseModel] | None = None,
        timeout: TimeoutLike | None = None,
    ) -> None:
        self._client = client
        self._resource = resource  # its declared fields are a table's columns
        self._plan = PagePlan(path, tuple(params), page_size=page_size, timeout=timeout)
        self._convert = convert
        self._walk = walk
        self._pages: Iterator[Any] | None = None
        self._first: Any = None
        self._count: int | None = None

    def _start(self) -> None:
        if self._pages is None:
            self._pages = self._client.page_fetcher.pages(self._client.transport, self._plan)
            self._first = next(self._pages, None)
            self._count = self._first.count if self._first is not None else 0

    def __len__(self) -> int:
        if self._count is None and self._walk is not None:
            probe = self._range_pages(0, 1, page_size=1)
            first = next(probe, None)
            self._count = first.count if first is not None else 0
        if self._count is None:
            self._start()
        return self._count or 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        if self._walk is not None:
            for page in stable_pages(self._client.transport, self._plan, self._walk):
                yield from self._items(page.items)
            return
        self._start()
        pages, first = self._pages, self._first
        self._pages, self._first = None, None  # a second iteration starts over
        if first is None or pages is None:
            return
        yield from self._items(first.items)
        for page in pages:
            yield from self._items(page.items)

    @overload
    def __getitem__(self, key: int) -> dict[str, Any]: ...
    @overload
    def __getitem__(self, key: slice) -> list[dict[str, Any]]: ...
    def __getitem__(self, key: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(key, slice):
            if key.step not in (None, 1):
                raise ValueError("list_all results do not take a slice step")
            start, stop = key.start, key.stop
            if (start is not None and start < 0) or (stop is not None and stop < 0):
                start, stop, _ = key.indices(len(self))
            return self._range(start or 0, stop)
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(f"indices must be ints or slices, got {key!r}")
        index = key + len(self) if key < 0 else key
        found = self._range(index, index + 1) if index >= 0 else []
        if not found:
            raise IndexError("list_all result index out of range")
        return found[0]

    def _range(self, low: int, high: int | None) -> list[dict[str, Any]]:
        return [item for page in self._range_pages(low, high) for item in self._items(page.items)]

    def _range_pages(self, low: int, high: int | None, **changes: Any) -> Iterator[Page]:
        plan = replace(self._plan, low=low, high=high, **changes)
        return self._client.page_fetcher.pages(self._client.transport, plan)

    def _items(self, items: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in items:
            if self._convert is not None:
                self._convert(item)
            yield item

    # -- tables (Tabular)

    def _table_model(self) -> type[BaseModel] | None:
        return self._resource

    def _table_pages(self, fields: tuple[str, ...]) -> Pages:
        params = (*self._plan.params, *(("fields", f) for f in fields))
        if self._walk is not None:
            plan = replace(self._plan, params=params)
            pages = stable_pages(self._client.transport, plan, self._walk)
        else:
            pages = self._range_pages(0, None, params=params)
        return ((page.count, list(self._items(page.items))) for page in pages)

    def _table_label(self) -> str:
        return f"{self._plan.path} rows"

    def __repr__(self) -> str:
        count = "?" if self._count is None else self._count
        return f"<ListResult {self._plan.path} count={count}>"
