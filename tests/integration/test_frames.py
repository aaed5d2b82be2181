"""DataFrames and Arrow tables of listings, over real HTTP against the local backend with
production-shaped task pages."""

from __future__ import annotations

import json
import pickle
import sys
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import synapse.frames as frames
import synapse.pagination as pagination
from synapse import BackendClient, Client, InvalidInputError
from synapse.local import LocalBackend
from synapse.partitions import Partition

TASKS = 230


@pytest.fixture(scope="module")
def world() -> Any:
    with LocalBackend(tasks=TASKS) as backend, Client(backend.url, backend.token) as client:
        yield backend, client


def wire_rows(client: Client, project: int) -> list[dict[str, Any]]:
    """The rows as the server sends them (read with plain requests)."""
    rows: list[dict[str, Any]] = []
    page = client.request("GET", "sdk/tasks/", params={"project": project, "page_size": 1000})
    rows.extend(page["results"])
    assert page["next"] is None
    return rows


def test_columns_are_the_wire_names_typed_from_the_declarations(world: Any) -> None:
    backend, client = world
    frame = client.tasks.filter(project=backend.big_project).to_pandas()
    assert list(frame.columns) == [
        "id", "project", "data_unit", "data", "meta", "tags", "is_discarded", "schema",
        "status_label", "status_review", "workshop", "assignment", "count_assignments", "created",
    ]  # fmt: skip
    dtypes = {name: str(dtype) for name, dtype in frame.dtypes.items()}
    assert dtypes["id"] == "Int64"
    assert dtypes["data_unit"] == "Int64"  # expanded on the wire: its id
    assert dtypes["is_discarded"] == "boolean"
    assert dtypes["created"] == "datetime64[us, UTC]"
    assert dtypes["status_label"] == "string"
    assert dtypes["data"] == "object"
    # Every value is what the server sent.
    rows = wire_rows(client, backend.big_project)
    assert len(frame) == len(rows) == TASKS
    for position in (0, 117, TASKS - 1):
        row, got = rows[position], frame.iloc[position]
        assert got["id"] == row["id"]
        assert got["data_unit"] == row["data_unit"]["id"]
        assert got["data"] == row["data"]
        assert got["status_label"] == row["status_label"]
        assert got["created"] == datetime.fromisoformat(row["created"].replace("Z", "+00:00"))


def test_no_model_is_built_on_the_way(world: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    backend, client = world
    parse = pagination._parse_page
    models: list[Any] = []

    def spy(content: bytes, model: Any) -> Any:
        models.append(model)
        return parse(content, model)

    monkeypatch.setattr(pagination, "_parse_page", spy)
    frame = client.tasks.filter(project=backend.big_project).page_size(50).to_pandas()
    assert len(frame) == TASKS
    assert models == [None] * 5  # five pages, each parsed into plain dicts


def test_flatten_spreads_nested_objects_into_dotted_columns(world: Any) -> None:
    backend, client = world
    frame = client.tasks.filter(project=backend.big_project).to_pandas(flatten=True)
    rows = wire_rows(client, backend.big_project)
    assert (frame["data_unit.id"] == frame["data_unit"]).all()
    assert str(frame["data_unit.files.image_1.size"].dtype) == "Int64"
    assert frame["data_unit.files.image_1.url"].tolist() == [
        r["data_unit"]["files"]["image_1"]["url"] for r in rows
    ]
    assert frame["meta.source"].tolist() == [r["meta"]["source"] for r in rows]
    # Fields the kind does not declare stay out unless asked for.
    assert not [c for c in frame.columns if c.startswith("assignee")]


def test_columns_are_asked_of_the_server(world: Any) -> None:
    backend, client = world
    backend.clear_requests()
    frame = client.tasks.filter(project=backend.big_project).to_pandas(
        ["id", "assignee.username", "priority"], flatten=True
    )
    assert list(frame.columns) == ["id", "assignee.username", "priority"]
    assert frame["assignee.username"].str.startswith("labeler").all()
    assert str(frame["priority"].dtype) == "Int64"  # not declared: typed from its values
    queries = [r.query for r in backend.requests if r.path.endswith("/tasks/")]
    assert queries
    assert all("fields=assignee" in q and "fields=priority" in q for q in queries)


def test_arrow_types_and_json_text(world: Any) -> None:
    backend, client = world
    table = client.tasks.filter(project=backend.big_project).to_arrow()
    assert table.num_rows == TASKS
    assert table.schema.field("id").type == pa.int64()
    assert table.schema.field("is_discarded").type == pa.bool_()
    assert table.schema.field("created").type == pa.timestamp("us", tz="UTC")
    assert table.schema.field("data").type == pa.string()
    rows = wire_rows(client, backend.big_project)
    assert [json.loads(v) for v in table.column("data").to_pylist()] == [r["data"] for r in rows]
    assert table.column("data_unit").to_pylist() == [r["data_unit"]["id"] for r in rows]


def test_filters_ordering_and_slices_are_honoured(world: Any) -> None:
    backend, client = world
    query = client.tasks.filter(project=backend.big_project).order_by("-id")[7:61]
    assert query.to_pandas()["id"].tolist() == [t.id for t in query]
    assert query.to_arrow().column("id").to_pylist() == [t.id for t in query]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    low=st.integers(0, TASKS + 5),
    length=st.integers(0, 120) | st.none(),
    size=st.integers(1, 70),
    descending=st.booleans(),
)
def test_any_slice_as_a_frame_equals_the_list_slice(
    world: Any, low: int, length: int | None, size: int, descending: bool
) -> None:
    backend, client = world
    everything = [r["id"] for r in wire_rows(client, backend.big_project)]
    if descending:
        everything.reverse()
    high = None if length is None else low + length
    query = client.tasks.filter(project=backend.big_project).order_by("-id" if descending else "id")
    frame = query.page_size(size)[low:high].to_pandas(["id"])
    assert frame["id"].tolist() == everything[low:high]


