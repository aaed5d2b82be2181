"""Tables from listings: pandas DataFrames and Arrow tables built from the page JSON.

Each page's items become typed column chunks as the page arrives; no model object is
built, and a page's dicts are dropped once converted, so memory beyond the result is
about one page. Columns are the wire's field names. By default they are the kind's
declared fields, typed from their declarations (ints, floats, bools, UTC timestamps,
strings; nested JSON as Python objects in pandas and JSON text in Arrow). A relation
column holds the id even when the server expanded the object. ``flatten=True`` spreads
nested objects into ``data_unit.id``-style columns instead.

pandas and pyarrow are optional extras, imported here on first use only.
"""

from __future__ import annotations

import difflib
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from types import UnionType
from typing import TYPE_CHECKING, Any, Literal, Union, get_args, get_origin

from synapse.errors import DeferredFieldError, InvalidInputError

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa
    from pydantic import BaseModel

__all__ = [
    "Column",
    "PagedTable",
    "TableBuilder",
    "TableFill",
    "Tabular",
    "declared_columns",
    "fetched_fields",
    "progress_wanted",
    "require",
]

ColumnKind = Literal["int", "float", "bool", "datetime", "string", "json"]

#: Conversions at or above this many items show a progress bar by default (when a
#: person is watching: a terminal or a notebook).
PROGRESS_THRESHOLD = 10_000


@dataclass(frozen=True)
class Column:
    """One output column: its wire name, its type, and whether it is a relation id."""

    name: str
    kind: ColumnKind | None  # None: decided by the values
    relation: bool = False


def require(module: str, extra: str) -> Any:
    """Import an optional dependency, or say which extra installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"this needs {module.split('.')[0]}: pip install 'synapse-orm[{extra}]'"
        ) from exc


def _kind(annotation: Any) -> ColumnKind | None:
    """The column type of a field's annotation (``int | None`` is int, an enum is a
    string, anything else is JSON); None for a union of scalars (``int | str``, a job's
    id), whose values decide, as an undeclared column's do."""
    while hasattr(annotation, "__metadata__"):  # Annotated[...]
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, UnionType):
        kinds = {_kind(a) for a in get_args(annotation) if a is not type(None)}
        if len(kinds) == 1:
            return kinds.pop()
        if kinds == {"int", "float"}:
            return "float"
        return None if kinds <= {"int", "float", "string", "bool"} else "json"
    if not isinstance(annotation, type):
        return "json"
    if issubclass(annotation, bool):
        return "bool"
    if issubclass(annotation, Enum) or issubclass(annotation, str):
        return "string"
    if issubclass(annotation, int):
        return "int"
    if issubclass(annotation, float):
        return "float"
    if issubclass(annotation, datetime):
        return "datetime"
    return "json"


def declared_columns(model: type[BaseModel]) -> tuple[Column, ...]:
    """The columns of a kind: each declared field under its wire name."""
    from pydantic import AliasChoices  # a relation's id field accepts the expanded object

    return tuple(
        Column(
            field.alias or name,
            _kind(field.annotation),
            relation=isinstance(field.validation_alias, AliasChoices),
        )
        for name, field in model.model_fields.items()
    )


def field_names(model: type[BaseModel] | None) -> frozenset[str]:
    """Every name a declared field goes by: its attribute name and its wire name."""
    fields = model.model_fields if model is not None else {}
    return frozenset(n for name, f in fields.items() for n in (name, f.alias) if n)


def refuse_near_miss(model: type[BaseModel], name: str, also: Iterable[str] = ()) -> None:
    """Refuse an undeclared ``name`` that is a near miss of a declared one (or of
    ``also``; one wrong letter in four): a misspelling, which the server would drop
    unsaid, rather than a name it may know and the SDK does not."""
    known = sorted(field_names(model) | {*also})
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.75)
    if close and name not in known:
        raise InvalidInputError(
            f"{model.__name__} has no field {name!r}; did you mean {' or '.join(map(repr, close))}?"
        )


def wire_column(model: type[BaseModel] | None, column: str) -> str:
    """A column's name on the wire: a declared field named by its attribute
    (``project_id``, or ``data_unit_id.x``) becomes its wire name (``project``)."""
    top, dot, rest = column.partition(".")
    field = model.model_fields.get(top) if model is not None else None
    return f"{field.alias or top}{dot}{rest}" if field is not None else column


