"""The older client's methods against the local backend over real HTTP: the endpoints
behind the twelve methods the first version lacked, and a finalize whose answer is lost."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from synapse.clients.backend import BackendClient
from synapse.clients.backend.models import Storage
from synapse.errors import AuthorizationError, InvalidInputError, NotFoundError, ValidationError
from synapse.local import LocalBackend
from synapse.results import ListResult


@pytest.fixture(scope="module")
def backend() -> Iterator[LocalBackend]:
    with LocalBackend(seed="demo") as local:
        yield local


@pytest.fixture
def client(backend: LocalBackend) -> Iterator[BackendClient]:
    with BackendClient(backend.url, backend.token) as made:
        yield made


def test_a_plugin_without_a_code_runs_and_releases(client: BackendClient) -> None:
    made = client.create_plugin({"name": "My Plugin", "description": "no code given"})
    again = client.create_plugin({"name": "My Plugin"})
    assert (made["code"], again["code"]) == ("my-plugin", "my-plugin-2")
    job = client.run_plugin(made["id"], {"action": "train", "params": {}})
    assert job["status"] == "PENDING"
    release = client.create_plugin_release({"plugin": made["id"], "version": "1.0.0"})
    found = client.get_plugin_release_by_lookup("my-plugin@1.0.0")
    assert found["id"] == release["id"]
    assert found["plugin"]["code"] == "my-plugin"  # expanded by default
    with pytest.raises(ValidationError) as caught:
        client.create_plugin({"name": "x", "code": "Not A Slug"})
    assert "code" in caught.value.field_errors
    with pytest.raises(NotFoundError):
        client.get_plugin_release_by_lookup("my-plugin@9.9.9")


def test_data_and_files_variants(client: BackendClient) -> None:
    tasks = client.list_tasks({"page_size": 3})
    data = client.list_tasks_data({"page_size": 3})
    assert data["count"] == tasks["count"]
    assert data["results"] == [{"id": t["id"], "data": t["data"]} for t in tasks["results"]]
    files = client.list_tasks_files({"page_size": 3})["results"]
    expected = tasks["results"][0]["data_unit"]["files"]
    assert {f["specification"] for f in files[0]["files"]} == set(expected)
    assert all(f["url"].startswith("http") for f in files[0]["files"])
    rows, count = client.list_assignments_files(list_all=True)
    assert isinstance(rows, ListResult)
    assert count == client.list_assignments()["count"] == len(list(rows))
    assert all(isinstance(r["files"], list) and r["files"] for r in rows)
    assert set(client.list_assignments_data()["results"][0]) == {"id", "data"}
    events, total = client.list_ground_truth_events_files(list_all=True, page_size=2)
    assert total == len(list(events)) > 0
    assert all(isinstance(e["files"], list) for e in events)
    first = client.list_ground_truth_events_data(page_size=2)
    assert first["count"] == total
    assert [set(row) for row in first["results"]] == [{"id", "data"}] * min(2, total)


def test_the_console_tail_ends_with_the_job(client: BackendClient) -> None:
    job = client.run_plugin("yolo-trainer", {"action": "train", "params": {}})
    client.update_job(job_id=job["id"], data={"status": "SUCCEEDED"})
    lines = list(client.tail_job_console_logs(job["id"]))
    events = [json.loads(line.removeprefix("data: ")) for line in lines]
    assert events[0] == {"type": "connected"}
    assert events[-1] == {"type": "complete"}
    logs = [json.loads(e["data"].removeprefix("data: ")) for e in events if e["type"] == "log"]
    assert [entry["message"] for entry in logs] == client.list_job_console_logs(job["id"])["logs"]
    with pytest.raises(NotFoundError):
        list(client.tail_job_console_logs(10**9))


def test_serve_applications_and_the_default_storage(client: BackendClient) -> None:
    job = client.run_plugin("yolo-trainer", {"action": "deployment"})
    made = client.create_serve_application({"job": job["id"], "data": {"route": "/m"}})
    assert made["status"] == "DEPLOYING"
    page = client.list_serve_applications({"status": "DEPLOYING"})
    assert made["id"] in [a["id"] for a in page["results"]]
    apps, count = client.list_serve_applications(list_all=True)
    assert count == len(list(apps)) >= 1
    default = client.get_default_storage()
    assert default["is_default"] is True
    assert isinstance(client.get_storage(default["id"]), Storage)


def test_presigned_bulk_upload_makes_data_files(client: BackendClient, tmp_path: Path) -> None:
    paths = []
    for n in range(5):
        path = tmp_path / f"frame-{n}.png"
        path.write_bytes(b"\x89PNG" + bytes([n]) * (1000 + n))
        paths.append(path)
    seen: list[tuple[int, int]] = []
    answer = client.upload_files_bulk(
        paths, strategy="presigned", batch_size=2, max_workers=3,
        on_progress=lambda done, total: seen.append((done, total)),
    )  # fmt: skip
    assert (answer.created_count, answer.failed_count) == (5, 0)
    assert [r.file_key for r in answer.results] == [str(p) for p in paths]
    assert seen == [(2, 5), (4, 5), (5, 5)]
    assert len({r.data_file_id for r in answer.results}) == 5
    # the default storage of the demo is a file system: no presigned uploads there
    with pytest.raises(InvalidInputError, match="presigned"):
        client.upload_files_bulk(paths)
    with pytest.raises(InvalidInputError):
        client.upload_files_bulk(paths, strategy="presigned", batch_size=0)


def test_a_tampered_presigned_url_fails_that_file_only(
    client: BackendClient, tmp_path: Path
) -> None:
    path = tmp_path / "a.bin"
    path.write_bytes(b"abc")
    presigned = client._presign([path], 3600)
    url = presigned.files[0].presigned_url
    assert url is not None
    with pytest.raises(AuthorizationError, match="SignatureDoesNotMatch"):
        client.upload_file_to_presigned_url(
            url.replace("signature=", "signature=0"), path, _warn=False
        )
    result = client.upload_file_to_presigned_url(url, path, _warn=False)
    with pytest.warns(DeprecationWarning, match="upload_files_bulk"):
        confirmed = client.confirm_presigned_upload(
            [{"file_key": presigned.files[0].file_key, "checksum": result.checksum, "size": 3}]
        )
    assert confirmed.results[0].success
    wrong = client._confirm([{"file_key": "presigned/nothing/x", "checksum": "0", "size": 1}])
    assert (wrong.created_count, wrong.results[0].success) == (0, False)


def test_upload_data_collection_creates_units_and_tasks(
    client: BackendClient, tmp_path: Path
) -> None:
    collection = client.list_data_collections()["results"][0]
    project = client.list_tasks({"page_size": 1})["results"][0]["project"]
    before = client.list_tasks({"project": project})["count"]
    items = []
    for n in range(3):
        image = tmp_path / f"u{n}.png"
        image.write_bytes(b"\x89PNG unit " + bytes([n]))
        items.append({"files": {"image_1": image}, "meta": {"n": n}})
    progress: list[int] = []
    client.upload_data_collection(
        collection["id"], items, project_id=project, batch_size=2,
        on_progress=lambda done, total: progress.append(done),
    )  # fmt: skip
    assert sorted(progress) == [1, 2, 3]
    assert client.list_tasks({"project": project})["count"] == before + 3


def test_url_host_reaches_the_server(backend: LocalBackend) -> None:
    with BackendClient(backend.url, backend.token, url_host="internal") as client:
        backend.clear_requests()
        client.get_project(pk=client.list_tasks({"page_size": 1})["results"][0]["project"])
    assert all("url_host=internal" in r.query for r in backend.requests)
    assert len(backend.requests) == 2


class _LosesFinalizeAnswers(BaseHTTPRequestHandler):
    """A chunked-upload server that stores the finalize and drops its answer."""

    seen: ClassVar[list[tuple[str, str]]] = []
    completed = False

    def log_message(self, *args: Any) -> None:
        pass

    def _answer(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _read(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append((self.command, self.path))

    def do_PUT(self) -> None:
        self._read()
        self._answer({"id": "cu-1", "url": "chunked_upload/cu-1/", "offset": 4})

    def do_POST(self) -> None:
        self._read()
        if self.path.startswith("/data_files/"):
            self._answer({"id": 1, "checksum": "c", "size": 4})
            return
        type(self).completed = True  # stored...
        self.close_connection = True  # ...and the answer is lost

    def do_GET(self) -> None:
        self._read()
        done = "2026-01-01T00:00:00Z" if type(self).completed else None
        self._answer({"id": "cu-1", "offset": 4, "completed_at": done, "status": 2})


def test_a_lost_finalize_answer_is_checked_by_get_before_anything_is_resent(
    tmp_path: Path,
) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _LosesFinalizeAnswers)
    _LosesFinalizeAnswers.seen = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        path = tmp_path / "x.bin"
        path.write_bytes(b"data")
        with BackendClient(f"http://{host}:{port}", "t", max_retries=0) as client:
            made = client.create_data_file(path, use_chunked_upload=True, read_timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert made["id"] == 1
    seen = _LosesFinalizeAnswers.seen
    assert seen.count(("POST", "/chunked_upload/cu-1/")) == 1  # never sent twice
    assert seen.count(("GET", "/chunked_upload/cu-1/")) == 1
    assert seen.count(("POST", "/data_files/")) == 1
    assert seen.index(("GET", "/chunked_upload/cu-1/")) < seen.index(("POST", "/data_files/"))