def test_an_empty_result_has_the_declared_columns(world: Any) -> None:
    backend, client = world
    empty_project = client.projects.create(title="nothing here", category="image")
    frame = client.tasks.filter(project=empty_project.id).to_pandas()
    full = client.tasks.filter(project=backend.big_project)[:3].to_pandas()
    assert len(frame) == 0
    assert frame.dtypes.to_dict() == full.dtypes.to_dict()
    table = client.tasks.filter(project=empty_project.id).to_arrow()
    assert table.num_rows == 0
    assert table.schema == client.tasks.filter(project=backend.big_project)[:3].to_arrow().schema


def test_list_all_results_convert_too(world: Any) -> None:
    backend, _ = world
    methods = BackendClient(backend.url, access_token=backend.token)
    result, _ = methods.list_tasks({"project": backend.big_project}, list_all=True)
    frame = result.to_pandas()
    assert len(frame) == TASKS
    assert str(frame["created"].dtype) == "datetime64[us, UTC]"
    assert frame["id"].tolist() == [item["id"] for item in result]
    backend.clear_requests()
    assert result.to_arrow(["id", "status_label"]).num_rows == TASKS
    queries = [r.query for r in backend.requests if r.path.endswith("/tasks/")]
    assert queries
    assert all("fields=id" in q and "fields=status_label" in q for q in queries)


def test_bad_columns_raise_before_any_request(world: Any) -> None:
    backend, client = world
    backend.clear_requests()
    query = client.tasks.filter(project=backend.big_project)
    for bad in ("id", ["id", "id"], ["id", ""], [3], ["data_unit.id"]):
        with pytest.raises(InvalidInputError):
            query.to_pandas(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="columns"):
        query.to_dask(flatten=True)
    assert backend.requests == []


def test_progress_bar_when_asked_and_quiet_by_default(
    world: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    backend, client = world
    query = client.tasks.filter(project=backend.big_project)
    query.to_pandas(["id"])
    assert capsys.readouterr().err == ""
    query.to_pandas(["id"], progress=True)
    err = capsys.readouterr().err
    assert "Task rows" in err
    assert f"{TASKS}/{TASKS}" in err
    query[5:105].to_pandas(["id"], progress=True)  # the bar counts the slice, not the list
    assert "100/100" in capsys.readouterr().err


def test_progress_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    assert not frames.progress_wanted(None, 10**6)  # a pipeline: nobody watches
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert frames.progress_wanted(None, 10**6)
    assert not frames.progress_wanted(None, 50)  # too short to need one
    assert not frames.progress_wanted(False, 10**6)
    assert frames.progress_wanted(True, 3)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False)
    monkeypatch.setitem(sys.modules, "ipykernel", sys)
    assert frames.progress_wanted(None, 10**6)  # a notebook


