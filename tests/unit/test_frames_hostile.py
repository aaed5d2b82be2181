"""Pages no well-behaved server sends still get a clear answer on every listing path:
lone surrogates are kept, non-object items and JSON nested past Python's stack are
typed errors naming the page, and flattening is bounded."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
import responses

from synapse import Client, ClientError, InvalidInputError
from synapse.frames import MAX_FLATTENED_COLUMNS
from tests.conftest import BASE

LIST_URL = f"{BASE}/sdk/tasks/"

PATHS: dict[str, Callable[[Any], Any]] = {
    "iterator": lambda q: list(q.iterator()),
    "values": lambda q: list(q.values()),
    "to_pandas": lambda q: q.to_pandas(progress=False),
    "to_arrow": lambda q: q.to_arrow(progress=False),
}


class Raw(str):
    """One result given as JSON text (too deep for ``json.dumps`` to write)."""


def serve(results: list[Any]) -> responses.RequestsMock:
    mock = responses.RequestsMock()
    items = ",".join(r if isinstance(r, Raw) else json.dumps(r) for r in results)
    body = f'{{"count": {len(results)}, "next": null, "previous": null, "results": [{items}]}}'
    mock.add(responses.GET, LIST_URL, body=body)
    return mock


def deep_text(depth: int) -> Raw:
    return Raw('{"id": 1, "data": ' + '{"a": ' * depth + "{}" + "}" * depth + "}")


def nested(depth: int) -> dict[str, Any]:
    inner: dict[str, Any] = {}
    top = {"id": 1, "data": inner}
    for _ in range(depth):
        inner["a"] = {}
        inner = inner["a"]
    return top


@pytest.mark.parametrize("path", ["to_pandas", "to_arrow"])
def test_a_lone_surrogate_is_kept(path: str) -> None:
    with serve([{"id": 1, "status_label": "\ud800"}, {"id": 2, "status_label": "ok"}]) as _:
        table = PATHS[path](Client(BASE, "t" * 20).tasks.filter(project=1))
    column = table["status_label"]
    values = column.tolist() if isinstance(column, pd.Series) else column.to_pylist()
    # pandas holds it as is; Arrow (UTF-8 only) as its escaped JSON text.
    assert values in (["\ud800", "ok"], ['"\\ud800"', "ok"])


@pytest.mark.parametrize("path", sorted(PATHS))
@pytest.mark.parametrize(
    ("results", "message"),
    [
        ([{"id": 1}, None], "result 1 of the page is NoneType, not an object"),
        ([{"id": 1}, {"id": 2}, [1, 2]], "result 2 of the page is list, not an object"),
        ([deep_text(990)], "the page nests its JSON deeper than Python can read"),
    ],
)
def test_a_malformed_page_is_a_clear_error_naming_the_page(
    path: str, results: list[Any], message: str
) -> None:
    with serve(results) as _, pytest.raises(ClientError, match="sdk/tasks/: page 1: " + message):
        PATHS[path](Client(BASE, "t" * 20).tasks.filter(project=1))


def test_flattening_a_row_of_too_many_keys_is_refused_clearly() -> None:
    wide = {"id": 1, "data": {f"k{i}": {"x": i} for i in range(MAX_FLATTENED_COLUMNS + 5)}}
    with serve([wide]) as _, pytest.raises(InvalidInputError, match="name the columns"):
        Client(BASE, "t" * 20).tasks.filter(project=1).to_pandas(flatten=True, progress=False)


def test_flattening_stops_at_a_depth_and_keeps_the_rest_whole() -> None:
    with serve([nested(100)]) as _:
        frame = (
            Client(BASE, "t" * 20).tasks.filter(project=1).to_pandas(flatten=True, progress=False)
        )
    (deep_column,) = [c for c in frame.columns if c.startswith("data.")]
    assert deep_column.count(".") == 32  # data and 32 levels of "a", then one nested value
    kept = frame[deep_column].iloc[0]
    depth = 0
    while kept:
        kept, depth = kept["a"], depth + 1
    assert depth == 100 - 32  # nothing below the cut was lost