def check_sent(items: Sequence[Mapping[str, Any]], wanted: set[str], known: Iterable[str]) -> None:
    """Undeclared columns asked for must come from the server: a name it did not send
    (misspelt, or unknown to it) is an error, never a column of nulls the server did
    not say. (A declared field it leaves out is null, as on the object.)"""
    for item in items:
        missing = wanted.difference(item)
        if missing:
            name = sorted(missing)[0]
            close = difflib.get_close_matches(name, sorted({*item, *known}), n=2)
            hint = f"; did you mean {' or '.join(map(repr, close))}?" if close else ""
            raise DeferredFieldError(
                f"the server's rows have no field {name!r}{hint} (they have: "
                f"{', '.join(sorted(item))})"
            )


def fetched_fields(columns: Sequence[str]) -> tuple[str, ...]:
    """The top-level wire fields to ask the server for (``fields=``) to fill ``columns``
    (``data_unit.id`` needs ``data_unit``)."""
    return tuple(dict.fromkeys(c.split(".", 1)[0] for c in columns))


def progress_wanted(progress: bool | None, total: int | None) -> bool:
    """``progress`` if given; else on for a large conversion that someone watches."""
    if progress is not None:
        return progress
    if total is None or total < PROGRESS_THRESHOLD:
        return False
    watched = sys.stderr is not None and sys.stderr.isatty()
    return watched or "ipykernel" in sys.modules


def _infer(values: Iterable[Any]) -> ColumnKind | None:
    """The kind of a flattened column from its values; None while all are missing."""
    seen: set[type] = {type(v) for v in values if v is not None}
    if not seen:
        return None
    if seen == {bool}:
        return "bool"
    if seen == {int}:
        return "int"
    if seen <= {int, float} and bool not in seen:
        return "float"
    if seen == {str}:
        return "string"
    return "json"


#: The Python types a column of each kind holds as sent (besides None).
_FITS: dict[ColumnKind, tuple[type, ...]] = {
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "string": (str,),
    "datetime": (str,),
}


def _fits(kind: ColumnKind, values: list[Any]) -> bool:
    """Whether every value is of the kind's types as sent: a typed column never coerces
    (``0`` into ``False``, ``5`` into ``"5"``); a value that does not fit keeps the
    whole chunk as sent instead."""
    allowed = _FITS.get(kind)
    if allowed is None:
        return True
    exclude_bool = bool not in allowed  # bool is an int to isinstance
    for value in values:
        if value is None:
            continue
        if not isinstance(value, allowed) or (exclude_bool and isinstance(value, bool)):
            return False
    return True


#: Flattening stops this deep: what lies below stays one nested value.
MAX_FLATTEN_DEPTH = 32
#: More flattened columns than this is not a table anyone can use: ask for columns.
MAX_FLATTENED_COLUMNS = 10_000


def _flatten(prefix: str, value: Any, out: dict[str, Any], depth: int = 0) -> None:
    if isinstance(value, Mapping) and value and depth < MAX_FLATTEN_DEPTH:
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}", inner, out, depth + 1)
            if len(out) > MAX_FLATTENED_COLUMNS:
                raise InvalidInputError(
                    f"flatten=True makes more than {MAX_FLATTENED_COLUMNS} columns from one "
                    f"row (under {prefix!r}): name the columns you want, or flatten=False"
                )
    else:
        out[prefix] = value


class _Pandas:
    """Column chunks as pandas extension arrays (nullable ints and bools, strings)."""

    def __init__(self) -> None:
        self.pd = require("pandas", "pandas")

    def chunk(self, kind: ColumnKind, values: list[Any]) -> Any:
        pd = self.pd
        if not _fits(kind, values):
            return pd.Series(values, dtype=object).array
        try:
            if kind == "int":
                return pd.array(values, dtype="Int64")
            if kind == "float":
                return pd.array(values, dtype="Float64")
            if kind == "bool":
                return pd.array(values, dtype="boolean")
            if kind == "string":
                return pd.array(values, dtype="string")
            if kind == "datetime":
                series = pd.Series(values, dtype=object)
                parsed = pd.to_datetime(series, utc=True, format="ISO8601")
                return parsed.dt.as_unit("us").array
        except (TypeError, ValueError, OverflowError):
            pass  # a value that does not fit the declared type: kept as sent
        return pd.Series(values, dtype=object).array

    def table(self, columns: dict[str, list[Any]], rows: int) -> pd.DataFrame:
        pandas = self.pd
        data = {}
        for name, chunks in columns.items():
            # Each chunk keeps its own type: an object chunk is not re-inferred (pandas
            # would make strings of it, and a string no UTF-8 array holds would fail).
            series = [pandas.Series(chunk, copy=False, dtype=chunk.dtype) for chunk in chunks]
            data[name] = pandas.concat(series, ignore_index=True) if len(series) > 1 else series[0]
        frame: pd.DataFrame = pandas.DataFrame(data, index=pandas.RangeIndex(rows))
        return frame


