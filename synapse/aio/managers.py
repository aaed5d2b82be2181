"""The managers of an `AsyncClient`: each kind's own declared manager class, with the
async capabilities mixed in.

`async_manager_class(TaskManager)` is a subclass of ``TaskManager`` (its paths, filters,
orderings, expansions and kind-specific methods, declared once) and of the async twin of
each capability it has: `AsyncGet` (``aget``), `AsyncList` (``all()`` gives an
`AsyncQuerySet`; ``afirst``, ``acount``...), `AsyncCreate` (``acreate``, ``abulk_create``,
``aget_or_create``), `AsyncUpdate` (``asave``), `AsyncDelete` (``adelete``). A kind
without a list endpoint has no ``afirst``, as it has no ``first``.

Every verb is awaited natively, with no worker thread. Where a kind's sync method does
more than the capability's default (its own ``create``, a batched ``bulk_create``), the
kind describes it once as a generator of steps (``_create_steps``,
``_bulk_create_steps``): the sync method drives it blocking, the async name awaits it
(`synapse.aio.transfers.adrive`), so there is one implementation, never a second copy.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from synapse.aio.query import AsyncContext, AsyncQuerySet, async_context
from synapse.aio.transfers import adrive, gather_all
from synapse.errors import ClientError, InvalidInputError
from synapse.executors import check_count
from synapse.managers import (
    BulkItem,
    BulkReport,
    CreateMixin,
    DeleteMixin,
    GetMixin,
    ListMixin,
    Manager,
    UpdateMixin,
)
from synapse.urls import PathParam

if TYPE_CHECKING:
    from synapse.resources.base import Resource

__all__ = [
    "AsyncCreate",
    "AsyncDelete",
    "AsyncGet",
    "AsyncList",
    "AsyncUpdate",
    "async_manager_class",
]

T = TypeVar("T", bound="Resource")


def _async(manager: Manager[Any]) -> AsyncContext:
    return async_context(manager.client)


class AsyncGet(GetMixin[T]):
    """``aget(pk)``: one object by id (or the one matching filters)."""

    async def aget(self, pk: PathParam | None = None, /, **filters: Any) -> T:
        """The object with this id, or the one object matching ``filters``; raises
        ``<Resource>.DoesNotExist``."""
        pk = self._lookup("aget", pk, filters)
        if pk is None:
            found: T = await self.all().aget(**filters)  # type: ignore[attr-defined]
            return found
        found = await adrive(_async(self).atransport, self._get_steps(pk))  # `get`'s steps
        return found

    async def afetch(self, pk: PathParam, params: Mapping[str, Any] | None = None) -> Any:
        """The object's JSON as the server sends it (`GetMixin.fetch`, awaited)."""
        return await _async(self).atransport.answer(self._detail_call(pk, params))


