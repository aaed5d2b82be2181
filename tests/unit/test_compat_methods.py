"""The older package's calls, as its users wrote them, on the wire (``responses``)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import responses
from responses import matchers

from synapse.clients.backend import BackendClient
from synapse.clients.backend.models import Agent, Storage, UpdateJobRequest
from synapse.errors import (
    ClientError,
    InvalidInputError,
    MissingFieldError,
    RateLimitError,
    UnknownFilterWarning,
)
from synapse.results import ListResult

BASE = "https://api.synapse.test"
TOKEN = "tok-" + "x" * 20


@pytest.fixture
def client() -> BackendClient:
    return BackendClient(BASE, TOKEN, max_retries=0)


@responses.activate
def test_a_body_that_names_its_action_goes_as_given(client: BackendClient) -> None:
    body = {"action": "save", "data": {"v": 1}, "meta": {"m": 2}}
    responses.put(
        f"{BASE}/tasks/4/annotate_task_data/",
        json={"id": 4},
        match=[matchers.json_params_matcher(body), matchers.query_param_matcher({})],
    )
    assert client.annotate_task_data(task_id=4, data=body) == {"id": 4}
    with pytest.raises(InvalidInputError):
        client.annotate_task_data(4, {"action": "publish", "data": {}})


@responses.activate
def test_the_batch_reports_every_item_whatever_it_raised(client: BackendClient) -> None:
    responses.put(f"{BASE}/tasks/1/annotate_task_data/", json={"id": 1})
    responses.put(f"{BASE}/tasks/2/annotate_task_data/", status=404, json={"detail": "gone"})
    items = [
        {"task_id": 1, "data": {"v": 1}},
        {"task_id": 2, "data": {"v": 2}},
        {"task_id": 3, "data": "not a dict"},
    ]
    result = client.annotate_task_data_batch(items)
    assert result[1] == {"success": True, "error": None, "response": {"id": 1}}
    assert result[2]["success"] is False
    assert "gone" in result[2]["error"]
    assert result[3]["success"] is False
    assert "dict" in result[3]["error"]
    assert len(responses.calls) == 2  # the bad item was refused before sending
    with pytest.raises(KeyError):
        client.annotate_task_data_batch([{"data": {}}])
    with pytest.raises(MissingFieldError):
        client.annotate_task_data_batch([{"data": {}}])


@responses.activate
def test_old_id_keywords_and_pk_both_work(client: BackendClient) -> None:
    responses.get(f"{BASE}/projects/7/", json={"id": 7})
    responses.get(f"{BASE}/jobs/j-1/", json={"id": "j-1"})
    assert client.get_project(project_id=7) == client.get_project(pk=7) == {"id": 7}
    assert client.get_job(job_id="j-1") == {"id": "j-1"}
    with pytest.raises(InvalidInputError):
        client.get_project(7, pk=7)
    with pytest.raises(InvalidInputError):
        client.get_project()


@responses.activate
def test_url_host_goes_on_every_request_and_the_caller_wins() -> None:
    client = BackendClient(BASE, TOKEN, url_host="internal")
    responses.get(
        f"{BASE}/sdk/tasks/",
        json={"count": 0, "results": []},
        match=[matchers.query_param_matcher({"url_host": "internal", "project": "1"})],
    )
    responses.get(
        f"{BASE}/sdk/tasks/",
        json={"count": 0, "results": []},
        match=[matchers.query_param_matcher({"url_host": "external"})],
    )
    client.list_tasks({"project": 1})
    with pytest.warns(UnknownFilterWarning):
        client.list_tasks({"url_host": "external"}, unknown_filters="warn")
    assert client.timeout == {"connect": 5.0, "read": 15.0}


@responses.activate
def test_list_all_is_items_and_count(client: BackendClient) -> None:
    url = f"{BASE}/sdk/ground_truth_events/"
    responses.get(
        url, json={"count": 3, "next": f"{url}?page=2", "results": [{"id": 1}, {"id": 2}]}
    )
    responses.get(url, json={"count": 3, "next": None, "results": [{"id": 3}]})
    items, count = client.list_ground_truth_events(list_all=True, page_size=2)
    assert isinstance(items, ListResult)
    assert count == 3
    assert [i["id"] for i in items] == [1, 2, 3]
    assert "page_size=2" in responses.calls[0].request.url
    responses.get(url, json={"count": 0, "results": []})
    client.list_ground_truth_events()
    assert "page_size=100" in responses.calls[-1].request.url
    assert client.exists("list_ground_truth_events") is False
    assert client.exists("list_ground_truth_events", list_all=True) is False


@responses.activate
def test_models_where_the_old_package_returned_models(client: BackendClient) -> None:
    responses.get(
        f"{BASE}/storages/3/",
        json={
            "id": 3,
            "name": "s",
            "category": "external",
            "provider": "wasabi",
            "x": 1,
            "configuration": {"secret_key": "very-secret-key"},
        },
    )
    script = f"curl {BASE}/agents/{'ab' * 20}/node_install_script/ | sh"
    responses.get(
        f"{BASE}/agents/",
        json={
            "count": 1,
            "next": None,
            "results": [{"id": 5, "name": "a", "node_install_script": script}],
        },
    )
    storage = client.get_storage(storage_id=3)
    assert isinstance(storage, Storage)
    assert (storage.provider, storage["category"], storage.is_default) == (
        "wasabi",
        "external",
        False,
    )
    (agent,) = client.list_agents()
    assert isinstance(agent, Agent)
    assert (agent.id, agent.token) == (5, "ab" * 20)
    assert "ab" * 20 not in repr(agent)
    assert "ab" * 20 not in str(agent)
    assert "ab" * 20 not in repr([agent])
    with pytest.raises(ValueError, match="unknown"):
        UpdateJobRequest.model_validate({"unknown": 1})


@responses.activate
def test_release_lookup_keeps_at_and_encodes_the_rest(client: BackendClient) -> None:
    responses.get(
        f"{BASE}/plugin_releases/weird%20name%2F..@1.0/",
        json={"id": 1},
        match=[matchers.query_param_matcher({"expand": "plugin"})],
    )
    responses.get(
        f"{BASE}/plugin_releases/yolo@2/", json={"id": 2}, match=[matchers.query_param_matcher({})]
    )
    assert client.get_plugin_release_by_lookup("weird name/..@1.0") == {"id": 1}
    assert client.get_plugin_release_by_lookup("yolo@2", expand=None, params={"x": None}) == {
        "id": 2
    }


@responses.activate
def test_the_console_tail_streams_lines_and_maps_errors(client: BackendClient) -> None:
    url = f"{BASE}/jobs/9/tail_console_logs/"
    events = 'data: {"type": "connected"}\n\ndata: {"type": "log"}\n\n'
    responses.get(url, body=events, content_type="text/event-stream")
    assert list(client.tail_job_console_logs(job_id=9)) == [
        'data: {"type": "connected"}',
        'data: {"type": "log"}',
    ]
    responses.replace(responses.GET, url, status=429, headers={"Retry-After": "7"}, json={})
    with pytest.raises(RateLimitError) as caught:
        list(client.tail_job_console_logs(9))
    assert caught.value.retry_after == 7.0


@responses.activate
def test_the_default_storage_and_serve_applications(client: BackendClient) -> None:
    responses.get(
        f"{BASE}/storages/",
        json=[{"id": 1, "is_default": False}, {"id": 2, "is_default": True}],
        match=[matchers.query_param_matcher({"category": "internal"})],
    )
    assert client.get_default_storage()["id"] == 2
    responses.post(
        f"{BASE}/serve_applications/",
        json={"id": 4},
        match=[matchers.json_params_matcher({"job": "j-1"})],
    )
    assert client.create_serve_application({"job": "j-1"}) == {"id": 4}
    with pytest.raises(ValueError, match="extra"):
        client.create_serve_application({"job": "j-1", "bogus": 1})


def test_a_one_letter_token_masks_only_where_it_stands_whole() -> None:
    client = BackendClient("http://127.0.0.1:9", "t", max_retries=0)
    with pytest.raises(ClientError) as caught:
        client.get_chunked_upload("cu-test-1")
    text = str(caught.value)
    assert "http://127.0.0.1:9/chunked_upload/cu-test-1/" in text
    assert "****" not in text


@responses.activate
def test_bulk_upload_wire_shape_and_failures_by_file(client: BackendClient, tmp_path: Path) -> None:
    good, bad = tmp_path / "a.png", tmp_path / "b.txt"
    good.write_bytes(b"\x89PNG good")
    bad.write_bytes(b"plain text")
    responses.post(
        f"{BASE}/data_files/presigned_upload/upload/",
        json={
            "files": [
                {
                    "filename": "a.png",
                    "file_key": "k/a",
                    "presigned_url": "https://s3.test/a?sig=1",
                },
                {
                    "filename": "b.txt",
                    "file_key": "k/b",
                    "presigned_url": "https://s3.test/b?sig=1",
                },
            ],
            "expires_at": "2026-01-01T00:00:00Z",
        },
        match=[
            matchers.json_params_matcher(
                {
                    "files": [
                        {"filename": "a.png", "size": 9, "content_type": "image/png"},
                        {"filename": "b.txt", "size": 10, "content_type": "text/plain"},
                    ],
                    "expiration": 3600,
                }
            )
        ],
    )
    responses.put(
        "https://s3.test/a",
        status=200,
        match=[matchers.header_matcher({"Content-Type": "image/png"})],
    )
    responses.put(
        "https://s3.test/b", status=403, body="<Error><Code>SignatureDoesNotMatch</Code></Error>"
    )
    sha1 = hashlib.sha1(b"\x89PNG good").hexdigest()
    responses.post(
        f"{BASE}/data_files/presigned_upload/confirm_upload/",
        json={
            "results": [{"file_key": "k/a", "checksum": sha1, "data_file_id": 7, "success": True}],
            "created_count": 1,
            "failed_count": 0,
        },
        match=[
            matchers.json_params_matcher(
                {"files": [{"file_key": "k/a", "checksum": sha1, "size": 9}]}
            )
        ],
    )
    answer = client.upload_files_bulk([good, bad], strategy="presigned")
    assert (answer.created_count, answer.failed_count) == (1, 1)
    ok, failed = answer.results
    assert (ok.file_key, ok.data_file_id, ok.success) == (str(good), 7, True)
    assert (failed.file_key, failed.success, failed.checksum) == (str(bad), False, "")
    assert "403" in (failed.error or "")
    put = next(c for c in responses.calls if c.request.url.startswith("https://s3.test/a"))
    assert "Synapse-Access-Token" not in put.request.headers  # another host: no credentials


@responses.activate
def test_bulk_upload_needs_a_presigned_storage(client: BackendClient, tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    path.write_bytes(b"x")
    responses.get(
        f"{BASE}/storages/",
        json={"count": 1, "results": [{"id": 1, "provider": "file_system", "is_default": True}]},
    )
    with pytest.raises(InvalidInputError, match="presigned"):
        client.upload_files_bulk([path])
    with pytest.raises(InvalidInputError):
        client.upload_files_bulk([path], strategy="magic")
    assert not any("presigned_upload" in c.request.url for c in responses.calls)