class _Arrow:
    """Column chunks as Arrow arrays; nested JSON as JSON text."""

    def __init__(self) -> None:
        self.pa = require("pyarrow", "arrow")
        self.pc = require("pyarrow.compute", "arrow")
        pa = self.pa
        self.types = {
            "int": pa.int64(),
            "float": pa.float64(),
            "bool": pa.bool_(),
            "string": pa.string(),
            "datetime": pa.timestamp("us", tz="UTC"),
            "json": pa.string(),
        }

    def chunk(self, kind: ColumnKind, values: list[Any]) -> Any:
        pa = self.pa
        if kind != "json" and _fits(kind, values):
            try:
                if kind == "datetime":
                    return self.pc.cast(pa.array(values, pa.string()), self.types["datetime"])
                return pa.array(values, self.types[kind])
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
                pass  # kept as sent, as text; the column becomes text (see table())
        text = [v if isinstance(v, str) and kind != "json" else _json_text(v) for v in values]
        try:
            return pa.array(text, pa.string())
        except UnicodeEncodeError:  # a lone surrogate: kept as its escaped JSON text
            return pa.array([_utf8_text(v) for v in text], pa.string())

    def table(self, columns: dict[str, list[Any]], rows: int) -> pa.Table:
        """The table (Arrow cannot hold rows without columns: no column, no row)."""
        pa = self.pa
        arrays = {}
        for name, chunks in columns.items():
            if len({chunk.type for chunk in chunks}) > 1:  # a page fell back to text
                chunks = [c if c.type == pa.string() else c.cast(pa.string()) for c in chunks]
            arrays[name] = pa.chunked_array(chunks, type=chunks[0].type)
        return pa.table(arrays)


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one, not one per value


def _json_text(value: Any) -> str | None:
    return None if value is None else _JSON.encode(value)


def _utf8_text(text: str | None) -> str | None:
    """``text``, or its ASCII JSON form when it holds what UTF-8 cannot (a lone
    surrogate such as ``"\\ud800"``, which JSON allows)."""
    if text is None:
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(text)
    return text