class AsyncList(ListMixin[T]):
    """Lazy listing through `AsyncQuerySet`."""

    def all(self) -> AsyncQuerySet[T]:
        """Every object, lazily: an `AsyncQuerySet` (building it sends nothing)."""
        return AsyncQuerySet(self)

    def filter(self, **filters: Any) -> AsyncQuerySet[T]:
        """Objects matching ``filters`` (checked now, before any request)."""
        return self.all().filter(**filters)

    async def afirst(self) -> T | None:
        """The first object, or None."""
        return await self.all().afirst()

    async def alast(self) -> T | None:
        """The last object, or None."""
        return await self.all().alast()

    async def aexists(self) -> bool:
        """Whether there is any object."""
        return await self.all().aexists()

    async def acount(self) -> int:
        """How many objects there are (one small request)."""
        return await self.all().acount()

    def aiterator(self, chunk_size: int | None = None) -> AsyncIterator[T]:
        """Stream every object without caching."""
        return self.all().aiterator(chunk_size)

    async def ain_bulk(self, ids: Iterable[Any]) -> dict[Any, T]:
        """The objects with these ids, by id."""
        return await self.all().ain_bulk(ids)

    async def ato_pandas(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> Any:
        """Every object as a DataFrame row (`AsyncQuerySet.ato_pandas`)."""
        return await self.all().ato_pandas(columns, flatten=flatten, progress=progress)

    async def ato_arrow(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> Any:
        """Every object as an Arrow table row (`AsyncQuerySet.ato_arrow`)."""
        return await self.all().ato_arrow(columns, flatten=flatten, progress=progress)


class AsyncCreate(CreateMixin[T]):
    """``acreate``, ``abulk_create`` and ``aget_or_create``."""

    async def acreate(self, *args: Any, **fields: Any) -> T:
        """Create one object and return it as the server answered; ``args`` are the
        kind's own ``create``'s positional arguments (``data_files.acreate(path)``)."""
        if type(self).create is not CreateMixin.create:  # the kind's own, as steps
            steps = self._create_steps(*args, **fields)  # type: ignore[attr-defined]
            made: T = self._build(await _async(self)._adrive(steps))
            return made
        if args:
            raise InvalidInputError(
                f"{self.resource.__name__} fields are given by name "
                f"(acreate(field=value, ...)), not by position: got {len(args)} positional"
            )
        body = self._body(fields)  # checked before anything is sent
        return self._build(await _async(self).atransport.request("POST", self.path, data=body))

    async def abulk_create(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int | None = None
    ) -> BulkReport[T]:
        """Create many objects; each item's outcome is in the report, in order. Up to
        the client's ``pages_in_flight`` creations are in flight at once (a kind with a
        batch endpoint sends its batches, as ``bulk_create`` does, of the same default
        size when ``batch_size`` is not given)."""
        if batch_size is not None:
            check_count("batch_size", batch_size)
        if type(self).bulk_create is not CreateMixin.bulk_create:  # the kind's batches
            size = {} if batch_size is None else {"batch_size": batch_size}
            steps = self._bulk_create_steps(items, **size)  # type: ignore[attr-defined]
            report: BulkReport[T] = await _async(self)._adrive(steps)
            return report
        entries: list[BulkItem[T]] = [BulkItem(i, item) for i, item in enumerate(items)]
        limit = asyncio.Semaphore(max(1, self.client.config.pages_in_flight))

        async def one(entry: BulkItem[T]) -> None:
            async with limit:
                try:
                    entry.result = await self.acreate(**entry.item)
                except ClientError as exc:
                    entry.error = exc

        # One transfer for them all: aclose() stops every creation, not only the ones
        # in flight (the others went on after it returned).
        await _async(self)._transfer(gather_all([one(entry) for entry in entries]))
        return BulkReport(entries)

    async def aget_or_create(
        self, defaults: Mapping[str, Any] | None = None, **lookup: Any
    ) -> tuple[T, bool]:
        """The object matching ``lookup``, or a new one made of ``lookup`` and ``defaults``."""
        if not isinstance(self, AsyncList):
            raise InvalidInputError(f"{self.resource.__name__} cannot be looked up by filters")
        try:
            found: T = (
                await self.aget(**lookup)
                if isinstance(self, AsyncGet)
                else await self.all().aget(**lookup)
            )
            return found, False
        except self.resource.DoesNotExist:
            return await self.acreate(**{**lookup, **(defaults or {})}), True


class AsyncUpdate(UpdateMixin[T]):
    """``asave(obj)``: `UpdateMixin.save`, awaited (a PATCH of what changed, or a PUT)."""

    async def asave(self, obj: T) -> None:
        """Send ``obj``'s changes and reload it from the answer; create it if it is new."""
        if obj._meta.deleted:
            raise InvalidInputError(f"this {type(obj).__name__} was deleted; it cannot be saved")
        if obj.pk is None:
            if not isinstance(self, AsyncCreate):
                raise InvalidInputError(f"{type(obj).__name__} objects cannot be created")
            created = await self.acreate(**obj._wire_body())
            obj._load(created._meta.raw)
            return
        steps = self._update_steps(obj)  # `save`'s steps: the same checks and request
        if steps is not None:
            await _async(self)._adrive(steps)


class AsyncDelete(DeleteMixin[T]):
    """``adelete(pk)``."""

    async def adelete(self, pk: PathParam) -> None:
        """Delete the object with this id."""
        await _async(self).atransport.request("DELETE", self.detail_path(pk))
        self.client.forget(self.resource, pk)


_TWINS: tuple[tuple[type[Manager[Any]], type[Manager[Any]]], ...] = (
    (GetMixin, AsyncGet),
    (ListMixin, AsyncList),
    (CreateMixin, AsyncCreate),
    (UpdateMixin, AsyncUpdate),
    (DeleteMixin, AsyncDelete),
)
_CLASSES: dict[type[Manager[Any]], type[Manager[Any]]] = {}


def async_manager_class(kind: type[Manager[Any]]) -> type[Manager[Any]]:
    """The kind's manager class with the async twin of each capability it has."""
    made = _CLASSES.get(kind)
    if made is None:
        twins = tuple(twin for capability, twin in _TWINS if issubclass(kind, capability))
        made = _CLASSES[kind] = type(f"Async{kind.__name__}", (*twins, kind), {})
    return made
