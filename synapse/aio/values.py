"""``values()`` and ``values_list()`` of an `AsyncClient`'s queries, read with ``await``.

The rows are `ValuesQuerySet`'s own: the same fields asked of the server, the same row
made of each item (`ValuesQuerySet._row`), the same chaining and slicing. Only reading
the pages differs: they come from the client's `AsyncPageFetcher`, on the loop.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from typing import Any, Protocol, cast, overload

from synapse.aio.http import running_loop
from synapse.errors import InvalidInputError
from synapse.values import Rows, ValuesQuerySet

__all__ = ["AsyncValuesQuerySet"]


class AsyncRows(Rows, Protocol):
    """What an async values query needs of the `AsyncQuerySet` it reads."""

    def _araw_items(self, wire: tuple[str, ...]) -> AsyncGenerator[dict[str, Any], None]: ...
    async def acount(self) -> int: ...


class AsyncValuesQuerySet(ValuesQuerySet):
    """The rows of an `AsyncQuerySet`: ``async for``, ``aiterator()``, ``acount()``,
    ``aexists()``, ``afirst()``; chained and sliced as `ValuesQuerySet` is (sending
    nothing)."""

    _query: AsyncRows

    async def aiterator(self) -> AsyncIterator[Any]:
        """The rows, page by page (each iteration asks the server again)."""
        items = self._query._araw_items(self._wire)
        try:
            async for item in items:
                yield self._row(item)
        finally:
            await items.aclose()  # a break cancels the pages in flight

    def __aiter__(self) -> AsyncIterator[Any]:
        return self.aiterator()

    def __iter__(self) -> Iterator[Any]:
        if running_loop() is not None:  # on the loop: blocking would stall it
            what = "values_list" if self._shape != "dict" else "values"
            raise InvalidInputError(
                f"an AsyncClient's {what}() rows are read with `async for row in ...`, "
                "`aiterator()`, `await afirst()`, `await acount()` or `await aexists()`; "
                "a blocking `for` would stall the event loop"
            )
        return super().__iter__()  # sync code handed to `AsyncClient.run_sync`

    @overload
    def __getitem__(self, key: int) -> Any: ...
    @overload
    def __getitem__(self, key: slice) -> AsyncValuesQuerySet: ...
    def __getitem__(self, key: int | slice) -> Any:
        return super().__getitem__(key)

    def filter(self, **filters: Any) -> AsyncValuesQuerySet:
        return cast("AsyncValuesQuerySet", super().filter(**filters))

    def exclude(self, **filters: Any) -> AsyncValuesQuerySet:
        return cast("AsyncValuesQuerySet", super().exclude(**filters))

    def order_by(self, *fields: str) -> AsyncValuesQuerySet:
        return cast("AsyncValuesQuerySet", super().order_by(*fields))

    async def acount(self) -> int:
        """How many rows (one small request)."""
        return await self._query.acount()

    async def afirst(self) -> Any:
        """The first row, or None (one small request)."""
        found = [row async for row in self[:1]]
        return found[0] if found else None

    async def aexists(self) -> bool:
        """Whether there is a row (one small request), even a row that is None."""
        return bool([row async for row in self[:1]])

    def __repr__(self) -> str:
        return "<async " + super().__repr__()[1:]
