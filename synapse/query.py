"""Lazy, chainable, sliceable queries over the backend's paginated lists.

A [`QuerySet`][synapse.query.QuerySet] sends nothing until it is evaluated (iterated, ``len()``,
``list()``,
``bool()``, indexed). Chaining returns new QuerySets. Slices fetch only the pages that
cover them, with a page size chosen to fit (``qs[:10]`` is one request for 10 items).
``iterator()`` streams page by page without caching. Filters are checked by
`filters`; pages are fetched by `pagination`.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, overload

from synapse.display import query_html
from synapse.errors import InvalidInputError
from synapse.frames import PagedTable, Pages, check_sent, field_names
from synapse.pagination import MAX_PAGE_SIZE, Page, PagePlan, PageSource, stable_pages
from synapse.values import Shape, ValuesQuerySet

if TYPE_CHECKING:
    from collections.abc import Sequence

    from synapse.context import Context
    from synapse.filters import FilterSet
    from synapse.pagination import StableWalk
    from synapse.partitions import Partition, PartitionKind
    from synapse.protocol import Kind
    from synapse.resources.base import Resource
    from synapse.training.report import ExportReport

__all__ = ["Listing", "QuerySet"]

T = TypeVar("T", bound="Resource")
T_co = TypeVar("T_co", bound="Resource", covariant=True)


class Listing(Protocol[T_co]):
    """What a QuerySet needs from the manager of its kind (a `ListMixin`)."""

    filters: FilterSet
    default_expand: tuple[str, ...]
    orderings: frozenset[str]

    @property
    def kind(self) -> Kind: ...

    @property
    def resource(self) -> type[T_co]: ...
    @property
    def client(self) -> Context: ...
    @property
    def list_path(self) -> str: ...
    def stable_walk(self, ordering: tuple[str, ...] = ()) -> StableWalk: ...


class QuerySet(Generic[T]):
    """A lazy query of one kind of resource. Chain, slice, iterate; Django-like."""

    def __init__(
        self,
        manager: Listing[T],
        *,
        filters: Mapping[str, str] | None = None,
        ordering: tuple[str, ...] = (),
        expand: tuple[str, ...] = (),
        fields: tuple[str, ...] = (),
        page_size: int | None = None,
        low: int = 0,
        high: int | None = None,
        empty: bool = False,
        announced: int | None = None,
    ) -> None:
        self._manager = manager
        self._filters = dict(filters or {})
        self._ordering = ordering
        self._expand = expand
        self._fields = fields
        self._page_size = page_size
        self._low = low
        self._high = high
        self._empty = empty  # none(), or filters that cannot match: nothing is sent
        #: The list's count when it was planned (page partitions): a page that counts
        #: otherwise means rows moved, and the listing raises instead of shifting.
        self._announced = announced
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
            "empty": self._empty,
            "announced": self._announced,
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
        key = self._manager.resource._pk_field
        filters = {  # Django's ``pk`` (``pk__in``...) names the kind's key
            key + name[2:] if name == "pk" or name.startswith("pk__") else name: value
            for name, value in filters.items()
        }
        encoded = self._manager.filters.encode(
            filters,
            kind=self._manager.resource.__name__,
            unknown=self._manager.client.config.unknown_filters,
        )
        return self._merged(encoded)

    def _merged(self, encoded: Mapping[str, str]) -> QuerySet[T]:
        """These filters ANDed with the query's: the same value twice is fine, two id lists
        intersect, and two different values of one filter raise (the backend cannot AND
        them, and would keep only one)."""
        merged = dict(self._filters)
        empty = self._empty
        for name, value in encoded.items():
            old = merged.get(name)
            if old is None or old == value:
                merged[name] = value
            elif name.endswith("__in") or name == "ids":
                wanted = set(value.split(","))
                common = [v for v in old.split(",") if v in wanted]
                empty = empty or not common
                merged[name] = ",".join(common) or old
            else:
                raise InvalidInputError(
                    f"filter {name!r} is already {old!r}: a second value ({value!r}) cannot "
                    "be combined with it (the backend would keep only one)"
                )
        return self._clone(filters=merged, empty=empty)

    def none(self) -> QuerySet[T]:
        """A query that matches nothing and sends no request."""
        return self._clone(empty=True)

    def exclude(self, **filters: Any) -> QuerySet[T]:
        """Leave out objects by id (``exclude(id=5)``, ``exclude(id__in=[...])``), which
        the backend expresses as ``ids_ex``; other exclusions raise before sending."""
        self._check_unsliced("exclude")
        key = self._manager.resource._pk_field
        ids: list[Any] = []
        for name, value in filters.items():
            if name in (key, "pk"):
                ids.append(value)
            elif name in (f"{key}__in", "pk__in"):
                ids.extend(value)
            else:
                raise InvalidInputError(
                    f"the backend can only exclude by id (ids_ex), not by {name!r}"
                )
        if not ids:
            return self._clone()
        current = self._filters.get("ids_ex")
        encoded = self._manager.filters.encode({"ids_ex": ids}, unknown="raise")
        if current:
            encoded = {"ids_ex": f"{current},{encoded['ids_ex']}"}
        return self._clone(filters={**self._filters, **encoded})

    def raw_filter(self, **params: Any) -> QuerySet[T]:
        """Send filters as given, for names the SDK does not know yet (the real backend may
        know more than the SDK); each unknown name gives an `UnknownFilterWarning`
        instead of an error. Known names are checked as in `filter()`."""
        self._check_unsliced("filter")
        encoded = self._manager.filters.encode(
            params, kind=self._manager.resource.__name__, unknown="warn"
        )
        return self._clone(filters={**self._filters, **encoded})

    def order_by(self, *fields: str) -> QuerySet[T]:
        """Order by fields; ``-field`` for descending. Replaces any earlier ordering."""
        self._check_unsliced("order")
        allowed = self._manager.orderings
        for name in fields:
            if not isinstance(name, str) or not name.lstrip("-"):
                raise InvalidInputError(f"order_by takes field names, got {name!r}")
            if name.lstrip("-") not in allowed:
                close = difflib.get_close_matches(name.lstrip("-"), sorted(allowed), n=2)
                hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
                raise InvalidInputError(
                    f"{self._manager.resource.__name__} lists cannot be ordered by "
                    f"{name.lstrip('-')!r}{hint} (orderable: {', '.join(sorted(allowed))}); "
                    "the backend would silently fall back to its default order"
                )
        return self._clone(ordering=tuple(fields))

    def expand(self, *relations: str) -> QuerySet[T]:
        """Ask the server to nest related objects (e.g. ``"data_unit"``) in the answer;
        a name the kind does not declare is refused (the server would ignore it)."""
        declared = self._manager.kind.expansions
        unknown = [r for r in relations if r not in declared]
        if unknown:
            name = self._manager.resource.__name__
            raise InvalidInputError(
                f"cannot expand {', '.join(map(repr, unknown))} on {name}: it expands "
                f"{', '.join(map(repr, declared)) or 'nothing'}"
            )
        return self._clone(expand=self._expand + tuple(relations))

    def only(self, *fields: str) -> QuerySet[T]:
        """Ask the server for these fields only (``fields=``); the key (``id``) is always
        kept.

        The other fields are not loaded: reading one on an object raises
        `DeferredFieldError` (never a None that the server did not say), and ``save()``
        never sends them. ``refresh()`` loads the whole object; ``values(*fields)`` lists
        plain dicts of just those fields.
        """
        return self._clone(
            fields=tuple(dict.fromkeys((self._pk_wire(), *self._wire_names(fields))))
        )

    def page_size(self, size: int) -> QuerySet[T]:
        """Items per request (1 to 1000), also for slices: ``qs.page_size(10)[0:500]`` is
        50 requests of 10, as asked (without it, a slice picks the fewest requests)."""
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
            fixed_size=self._page_size is not None,
            count=self._announced,
            model=self._manager.resource,  # expanded relations parse in the same pass
        )

    def _pages(self, plan: PagePlan) -> Iterator[Page]:
        client = self._manager.client
        return client.page_fetcher.pages(client.transport, plan)

    # ------------------------------------------------------------------ evaluation

    def iterator(self, chunk_size: int | None = None, *, stable: bool = False) -> Iterator[T]:
        """Stream the results page by page, without caching them.

        ``stable=True`` walks the list so that rows inserted or deleted meanwhile never
        make it skip or repeat an item (page numbers would shift): through the backend's
        cursor pagination where it offers one (tasks, assignments, ground-truth events:
        newest first), else by primary key (``id__gt``). It covers the whole query, not a
        slice, and orders by the primary key.
        """
        if chunk_size is not None:
            yield from self.page_size(chunk_size).iterator(stable=stable)
            return
        if self._empty:
            return
        if stable:
            self._check_unsliced("walk stably")
            walk = self._manager.stable_walk(self._ordering)
            client = self._manager.client
            pages = stable_pages(client.transport, self._plan(), walk)
        else:
            pages = self._pages(self._plan())
        yield from self._objects(pages)

    def _objects(self, pages: Iterator[Page]) -> Iterator[T]:
        resource = self._manager.resource
        client = self._manager.client
        deferred = self._deferred()
        declared = field_names(resource)
        undeclared = {name for name in self._fields if name not in declared}
        for page in pages:
            if page.items and isinstance(page.items[0], resource):
                # Bound lazily: the state is built on first use (see Resource._meta).
                source, bind = PageSource(page.content), object.__setattr__
                objects: Sequence[T] = page.items
                for index, obj in enumerate(page.items, start=page.offset):
                    bind(obj, "_state", (client, source, index))
            else:
                objects = resource.from_api_many(client, page.items)
            if undeclared:  # only("mta"): an error, not objects without what was asked
                check_sent([obj.model_extra or {} for obj in objects], undeclared, declared)
            for obj in objects:
                for name in deferred:  # not fetched: reading it raises DeferredFieldError
                    obj.__dict__.pop(name, None)
                yield obj

    def _deferred(self) -> tuple[str, ...]:
        """The fields ``only()`` leaves out (attribute names), removed from each object."""
        if not self._fields:
            return ()
        fetched = set(self._fields)
        fields = self._manager.resource.model_fields
        return tuple(name for name, f in fields.items() if (f.alias or name) not in fetched)

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

    def _sliced(self, key: slice) -> QuerySet[T]:
        """``self[key]`` (for callers typed without the overloads)."""
        return self[key]

    def count(self) -> int:
        """How many objects match: the cache's length, or one request with page_size=1."""
        if self._result_cache is not None:
            return len(self._result_cache)
        if self._empty:
            return 0
        page = next(self._pages(replace(self._plan(low=0, high=1), page_size=1)), None)
        total = self._in_range(page.count if page is not None else None)
        if total is None:  # the endpoint gives no count: count by iterating
            return sum(1 for _ in self.iterator())
        return total

    def _in_range(self, count: int | None) -> int | None:
        """How many of the list's ``count`` items this (sliced) query covers."""
        if count is None:
            return None
        upper = count if self._high is None else min(count, self._high)
        return max(0, upper - self._low)

    def exists(self) -> bool:
        """Whether anything matches (one small request unless cached)."""
        if self._result_cache is not None:
            return bool(self._result_cache)
        return self.first() is not None

    def last(self) -> T | None:
        """The last object in the query's order (by id when unordered), or None: one small
        request, with the ordering reversed."""
        ordering = self._ordering or (self._manager.resource._pk_field,)
        flipped = tuple(o[1:] if o.startswith("-") else f"-{o}" for o in ordering)
        return self.order_by(*flipped).first()

    def in_bulk(self, ids: Iterable[Any]) -> dict[Any, T]:
        """The objects with these ids, by id (ids that match nothing are left out):
        one request per 100 ids."""
        wanted = list(dict.fromkeys(ids))
        found: dict[Any, T] = {}
        for start in range(0, len(wanted), 100):
            chunk = wanted[start : start + 100]
            for obj in self.filter(ids=chunk).page_size(len(chunk)).iterator():
                found[obj.pk] = obj
        return found

    def values(self, *fields: str) -> ValuesQuerySet:
        """The rows as plain dicts: all the wire's fields, or ``fields`` (attribute or wire
        names, the keys as asked); a lazy query of its own (slice, chain, count, iterate
        again), without models."""
        return self._rows(fields, "dict")

    def values_list(self, *fields: str, flat: bool = False, named: bool = False) -> ValuesQuerySet:
        """The rows as tuples of the wire values of ``fields`` (named tuples with
        ``named=True``, single values with ``flat=True`` and one field): a lazy query of
        its own, without models."""
        if flat and named:
            raise InvalidInputError("values_list() takes flat=True or named=True, not both")
        return self._rows(fields, "flat" if flat else "named" if named else "tuple")

    def _rows(self, fields: tuple[str, ...], shape: Shape) -> ValuesQuerySet:
        """The values query of this one (an `AsyncQuerySet` makes its async kind)."""
        return ValuesQuerySet(self, fields, shape)

    def _wire_names(self, names: Iterable[str]) -> tuple[str, ...]:
        """Field names as the server knows them: a declared field's attribute name
        becomes its wire name (``project_id`` is sent as ``project``); any other name is
        sent as given, since the server may send fields the SDK does not declare."""
        declared = self._manager.resource.model_fields
        wire = []
        for name in names:
            if not isinstance(name, str) or not name:
                raise InvalidInputError(f"field names are non-empty strings, got {name!r}")
            field = declared.get(name)
            wire.append(field.alias or name if field is not None else name)
        return tuple(wire)

    def _relation_ids(self) -> frozenset[str]:
        """The attribute names of relation ids (``data_unit_id``): their value is the id
        even where the answer nests the related object (``expand``)."""
        from pydantic import AliasChoices

        fields = self._manager.resource.model_fields
        return frozenset(
            name for name, f in fields.items() if isinstance(f.validation_alias, AliasChoices)
        )

    def _field_names(self) -> tuple[str, ...]:
        """The declared fields' attribute and wire names (for did-you-mean hints)."""
        return tuple(sorted(field_names(self._manager.resource)))

    def _pk_wire(self) -> str:
        """The wire name of the kind's key (``pgh_id`` for ground-truth events)."""
        return self._wire_names([self._manager.resource._pk_field])[0]

    def _raw_items(self, wire: tuple[str, ...]) -> Iterator[dict[str, Any]]:
        for page in self._rows_query(wire)._dict_pages():
            yield from page.items

    def _rows_query(self, wire: tuple[str, ...]) -> QuerySet[T]:
        """The query whose pages hold the rows of ``values(*wire)``: those fields and the
        key asked of the server (all of them when none is named)."""
        return self._clone(fields=tuple(dict.fromkeys((self._pk_wire(), *wire)))) if wire else self

    def _dict_pages(self) -> Iterator[Page]:
        """The query's pages with their items as wire dicts (no models)."""
        if self._empty:
            return
        yield from self._pages(self._dict_plan())

    def _dict_plan(self) -> PagePlan:
        """The query's page plan with the items left as wire dicts (no models)."""
        return replace(self._plan(), model=None)

    # ------------------------------------------------------------------ tables (frames)

    def to_pandas(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> Any:
        """A DataFrame, a row per object (see
        [`Tabular.to_pandas`][synapse.frames.Tabular.to_pandas]). Needs
        ``synapse-orm[pandas]``."""
        return self._table().to_pandas(columns, flatten=flatten, progress=progress)

    def to_arrow(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> Any:
        """An Arrow table, as `to_pandas` builds it. Needs ``synapse-orm[arrow]``."""
        return self._table().to_arrow(columns, flatten=flatten, progress=progress)

    def _table(self) -> PagedTable:
        label = f"{self._manager.resource.__name__} rows"
        return PagedTable(self._manager.resource, self._table_pages, label)

    def _table_pages(self, fields: tuple[str, ...]) -> Pages:
        query = self._table_query(fields)
        return (query._table_page(page) for page in query._dict_pages())

    def _table_query(self, fields: tuple[str, ...]) -> QuerySet[T]:
        """The query whose pages fill a table of ``fields`` (all when none is named)."""
        return self.only(*fields) if fields else self

    def _table_page(self, page: Page) -> tuple[int | None, list[Any]]:
        """What a table takes of a page: the rows this query covers in all, its items."""
        return self._in_range(page.count), page.items

    def partitions(
        self,
        n: int | None = None,
        *,
        pages_per_partition: int | None = None,
        by: PartitionKind | None = None,
    ) -> list[Partition]:
        """Picklable pieces of the query that together hold every item once: ``n`` of
        them, or ``pages_per_partition`` pages each (default 10). Any engine can map over
        them. ``by="keys"`` (the default where the kind filters on its key and the query
        is unordered or ordered by it) makes primary-key ranges, fixed now, that rows
        written later cannot shift; ``by="pages"`` page ranges of the query's ordering.
        One request for the count, and one per boundary for key ranges."""
        from synapse.partitions import partition_query

        return partition_query(self, n, pages_per_partition, by)

    def to_dask(
        self,
        npartitions: int | None = None,
        *,
        columns: Sequence[str] | None = None,
        flatten: bool = False,
    ) -> Any:
        """A ``dask.dataframe`` over `partitions`: each worker fetches its own pages with
        the (pickled) client. Filters and ``columns`` are asked of the server; the
        declared fields give the frame's columns and types up front. Needs
        ``synapse-orm[dask]``."""
        from synapse.partitions import query_to_dask

        return query_to_dask(self, npartitions, columns, flatten)

    def export(
        self,
        format: str,
        dest: str | os.PathLike[str],
        *,
        split: Any = None,
        media: bool = True,
        **options: Any,
    ) -> ExportReport:
        """Write these tasks as a training dataset (COCO, YOLO, VOC, ImageFolder) in
        ``dest``, streaming, media through the checksum cache; see
        [`export()`][synapse.training.export.export]."""
        from synapse.training.export import export

        return export(self, format, dest, split=split, media=media, **options)

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
        """Add (or remove) tags on every matching object: its ids, then one request
        (the kind's ``set_tags``)."""
        return self._tagger()._tag_query(self, tags, action)

    def _tagger(self) -> Any:
        """The manager whose ``set_tags`` tags this query's objects (a kind with tags)."""
        if not hasattr(self._manager, "_tag_query"):
            raise AttributeError(f"{self._manager.resource.__name__} objects have no tags")
        return self._manager

    def _repr_html_(self, rows: int = 10) -> str:
        """The first rows as a table, and the count: one request (none when cached)."""
        return query_html(self, rows)

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