class TableBuilder:
    """Turns pages of wire dicts into one table, a batch of rows at a time.

    ``columns`` names the output columns (default: every declared one); names the kind
    does not declare are typed from their values. With ``flatten``, nested objects
    become dotted columns, discovered as they appear (rows without one get nulls).

    Each page's column values are kept (not its dicts) until ``BATCH_ROWS`` rows have
    come, then turned into one typed chunk per column: few chunks to join at the end,
    and at most a batch of plain values held besides the result.
    """

    #: Rows converted together into one chunk of each column.
    BATCH_ROWS = 16_384

    def __init__(
        self,
        model: type[BaseModel] | None,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        backend: Literal["pandas", "arrow"] = "pandas",
    ) -> None:
        if columns is not None:
            if isinstance(columns, str) or not all(isinstance(c, str) and c for c in columns):
                raise InvalidInputError(f"columns must be a list of field names, got {columns!r}")
            if len(set(columns)) != len(columns):
                raise InvalidInputError(f"columns are named twice in {list(columns)!r}")
            dotted = [c for c in columns if "." in c]
            if dotted and not flatten:
                raise InvalidInputError(
                    f"{dotted[0]!r} names a nested field: pass flatten=True to get dotted columns"
                )
        self._engine: _Pandas | _Arrow = _Pandas() if backend == "pandas" else _Arrow()
        declared = {c.name: c for c in declared_columns(model)} if model is not None else {}
        self._declared = declared
        self._wanted = tuple(columns) if columns is not None else None
        self._flatten = flatten
        names = self._wanted if self._wanted is not None else tuple(declared)
        #: Where each output column's values are on the wire: a column named by the
        #: field's attribute (``project_id``) reads its wire name (``project``).
        self._source = {name: wire_column(model, name) for name in names}
        self._known = field_names(model)
        # Output columns in order, with their kinds (None: not known until a value comes).
        self._kinds: dict[str, ColumnKind | None] = {
            name: declared[wire].kind if (wire := self._source[name]) in declared else None
            for name in names
        }
        self._chunks: dict[str, list[Any]] = {name: [] for name in names}
        self._pending: dict[str, list[Any]] = {name: [] for name in names}  # not converted yet
        self._converted: dict[str, int] = dict.fromkeys(names, 0)
        self._rows = 0
        self._unconverted = 0  # rows added since the last conversion

    def add(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Take one page's items (their values are converted a batch at a time)."""
        if not items:
            return
        values = self._flattened(items) if self._flatten else self._plain(items)
        for name, column in values.items():
            pending = self._pending.get(name)
            if pending is None:  # a column seen for the first time: null until now
                self._kinds[name] = None
                self._chunks[name] = []
                self._converted[name] = 0
                pending = self._pending[name] = [None] * self._rows
            pending.extend(column)
        self._rows += len(items)
        self._align()
        self._unconverted += len(items)
        if self._unconverted >= self.BATCH_ROWS:
            self._convert(final=False)

    def _align(self) -> None:
        """Nulls in the columns a page did not have, so that all columns stay aligned."""
        for name, pending in self._pending.items():
            missing = self._rows - self._converted[name] - len(pending)
            if missing:
                pending.extend([None] * missing)

    def _convert(self, *, final: bool) -> None:
        """Turn the values held into a typed chunk per column. A column with no value yet
        waits (its type is not known), unless this is the end."""
        for name, pending in self._pending.items():
            if not pending:
                continue
            kind = self._kinds[name]
            if kind is None:
                kind = self._kinds[name] = _infer(pending)
            if kind is None and not final:
                continue
            self._chunks[name].append(self._engine.chunk(kind or "json", pending))
            self._converted[name] += len(pending)
            self._pending[name] = []
        self._unconverted = 0

    def _plain(self, items: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        names: dict[str, None] = dict.fromkeys(self._chunks)
        if self._wanted is None and not self._declared:  # no declaration: what is sent
            for item in items:
                names.update(dict.fromkeys(item))
        if self._wanted is not None:
            wanted = {self._source[n].split(".", 1)[0] for n in self._wanted}
            check_sent(items, wanted - set(self._declared), self._known)
        out = {}
        for name in names:
            wire = self._source.get(name, name)
            column = [item.get(wire) for item in items]
            declared = self._declared.get(wire)
            if declared is not None and declared.relation:
                column = [v.get("id") if isinstance(v, Mapping) else v for v in column]
            out[name] = column
        return out

    def _flattened(self, items: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
        rows = []
        for item in items:
            row: dict[str, Any] = {}
            for key, value in item.items():
                declared = self._declared.get(key)
                if declared is not None and declared.relation and isinstance(value, Mapping):
                    row[key] = value.get("id")  # the relation's id column stays
                _flatten(key, value, row)
            rows.append(row)
        if self._wanted is not None:
            names = dict.fromkeys(self._wanted)
        else:
            names = dict.fromkeys(self._chunks)
            for row in rows:
                names.update(dict.fromkeys(row))
            if self._declared:  # undeclared top-level fields stay out, their leaves too
                names = {n: None for n in names if n.split(".", 1)[0] in self._declared}
        return {name: [row.get(self._source.get(name, name)) for row in rows] for name in names}

    def result(self) -> Any:
        """The table: a pandas DataFrame or an Arrow table."""
        self._convert(final=True)
        for name, chunks in self._chunks.items():
            if not chunks:
                chunks.append(self._engine.chunk(self._kinds[name] or "json", []))
        return self._engine.table(self._chunks, self._rows)


#: ``(rows to come in all, or None; items)`` per page of wire dicts.
Pages = Iterator[tuple[int | None, Sequence[Mapping[str, Any]]]]


class TableFill:
    """A table filled one page at a time, with a progress bar when wanted: what either
    client's page walk feeds (a ``for`` over pages, or an ``async for``)."""

    def __init__(self, builder: TableBuilder, *, progress: bool | None, label: str) -> None:
        self._builder, self._progress, self._label = builder, progress, label
        self._bar: Any = None

    def add(self, count: int | None, items: Sequence[Mapping[str, Any]]) -> None:
        """One page: its items, and how many rows are to come in all (or None)."""
        if self._bar is None and progress_wanted(self._progress, count):
            from synapse.progress import progress_bar

            self._bar = progress_bar(count, unit="rows", desc=self._label)
        self._builder.add(items)
        if self._bar is not None:
            self._bar.update(len(items))

    def close(self) -> None:
        """Close the progress bar (the table may be unfinished: an error stopped it)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def result(self) -> Any:
        """The finished table."""
        return self._builder.result()

    def run(self, pages: Pages) -> Any:
        """Fill the table with ``pages`` (``(count, items)``), read synchronously."""
        try:
            for count, items in pages:
                self.add(count, items)
        finally:
            self.close()
        return self.result()


class Tabular:
    """``to_pandas()`` and ``to_arrow()`` for what lists pages of wire dicts: a
    [`QuerySet`][synapse.query.QuerySet] or a ``list_all`` result. They give the kind's
    model (for the declared columns), the pages and a label for the progress bar."""

    def _table_model(self) -> type[BaseModel] | None:
        raise NotImplementedError

    def _table_pages(self, fields: tuple[str, ...]) -> Pages:
        """``(rows to come in all, items)`` per page, asking the server for ``fields``
        only when given."""
        raise NotImplementedError

    def _table_label(self) -> str:
        raise NotImplementedError

    def to_pandas(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> pd.DataFrame:
        """A DataFrame: a row per object, the wire's field names as columns.

        Built page by page straight from the JSON, without models. ``columns`` picks
        columns (only those fields are asked of the server); by default every declared
        field, typed (nullable ints and bools, UTC timestamps, strings; nested JSON as
        objects). ``flatten=True`` spreads nested objects into ``data_unit.id``-style
        columns. ``progress`` shows a bar (by default: for 10,000 rows or more, when a
        terminal or a notebook is watching). Needs ``synapse-orm[pandas]``.
        """
        return self._table(columns, flatten, progress, "pandas")  # type: ignore[no-any-return]

    def to_arrow(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> pa.Table:
        """An Arrow table, as `to_pandas` builds it (nested JSON as JSON text). Needs
        ``synapse-orm[arrow]``."""
        return self._table(columns, flatten, progress, "arrow")

    def _table(
        self,
        columns: Sequence[str] | None,
        flatten: bool,
        progress: bool | None,
        backend: Literal["pandas", "arrow"],
    ) -> Any:
        fill, fields = self._table_fill(columns, flatten, progress, backend)
        return fill.run(self._table_pages(fields))

    def _table_fill(
        self,
        columns: Sequence[str] | None,
        flatten: bool,
        progress: bool | None,
        backend: Literal["pandas", "arrow"],
    ) -> tuple[TableFill, tuple[str, ...]]:
        """An empty table of ``columns`` (checked now, before any request) and the fields
        to ask the server for: what a page walk, sync or awaited, then fills."""
        builder = TableBuilder(self._table_model(), columns, flatten=flatten, backend=backend)
        fields = fetched_fields(columns) if columns is not None else ()
        return TableFill(builder, progress=progress, label=self._table_label()), fields


class PagedTable(Tabular):
    """The tables of a source given by parts: its model, its pages (asked for some
    fields) and a label. A [`QuerySet`][synapse.query.QuerySet] makes one for its
    ``to_pandas()``/``to_arrow()``, so that the query class holds the query only."""

    def __init__(
        self,
        model: type[BaseModel] | None,
        pages: Callable[[tuple[str, ...]], Pages],
        label: str,
    ) -> None:
        self._model, self._pages, self._label = model, pages, label

    def _table_model(self) -> type[BaseModel] | None:
        return self._model

    def _table_pages(self, fields: tuple[str, ...]) -> Pages:
        return self._pages(fields)

    def _table_label(self) -> str:
        return self._label
