"""Partitions of a query: picklable page ranges that any engine can map over.

A [`Partition`][synapse.partitions.Partition] is a slice of a query (same filters and
ordering, a fixed page size) covering whole pages; the partitions of a query cover every
item once. Each carries the client, so a worker process that unpickles one fetches its
own pages (the client's token travels with it and never appears in a repr). Dask builds
a DataFrame over them with `to_dask`; multiprocessing or Ray can map over them as well.

Two kinds, by what fixes a partition's rows when it is made:

- ``"keys"`` (the default where the kind filters on its key, as tasks and assignments do,
  and the query is unordered or ordered by the key): each partition is a range of the
  primary key (``id__gte``/``id__lt``), its boundaries read from the list when the
  partitions are made. Rows inserted or deleted later land in exactly one partition or
  none: no live row is missed and none comes twice.
- ``"pages"``: page ranges of the query's own ordering, planned from its count. Rows
  inserted or deleted before a partition is fetched shift its pages; the listing then
  raises [`IncompleteResultError`][synapse.errors.IncompleteResultError] rather than
  return a shifted result, so split a list that is not being written to.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from synapse.errors import InvalidInputError
from synapse.frames import require

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_PAGES_PER_PARTITION",
    "MAX_PARTITIONS",
    "Partition",
    "PartitionKind",
    "partition_frame",
    "partition_query",
    "query_to_dask",
    "split",
    "to_dask",
]

#: Pages per partition when neither a number of partitions nor a size is given.
DEFAULT_PAGES_PER_PARTITION = 10
#: More partitions than this is a count no list has: ask for ``n`` explicitly.
MAX_PARTITIONS = 10_000

PartitionKind = Literal["keys", "pages"]


class _Query(Protocol):
    """What a partition needs of a [`QuerySet`][synapse.query.QuerySet]."""

    def iterator(self) -> Iterator[Any]: ...
    def values(self, *fields: str) -> Iterator[dict[str, Any]]: ...
    def to_pandas(
        self, columns: Sequence[str] | None = ..., *, flatten: bool = ..., progress: bool | None
    ) -> Any: ...
    def to_arrow(
        self, columns: Sequence[str] | None = ..., *, flatten: bool = ..., progress: bool | None
    ) -> Any: ...


@dataclass(frozen=True, repr=False)
class Partition:
    """Items ``[start, stop)`` of a query (``stop`` None: to its end) when it was split,
    fetched on demand: a key range (``kind="keys"``) or a page range (``"pages"``)."""

    query: _Query
    index: int
    start: int
    stop: int | None
    kind: PartitionKind = "pages"

    def __iter__(self) -> Iterator[Any]:
        """The partition's objects, streamed."""
        return self.query.iterator()

    def values(self, *fields: str) -> Iterator[dict[str, Any]]:
        """The partition's items as wire dicts."""
        return self.query.values(*fields)

    def to_pandas(self, columns: Sequence[str] | None = None, *, flatten: bool = False) -> Any:
        """The partition as a DataFrame, indexed by position in the whole query."""
        frame = self.query.to_pandas(columns, flatten=flatten, progress=False)
        frame.index = range(self.start, self.start + len(frame))
        return frame

    def to_arrow(self, columns: Sequence[str] | None = None, *, flatten: bool = False) -> Any:
        """The partition as an Arrow table."""
        return self.query.to_arrow(columns, flatten=flatten, progress=False)

    def __dask_tokenize__(self) -> tuple[Any, ...]:
        # What the partition fetches, by its description (never the client's token).
        return ("synapse.Partition", repr(self.query), self.start, self.stop)

    def __repr__(self) -> str:
        stop = "" if self.stop is None else self.stop
        return f"<Partition {self.index} [{self.start}:{stop}] by {self.kind} of {self.query!r}>"


