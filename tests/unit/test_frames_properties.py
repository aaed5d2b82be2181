"""Properties of the table builder: flattening keeps every leaf, in any page split."""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse.frames import TableBuilder

pytest.importorskip("pandas")
pytest.importorskip("pyarrow")

KEYS = st.sampled_from(["a", "b", "c", "id", "meta"])
LEAVES = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=5)
# Nested objects (never empty: an empty object is a leaf of its own) and lists as values.
VALUES = st.recursive(
    LEAVES | st.lists(LEAVES, max_size=3),
    lambda inner: st.dictionaries(KEYS, inner, min_size=1, max_size=3),
    max_leaves=8,
)
ROWS = st.lists(st.dictionaries(KEYS, VALUES, max_size=4), min_size=0, max_size=25)


def leaves(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, inner in value.items():
            leaves(f"{prefix}.{key}", inner, out)
    else:
        out[prefix] = value


def same(got: Any, sent: Any) -> bool:
    if sent is None:
        return got is None or (isinstance(got, float) and math.isnan(got)) or str(got) == "<NA>"
    # Equal, and a bool stays a bool (an int column may hold floats' ints as floats).
    return bool(got == sent) and isinstance(got, bool) == isinstance(sent, bool)


def same_or_json_text(got: Any, sent: Any) -> bool:
    """Arrow keeps nested values (and columns of mixed types) as JSON text."""
    if same(got, sent):
        return True
    try:
        return isinstance(got, str) and same(json.loads(got), sent)
    except ValueError:
        return False


@settings(max_examples=150)
@given(rows=ROWS, cuts=st.lists(st.integers(0, 25), max_size=4))
def test_flattened_tables_hold_every_leaf_of_every_row(rows: list[Any], cuts: list[int]) -> None:
    bounds = sorted({0, len(rows), *(c for c in cuts if c <= len(rows))})
    pages = [rows[a:b] for a, b in itertools.pairwise(bounds)]
    for backend in ("pandas", "arrow"):
        builder = TableBuilder(None, flatten=True, backend=backend)
        builder.BATCH_ROWS = 7  # several conversions, columns appearing between them
        for page in pages:
            builder.add(page)
        table = builder.result()
        records = table.to_dict("records") if backend == "pandas" else table.to_pylist()
        if backend == "arrow" and not table.num_columns:
            assert not any(rows)  # Arrow holds no row without a column
            continue
        assert len(records) == len(rows)
        check = same if backend == "pandas" else same_or_json_text
        for row, record in zip(rows, records, strict=True):
            expected: dict[str, Any] = {}
            for key, value in row.items():
                leaves(key, value, expected)
            for column, got in record.items():
                assert check(got, expected.get(column)), (column, got, expected.get(column))
            assert set(expected) <= set(record)


def test_a_missing_extra_is_named_before_any_request(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from synapse import Task

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as if not installed
    with pytest.raises(ImportError, match=r"pip install 'synapse-orm\[arrow\]'"):
        TableBuilder(Task, backend="arrow")
