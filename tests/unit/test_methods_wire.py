"""Each method of the original BackendClient sends the request of protocol section 3."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from synapse import BackendClient, InvalidInputError, JobStatus, StorageProvider
from synapse.errors import UnknownFilterError
from tests.conftest import BASE, TOKEN, waits_with

ANY = re.compile(rf"{re.escape(BASE)}/.*")
# One answer that every method accepts (get_storage parses a Storage from it).
GENERIC = {
    "id": 1, "count": 0, "next": None, "previous": None, "results": [], "checksum": "c",
    "name": "s", "category": "internal", "provider": "file_system",
}  # fmt: skip


@pytest.fixture
def mock() -> Any:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            rsps.add(method, ANY, json=GENERIC)
        yield rsps


@pytest.fixture
def backend() -> BackendClient:
    c = BackendClient(BASE, TOKEN)
    waits_with(c)
    return c


def sent(mock: Any) -> list[tuple[str, str, dict[str, str], Any]]:
    out = []
    for call in mock.calls:
        request = call.request
        parts = urlsplit(request.url)
        body = request.body
        if isinstance(body, bytes) and request.headers.get("Content-Type") == "application/json":
            body = json.loads(body)
        out.append((request.method, parts.path, dict(parse_qsl(parts.query)), body))
    return out


CASES: list[tuple[str, tuple[Any, ...], dict[str, Any], tuple[str, str, dict[str, str], Any]]] = [
    ("get_project", (1,), {}, ("GET", "/projects/1/", {}, None)),
    ("get_task", (2,), {"params": {"expand": "data_unit"}},
     ("GET", "/tasks/2/", {"expand": "data_unit"}, None)),
    ("annotate_task_data", (3, {"action": "submit", "data": {"a": 1}}), {"schema": "any"},
     ("PUT", "/tasks/3/annotate_task_data/", {"schema": "any"},
      {"action": "submit", "data": {"a": 1}})),
    ("list_tasks", ({"project": 4},), {}, ("GET", "/sdk/tasks/", {"project": "4"}, None)),
    ("create_tasks", ({"project": 5, "data": [{"data_unit": 6}]},), {},
     ("POST", "/tasks/", {}, {"project": 5, "data": [{"data_unit": 6}]})),
    ("set_tags_tasks", ({"ids": [1], "tags": [2], "action": "remove"},), {},
     ("POST", "/tasks/set_tags/", {}, {"ids": [1], "tags": [2], "action": "remove"})),
    ("get_task_tag", (7,), {}, ("GET", "/task_tags/7/", {}, None)),
    ("list_task_tags", (), {}, ("GET", "/task_tags/", {}, None)),
    ("get_chunked_upload", ("abc",), {}, ("GET", "/chunked_upload/abc/", {}, None)),
    ("list_data_collection", (), {}, ("GET", "/data_collections/", {}, None)),
    ("list_data_collections", (), {}, ("GET", "/data_collections/", {}, None)),
    ("get_data_collection", (8,), {},
     ("GET", "/data_collections/8/", {"expand": "file_specifications"}, None)),
    ("get_data_unit", (9,), {"params": {"expand": "files"}},
     ("GET", "/data_units/9/", {"expand": "files"}, None)),
    ("create_data_units", ([{"data_collection": 1, "files": {"i": {"checksum": "c"}}}],), {},
     ("POST", "/data_units/", {}, [{"data_collection": 1, "files": {"i": {"checksum": "c"}}}])),
    ("list_data_units", ({"data_collection": 3},), {},
     ("GET", "/data_units/", {"data_collection": "3", "page_size": "100"}, None)),
    ("verify_data_files_checksums", (["a", "b"],), {},
     ("POST", "/data_files/verify_checksums/", {}, {"checksums": ["a", "b"]})),
    ("get_assignment", (10,), {}, ("GET", "/assignments/10/", {}, None)),
    ("list_assignments", ({"tasks": "1,2"},), {},
     ("GET", "/sdk/assignments/", {"tasks": "1,2"}, None)),
    ("set_tags_assignments", ({"assignment_ids": [3], "tag_ids": [4]},), {},
     ("POST", "/assignments/set_tags/", {}, {"ids": [3], "tags": [4], "action": "add"})),
    ("health_check_agent", ("a" * 40,), {}, ("POST", f"/agents/{'a' * 40}/connect/", {}, None)),
    ("get_plugin", (11,), {}, ("GET", "/plugins/11/", {}, None)),
    ("create_plugin", ({"code": "c", "name": "n"},), {},
     ("POST", "/plugins/", {}, {"code": "c", "name": "n"})),
    ("update_plugin", (12, {"code": "c", "name": "m"}), {},
     ("PUT", "/plugins/12/", {}, {"code": "c", "name": "m"})),
    ("run_plugin", ("yolo", {"action": "train", "params": {"e": 1}}), {},
     ("POST", "/plugins/yolo/run/", {}, {"action": "train", "params": {"e": 1}, "language": "ko"})),
    ("create_plugin_release", ({"plugin": "c", "version": "1.0"},), {},
     ("POST", "/plugin_releases/", {}, {"debug": False, "plugin": "c", "version": "1.0"})),
    ("get_plugin_release", ("c@1.0",), {"params": {"expand": "plugin"}},
     ("GET", "/plugin_releases/c@1.0/", {"expand": "plugin"}, None)),
    ("list_jobs", ({"status": "RUNNING"},), {}, ("GET", "/jobs/", {"status": "RUNNING"}, None)),
    ("get_job", (13,), {}, ("GET", "/jobs/13/", {}, None)),
    ("update_job", (14, {"status": JobStatus.SUCCEEDED, "result": None}), {},
     ("PATCH", "/jobs/14/", {}, {"status": "SUCCEEDED"})),
    ("list_job_console_logs", (15,), {}, ("GET", "/jobs/15/console_logs/", {}, None)),
    ("create_logs", ({"event": "message", "data": {"content": "hi"}},), {},
     ("POST", "/logs/", {}, {"event": "message", "data": {"content": "hi"}})),
    ("list_storages", ({"category": "internal"},), {},
     ("GET", "/storages/", {"category": "internal"}, None)),
    ("get_storage", (16,), {}, ("GET", "/storages/16/", {"with_configuration": "true"}, None)),
    ("create_storage",
     ({"name": "s", "category": "external", "provider": StorageProvider.MINIO},), {},
     ("POST", "/storages/", {}, {"name": "s", "category": "external", "provider": "minio"})),
    ("list_models", (), {}, ("GET", "/models/", {}, None)),
    ("get_model", (17,), {}, ("GET", "/models/17/", {}, None)),
    ("create_model", ({"name": "m", "plugin": "yolo"},), {},
     ("POST", "/models/", {}, {"name": "m", "plugin": "yolo"})),
    ("list_ground_truth_events", ({"ground_truth_dataset_versions": 2},), {},
     ("GET", "/sdk/ground_truth_events/",
      {"ground_truth_dataset_versions": "2", "page_size": "100"}, None)),
    ("get_ground_truth_version", (18,), {},
     ("GET", "/ground_truth_dataset_versions/18/", {}, None)),
    ("list_ground_truth_versions", ({"ground_truth_dataset": 1},), {},
     ("GET", "/ground_truth_dataset_versions/", {"ground_truth_dataset": "1"}, None)),
    ("list_ground_truths", ({"ground_truth_dataset": 1},), {},
     ("GET", "/ground_truths/", {"ground_truth_dataset": "1", "page_size": "100"}, None)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "kwargs", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_method_sends_the_protocols_request(
    mock: Any,
    backend: BackendClient,
    name: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    expected: tuple[str, str, dict[str, str], Any],
) -> None:
    getattr(backend, name)(*args, **kwargs)
    assert sent(mock) == [expected]
    headers = mock.calls[0].request.headers
    assert headers["Synapse-Access-Token"] == f"Token {TOKEN}"
    if expected[0] in ("POST", "PUT", "PATCH"):
        assert headers["Content-Type"] == "application/json"


def test_create_data_file_direct_is_multipart(
    mock: Any, backend: BackendClient, tmp_path: Path
) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"abc")
    backend.create_data_file(path)
    request = mock.calls[0].request
    assert (request.method, urlsplit(request.url).path) == ("POST", "/data_files/")
    assert b'name="file"; filename="a.txt"' in request.body


def test_create_plugin_release_with_a_file_in_data(
    mock: Any, backend: BackendClient, tmp_path: Path
) -> None:
    archive = tmp_path / "p.zip"
    archive.write_bytes(b"PK")
    with open(archive, "rb") as handle:
        backend.create_plugin_release(
            {"plugin": "c", "version": "2", "file": handle, "requirements": ["a", "b"]}
        )
    body = mock.calls[0].request.body
    assert b'name="file"; filename="p.zip"' in body
    assert body.count(b'name="requirements"') == 2
    assert b'name="debug"\r\n\r\nFalse' in body


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("list_tasks", ({"projct": 1},)),
        ("list_assignments", ({"task": 1},)),
        ("list_jobs", ({"state": "x"},)),
    ],
)
def test_unknown_filters_raise_before_sending(
    mock: Any, backend: BackendClient, name: str, args: tuple[Any, ...]
) -> None:
    with pytest.raises(UnknownFilterError, match="did you mean"):
        getattr(backend, name)(*args)
    assert len(mock.calls) == 0


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("run_plugin", ("p", {"params": {}, "parameters": {}})),
        ("create_data_units", ([{"id": 1, "file": {}}],)),
        ("create_data_units", ({"data_collection": "1", "files": {"i": {}}},)),
        ("update_job", (1, {"progress": 1})),
        ("update_job", (1, {"status": "DONE"})),
        ("create_storage", ({"name": "s", "category": "x", "provider": "minio"},)),
        ("set_tags_tasks", ({"task_ids": ["1"], "tag_ids": [1]},)),
        ("annotate_task_data_batch", ([{"data": {}}],)),
        ("get_task", ("../admin",)),
    ],
)
def test_bad_input_raises_before_sending(
    mock: Any, backend: BackendClient, name: str, args: tuple[Any, ...]
) -> None:
    with pytest.raises(InvalidInputError):
        getattr(backend, name)(*args)
    assert len(mock.calls) == 0


ids = st.lists(st.integers(1, 10**6), min_size=1, max_size=5)


@given(task_ids=ids, tag_ids=ids, action=st.sampled_from(["add", "remove"]))
def test_seed_and_wire_set_tags_send_the_same(
    task_ids: list[int], tag_ids: list[int], action: str
) -> None:
    client = BackendClient(BASE, TOKEN)
    with responses.RequestsMock() as mock:
        mock.add("POST", f"{BASE}/tasks/set_tags/", json={})
        mock.add("POST", f"{BASE}/assignments/set_tags/", json={})
        client.set_tags_tasks({"task_ids": task_ids, "tag_ids": tag_ids, "action": action})
        client.set_tags_tasks({"ids": task_ids, "tags": tag_ids, "action": action})
        client.set_tags_assignments(
            {"assignment_ids": task_ids, "tag_ids": tag_ids, "action": action}
        )
        client.set_tags_assignments({"ids": task_ids, "tags": tag_ids, "action": action})
        bodies = [json.loads(c.request.body) for c in mock.calls]
    assert bodies[0] == bodies[1] == bodies[2] == bodies[3]
    assert bodies[0] == {"ids": task_ids, "tags": tag_ids, "action": action}


@given(rows=st.lists(st.tuples(st.integers(1, 3), st.integers(1, 10**6)), min_size=1, max_size=8))
def test_seed_and_wire_create_tasks_send_the_same(rows: list[tuple[int, int]]) -> None:
    client = BackendClient(BASE, TOKEN)
    seed = [{"project": p, "data_unit": u} for p, u in rows]
    projects = list(dict.fromkeys(p for p, _ in rows))
    wire = [{"project": p, "data": [{"data_unit": u} for q, u in rows if q == p]} for p in projects]
    with responses.RequestsMock() as mock:
        mock.add("POST", f"{BASE}/tasks/", json=[])
        client.create_tasks(seed)
        for body in wire:
            client.create_tasks(body)
        bodies = [json.loads(c.request.body) for c in mock.calls]
    assert bodies[: len(wire)] == bodies[len(wire) :] == wire


def test_old_import_paths() -> None:
    from synapse import BackendClient as FromTop
    from synapse import ClientError as TopError
    from synapse.clients.backend import BackendClient as FromOld
    from synapse.clients.exceptions import ClientError as OldError

    assert FromTop is FromOld
    assert TopError is OldError
    assert issubclass(FromTop, __import__("synapse").Client)


def test_list_all_len_is_the_count_and_iteration_reuses_the_first_page() -> None:
    client = BackendClient(BASE, TOKEN)
    url = f"{BASE}/sdk/tasks/"
    with responses.RequestsMock() as mock:
        mock.get(
            url,
            json={"count": 3, "next": f"{url}?page=2", "results": [{"id": 1}, {"id": 2}]},
            match=[
                responses.matchers.query_param_matcher(
                    {"project": "1", "page_size": "2", "page": "1"}
                )
            ],
        )
        mock.get(
            url,
            json={"count": 3, "next": None, "results": [{"id": 3}]},
            match=[
                responses.matchers.query_param_matcher(
                    {"project": "1", "page_size": "2", "page": "2"}
                )
            ],
        )
        result, count = client.list_tasks({"project": 1, "page_size": 2}, list_all=True)
        assert count == 3
        assert len(mock.calls) == 1  # the first page, for the count
        assert len(result) == 3
        assert len(mock.calls) == 1
        assert [t["id"] for t in result] == [1, 2, 3]
        assert len(mock.calls) == 2  # the first page was not fetched twice
        assert len(result) == 3
        assert len(mock.calls) == 2