def split(
    query: Any,
    count: int,
    page_size: int,
    n: int | None = None,
    pages_per_partition: int | None = None,
    key_range: tuple[str, bool] | None = None,
    *,
    announced: int | None = None,
) -> list[Partition]:
    """Cut ``query`` (with ``count`` items, fetched ``page_size`` at a time) into whole
    pages: ``n`` partitions (or fewer, when there are fewer pages), or
    ``pages_per_partition`` pages each. The last one runs to the end of the query.
    With ``key_range`` (the key and whether it descends), the partitions are key ranges
    whose boundaries are read now, one small request each. ``announced`` is the count of
    the whole list (``count`` covers a slice of it): page partitions raise, rather than
    shift, when the list no longer has that many."""
    for name, value in (("n", n), ("pages_per_partition", pages_per_partition)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise InvalidInputError(f"{name} must be an int, got {value!r}")
        if value is not None and value < 1:
            raise InvalidInputError(f"{name} must be at least 1, got {value!r}")
    if n is not None and pages_per_partition is not None:
        raise InvalidInputError("give the number of partitions or pages_per_partition, not both")
    pages = math.ceil(count / page_size)
    if pages == 0:
        return []
    per = math.ceil(pages / n) if n is not None else pages_per_partition
    per = per or DEFAULT_PAGES_PER_PARTITION
    planned = math.ceil(pages / per)
    if planned > MAX_PARTITIONS:
        raise InvalidInputError(
            f"the server counts {count} items: {planned} partitions of {per} pages, more "
            f"than {MAX_PARTITIONS}; pass n= (or a larger pages_per_partition)"
        )
    starts = [index * per * page_size for index in range(planned)]
    stops: list[int | None] = [*starts[1:], None]
    if key_range is not None:
        return _key_partitions(query, starts, stops, *key_range)
    fixed = query.page_size(page_size)._clone(announced=announced)
    return [
        Partition(fixed[start:stop], index, start, stop)
        for index, (start, stop) in enumerate(zip(starts, stops, strict=True))
    ]


def _key_partitions(
    query: Any, starts: list[int], stops: list[int | None], key: str, descending: bool
) -> list[Partition]:
    """Key ranges that start at the keys found at ``starts`` now (after the first)."""
    ordered = query.order_by(f"-{key}" if descending else key)
    found = [list(ordered[start : start + 1].values_list(key, flat=True)) for start in starts[1:]]
    # Keys read one by one can cross if rows moved between reads: any sorted set of
    # boundaries still cuts the key space into ranges that cover each row once.
    bounds: list[Any] = sorted({k[0] for k in found if k}, reverse=descending)
    edges: list[Any] = [None, *bounds, None]
    lower, upper = (f"{key}__gt", f"{key}__lte") if descending else (f"{key}__gte", f"{key}__lt")
    parts = []
    for index in range(len(edges) - 1):
        opening, closing = edges[index], edges[index + 1]
        bounded = {}
        if opening is not None:
            bounded[upper if descending else lower] = opening
        if closing is not None:
            bounded[lower if descending else upper] = closing
        start = starts[index] if index < len(starts) else starts[-1]
        stop = stops[index] if index < len(bounds) else None
        parts.append(Partition(ordered.filter(**bounded), index, start, stop, "keys"))
    return parts


def partition_frame(
    partition: Partition,
    columns: Sequence[str] | None = None,
    *,
    flatten: bool = False,
    dtypes: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """One partition as a DataFrame (what each Dask task runs; Dask's optimizer passes
    ``columns`` when only some are used, and they are asked of the server). ``dtypes``
    are the meta's, so that every partition agrees with it."""
    frame: pd.DataFrame = partition.to_pandas(columns, flatten=flatten)
    for name in frame.columns:
        wanted = (dtypes or {}).get(name)
        if wanted is None or frame[name].dtype == wanted:
            continue
        with contextlib.suppress(TypeError, ValueError):  # a misfit is kept as sent
            frame[name] = frame[name].astype(wanted)
    return frame


def to_dask(
    parts: list[Partition], meta: pd.DataFrame, columns: Sequence[str] | None, flatten: bool
) -> Any:
    """A Dask DataFrame with one partition per element of ``parts``; ``meta`` is the
    empty frame of the declared columns (an empty query is one empty partition)."""
    dask = require("dask", "dask")
    dd = require("dask.dataframe", "dask")
    # Dask turns object columns into strings by default: nested JSON would become its
    # Python repr. The columns keep the types the declarations give them instead.
    with dask.config.set({"dataframe.convert-string": False}):
        if not parts:
            return dd.from_pandas(meta, npartitions=1)
        return dd.from_map(
            partition_frame,
            parts,
            meta=meta,
            label="synapse-partition",
            enforce_metadata=False,
            columns=list(columns) if columns is not None else None,
            flatten=flatten,
            dtypes=meta.dtypes.to_dict(),
        )


def partition_query(
    query: Any,
    n: int | None,
    pages_per_partition: int | None,
    by: PartitionKind | None,
) -> list[Partition]:
    """[`QuerySet.partitions`][synapse.query.QuerySet.partitions]: the count, then
    `split` by key ranges where the query allows them (or ``by`` says), else by pages."""
    if by not in (None, "keys", "pages"):
        raise InvalidInputError(f"by must be 'keys' or 'pages', got {by!r}")
    if query._empty:
        return []
    key_range = _key_range(query)
    if by == "keys" and key_range is None:
        raise InvalidInputError(
            f"{query._manager.resource.__name__} lists cannot be split by key: the kind "
            "has no key range filters, or the query is ordered by another field "
            "(use by='pages')"
        )
    size = query._page_size or query._manager.client.config.page_size
    chosen = None if by == "pages" else key_range
    listed = query._clone(low=0, high=None).count()  # the whole list's: pages must agree
    covered = query._in_range(listed) or 0
    return split(query, covered, size, n, pages_per_partition, chosen, announced=listed)


def _key_range(query: Any) -> tuple[str, bool] | None:
    """``(key, descending)`` when ``query`` can be cut into primary-key ranges."""
    key = query._manager.resource._pk_field
    allowed = set(query._manager.filters.allowed())
    bounds = {f"{key}__{lookup}" for lookup in ("gt", "gte", "lt", "lte")}
    taken = {name for name, _ in query._params()}
    if query._low or query._high is not None or not bounds <= allowed or bounds & taken:
        return None
    ordering: tuple[str, ...] = query._ordering
    if not ordering:
        return key, False
    if len(ordering) == 1 and ordering[0].lstrip("-") in ("id", key):
        return key, ordering[0].startswith("-")
    return None


def query_to_dask(
    query: Any, npartitions: int | None, columns: Sequence[str] | None, flatten: bool
) -> Any:
    """[`QuerySet.to_dask`][synapse.query.QuerySet.to_dask]: the meta frame from the
    declared columns (typed by one row's values when flattened), then `to_dask` over the
    query's partitions."""
    if flatten and columns is None:
        raise InvalidInputError(
            "to_dask(flatten=True) needs columns=[...]: flattened columns are only known "
            "once the data is read, and Dask needs them up front"
        )
    meta = query.none().to_pandas(columns, flatten=flatten)
    if flatten:  # flattened columns are typed by their values: read one row for them
        sample = query[:1].to_pandas(columns, flatten=True, progress=False)
        meta = sample.iloc[:0].astype(
            {c: sample[c].dtype for c in meta.columns if c in sample and len(sample)}
        )
    return to_dask(query.partitions(npartitions), meta, columns, flatten)
