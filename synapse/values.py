"""``values()`` and ``values_list()``: lazy queries whose rows are plain wire values.

As in Django, they are querysets of their own: sliceable (``qs.values("id")[:3]``),
chainable (``.filter()``, ``.exclude()``, ``.order_by()``), countable and re-iterable,
and nothing is sent until they are iterated. Rows never become models: a page's JSON
items are read as they are, with the wire's field names.
"""

from __future__ import annotations

import collections
import difflib
import functools
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, Literal, Protocol, overload

from synapse.errors import DeferredFieldError, InvalidInputError

__all__ = ["ValuesQuerySet"]

Shape = Literal["dict", "tuple", "flat", "named"]


class Rows(Protocol):
    """What a values query needs of the [`QuerySet`][synapse.query.QuerySet] it reads
    (the QuerySet is above this module: it makes values queries)."""

    def _wire_names(self, names: Iterable[str]) -> tuple[str, ...]: ...
    def _field_names(self) -> tuple[str, ...]: ...
    def _relation_ids(self) -> frozenset[str]: ...
    def _raw_items(self, wire: tuple[str, ...]) -> Iterator[dict[str, Any]]: ...
    def filter(self, **filters: Any) -> Rows: ...
    def exclude(self, **filters: Any) -> Rows: ...
    def order_by(self, *fields: str) -> Rows: ...
    def count(self) -> int: ...
    def _sliced(self, key: slice) -> Rows: ...


@functools.lru_cache(maxsize=256)
def _row_class(fields: tuple[str, ...]) -> Any:
    """The named tuple of ``values_list(*fields, named=True)``'s rows, made once per
    fields (a name that is no identifier becomes ``_0``, ``_1``...)."""
    return collections.namedtuple("Row", fields, rename=True)


class ValuesQuerySet:
    """The rows of a [`QuerySet`][synapse.query.QuerySet] as dicts, tuples, named
    tuples (``values_list(..., named=True)``) or single values (``flat=True``)."""

    def __init__(self, query: Rows, fields: tuple[str, ...], shape: Shape) -> None:
        if shape == "flat" and len(fields) != 1:
            raise InvalidInputError("values_list(flat=True) takes exactly one field")
        if shape != "dict" and not fields:
            raise InvalidInputError("values_list() needs field names")
        self._query = query
        self._fields = fields
        self._wire = query._wire_names(fields)
        declared = set(query._field_names())
        #: Names the kind does not declare must come from the server (a declared field it
        #: leaves out is None, as on the object).
        self._undeclared = [w for w in self._wire if w not in declared]
        relation_ids = query._relation_ids()
        #: Fields asked for by a relation id's name: the id, even of a nested object.
        self._ids = [name in relation_ids for name in fields]
        self._shape = shape

    def _row(self, item: dict[str, Any]) -> Any:
        wire = self._wire
        if not wire:
            return item
        for name in self._undeclared:
            if name not in item:
                raise self._not_sent(item)
        values = [item.get(w) for w in wire]
        for n, as_id in enumerate(self._ids):
            nested = values[n]
            if as_id and isinstance(nested, Mapping):
                values[n] = nested.get("id")
        if self._shape == "flat":
            return values[0]
        if self._shape == "tuple":
            return tuple(values)
        if self._shape == "named":
            return _row_class(self._fields)._make(values)
        return dict(zip(self._fields, values, strict=True))

    def _not_sent(self, item: dict[str, Any]) -> DeferredFieldError:
        """A field the kind does not declare, asked for, that the server did not send (a
        misspelt name, or one the server does not know): an error, never a None the
        server did not say."""
        missing = [w for w in self._undeclared if w not in item]
        known = sorted({*item, *self._query._field_names()})
        close = difflib.get_close_matches(missing[0], known, n=2)
        hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
        return DeferredFieldError(
            f"the server's rows have no field {', '.join(map(repr, missing))}{hint} "
            f"(they have: {', '.join(sorted(item))})"
        )

    def _chain(self, query: Rows) -> ValuesQuerySet:
        return type(self)(query, self._fields, self._shape)

    def __iter__(self) -> Iterator[Any]:
        """The rows, page by page (each iteration asks the server again)."""
        for item in self._query._raw_items(self._wire):
            yield self._row(item)

    @overload
    def __getitem__(self, key: int) -> Any: ...
    @overload
    def __getitem__(self, key: slice) -> ValuesQuerySet: ...
    def __getitem__(self, key: int | slice) -> Any:
        if isinstance(key, slice):
            return self._chain(self._query._sliced(key))
        if isinstance(key, bool) or not isinstance(key, int):
            raise TypeError(f"QuerySet indices must be ints or slices, got {key!r}")
        found = list(self[key : key + 1]) if key >= 0 else []
        if key < 0:
            raise ValueError("negative indexing is not supported")
        if not found:
            raise IndexError("QuerySet index out of range")
        return found[0]

    def filter(self, **filters: Any) -> ValuesQuerySet:
        return self._chain(self._query.filter(**filters))

    def exclude(self, **filters: Any) -> ValuesQuerySet:
        return self._chain(self._query.exclude(**filters))

    def order_by(self, *fields: str) -> ValuesQuerySet:
        return self._chain(self._query.order_by(*fields))

    def count(self) -> int:
        """How many rows (one small request)."""
        return self._query.count()

    def exists(self) -> bool:
        """Whether there is a row (one small request), even a row that is None."""
        return any(True for _ in self[:1])

    def first(self) -> Any:
        """The first row, or None."""
        return next(iter(self[:1]), None)

    def __repr__(self) -> str:
        what = "values_list" if self._shape != "dict" else "values"
        return f"<{what} {list(self._fields)} of {self._query!r}>"