def test_values_that_do_not_fit_their_type_are_kept_as_sent() -> None:
    """A server that sends an odd value loses nothing: that page's column keeps it."""
    from synapse import Task

    for backend in ("pandas", "arrow"):
        builder = frames.TableBuilder(Task, ["id", "created", "status"], backend=backend)
        builder.add([{"id": 1, "created": "2024-01-01T00:00:00Z", "status": "ok"}])
        builder.add([{"id": "x-2", "created": "yesterday", "status": 5}])
        table = builder.result()
        if backend == "pandas":
            assert table["id"].tolist() == [1, "x-2"]
            assert table["created"].tolist()[1] == "yesterday"
        else:
            assert table.column("id").to_pylist() == ["1", "x-2"]
            assert table.column("created").to_pylist()[1] == "yesterday"


# ----------------------------------------------------------------------------- partitions


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 9) | st.none(),
    size=st.integers(1, 60),
    low=st.integers(0, 40),
    high=st.integers(41, TASKS + 10) | st.none(),
)
def test_partitions_hold_every_item_once(
    world: Any, n: int | None, size: int, low: int, high: int | None
) -> None:
    backend, client = world
    query = client.tasks.filter(project=backend.big_project).order_by("id").page_size(size)
    query = query[low:high]
    expected = [t["id"] for t in query.values("id")]
    parts = query.partitions(n)
    if n is not None:
        assert len(parts) <= n
    got = [item["id"] for part in parts for item in part.values("id")]
    assert got == expected


def test_partitions_pickle_without_showing_the_token(world: Any) -> None:
    backend, client = world
    parts = client.tasks.filter(project=backend.big_project).partitions(pages_per_partition=1)
    assert len(parts) == 3  # 230 items in pages of 100
    for part in parts:
        assert backend.token not in repr(part)
        assert backend.token not in repr(part.__dask_tokenize__())
    copy = pickle.loads(pickle.dumps(parts[2]))
    assert [t.id for t in copy] == [t.id for t in parts[2]]
    with pytest.raises(InvalidInputError):
        client.tasks.all().partitions(2, pages_per_partition=3)
    with pytest.raises(InvalidInputError):
        client.tasks.all().partitions(0)


def test_partitions_fetched_by_other_processes_make_the_whole_frame(world: Any) -> None:
    backend, client = world
    query = client.tasks.filter(project=backend.big_project).order_by("id")
    parts = query.page_size(40).partitions(3)
    with ProcessPoolExecutor(2) as pool:
        pieces = list(pool.map(Partition.to_pandas, parts))
    frame = pd.concat(pieces)
    pd.testing.assert_frame_equal(frame, query.to_pandas(), check_index_type=False)


def test_a_union_typed_id_is_typed_by_its_values(synapse_client: Client, demo: Any) -> None:
    """A job's id is declared ``int | str`` (UUIDs on some backends): ints make Int64."""
    frame = synapse_client.jobs.all().to_pandas(progress=False)
    assert str(frame["id"].dtype) == "Int64"
    listed = synapse_client.request("GET", "jobs/", params={"page_size": 1000})["results"]
    assert frame["id"].tolist() == [j["id"] for j in listed]
    assert all(isinstance(j["id"], int) for j in listed)


def test_to_dask_flattened_columns_have_to_pandas_types(world: Any) -> None:
    pytest.importorskip("dask.dataframe")
    backend, client = world
    query = client.tasks.filter(project=backend.big_project)
    whole = query.to_pandas(flatten=True, progress=False)
    columns = [c for c in whole.columns if c.startswith("data_unit.")][:6]
    frame = query.to_dask(3, columns=columns, flatten=True)
    expected = {c: str(whole[c].dtype) for c in columns}
    assert {c: str(t) for c, t in frame.dtypes.items()} == expected
    assert "Int64" in expected.values()  # the kind of column that came out as object
    computed = frame.compute(scheduler="sync")
    assert {c: str(t) for c, t in computed.dtypes.items()} == expected
