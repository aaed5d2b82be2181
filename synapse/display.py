"""How objects and queries show in notebooks: HTML tables and their cells."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from enum import Enum
from typing import Any

__all__ = ["html_cell", "objects_table", "query_html"]


def html_cell(value: Any, limit: int = 200) -> str:
    """A value as notebook table text: dates as ISO text, enums as their wire value."""
    if isinstance(value, (dt.datetime, dt.date)):
        text = value.isoformat()
    elif isinstance(value, Enum):
        text = str(value.value)
    elif value is None:
        text = ""
    else:
        text = value if isinstance(value, str) else repr(value)
    text = html.escape(text)
    return text[:limit] + "…" if len(text) > limit else text


def objects_table(title: str, model: Any, shown: Sequence[Any], total: int) -> str:
    """``shown`` objects of a resource class as an HTML table (``_repr_fields`` first),
    captioned with ``title`` and how many there are in all."""
    first = tuple(model._repr_fields)
    columns = [*first, *(n for n in model.model_fields if n not in first)]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html_cell(getattr(o, c, None), 80)}</td>" for c in columns)
        + "</tr>"
        for o in shown
    )  # fmt: skip
    more = f" (first {len(shown)})" if total > len(shown) else ""
    caption = html.escape(f"{title}: {total} {model.__name__} objects{more}")
    return f"<table><caption>{caption}</caption><tr>{head}</tr>{body}</table>"


def query_html(query: Any, rows: int = 10) -> str:
    """A [`QuerySet`][synapse.query.QuerySet] in a notebook: its first ``rows`` as a
    table, and its count, from one request (none when the query is cached or empty)."""
    resource = query._manager.resource
    cache = query._result_cache
    if cache is not None:
        shown, total = cache[:rows], len(cache)
    elif query._empty:
        shown, total = [], 0
    else:
        page = next(iter(query._pages(query._plan(high=query._low + rows))), None)
        shown = list(query._objects(iter([page]))) if page is not None else []
        counted = query._in_range(page.count) if page is not None else None
        total = len(shown) if counted is None else counted
    return objects_table(repr(query), resource, shown, total)
