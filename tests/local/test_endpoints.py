"""Every endpoint of the local backend: success and error answers, over real HTTP."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest

from synapse.local import ManualClock
from synapse.local.seed import DEMO_AGENT_TOKEN
from tests.local.conftest import Api


def test_auth_is_required_and_checked(api: Api) -> None:
    bare = api.session.__class__()
    response = bare.get(api.url("projects/"))
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    response = bare.get(api.url("projects/"), headers={"Synapse-Access-Token": "Token wrong"})
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}
    token = api.backend.token
    response = bare.get(api.url("projects/"), headers={"Authorization": f"Token {token}"})
    assert response.status_code == 200


def test_tenant_header_is_recorded(api: Api) -> None:
    api.get("projects/", headers={"Synapse-Tenant": "Token acme"})
    assert api.backend.requests[-1].tenant == "Token acme"


def test_projects_crud(api: Api) -> None:
    created = api.post("projects/", json={"title": "P", "category": "image"})
    assert created.status_code == 201
    project = created.json()
    assert project["title"] == "P"
    assert "created" in project
    pk = project["id"]
    assert api.get(f"projects/{pk}/").json()["title"] == "P"
    patched = api.patch(f"projects/{pk}/", json={"title": "Q", "id": 999})
    assert patched.json()["title"] == "Q"
    assert patched.json()["id"] == pk
    assert api.delete(f"projects/{pk}/").status_code == 204
    missing = api.get(f"projects/{pk}/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found."}
    assert api.get("projects/abc/").status_code == 404


def test_a_key_no_field_declares_is_dropped_as_the_real_backend_drops_it(
    api: Api, demo: dict[str, Any]
) -> None:
    """A misspelt key is never read back as if it had been stored (DRF serializers
    ignore unknown keys): on a generic create and update, and on the kinds' own creates."""
    made = api.post("projects/", json={"title": "p", "titel": "x"}).json()
    assert made["title"] == "p"
    assert "titel" not in made
    changed = api.patch(f"projects/{made['id']}/", json={"descripton": "y"}).json()
    assert "descripton" not in changed
    assert "descripton" not in api.get(f"projects/{made['id']}/").json()
    unit = api.get("data_units/", params={"data_collection": demo["data_collection"]}).json()
    unit_id = unit["results"][0]["id"]
    tasks = api.post(
        "tasks/", json={"project": made["id"], "data": [{"data_unit": unit_id, "mata": {}}]}
    ).json()
    assert "mata" not in tasks[0]
    storage = api.post("storages/", json={"name": "s", "provider": "amazon_s3", "nmae": 1})
    assert "nmae" not in storage.json()


def test_method_not_allowed_has_a_drf_body(api: Api) -> None:
    response = api.delete("storages/")
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "DELETE" not allowed.'}


def test_bad_json_is_a_400(api: Api) -> None:
    response = api.post("projects/", data=b"{nope", headers={"Content-Type": "application/json"})
    assert response.status_code == 400


def test_tasks_create_list_get_patch_delete(api: Api, demo: dict[str, Any]) -> None:
    units = api.get("data_units/", params={"data_collection": demo["data_collection"]}).json()
    unit_ids = [u["id"] for u in units["results"][:3]]
    created = api.post(
        "tasks/", json={"project": demo["project"], "data": [{"data_unit": u} for u in unit_ids]}
    )
    assert created.status_code == 201
    tasks = created.json()
    assert [t["data_unit"] for t in tasks] == unit_ids
    pk = tasks[0]["id"]
    got = api.get(f"tasks/{pk}/", params={"expand": "data_unit"}).json()
    assert got["data_unit"]["id"] == unit_ids[0]
    assert set(got["data_unit"]["files"]) == {"image_1", "meta"}
    assert got["data_unit"]["files"]["image_1"]["url"].startswith(api.backend.url + "/media/")
    assert got["data_unit"]["files"]["image_1"]["is_primary"] is True
    only = api.get(f"tasks/{pk}/", params={"fields": "id,data_unit"}).json()
    assert set(only) == {"id", "data_unit"}
    assert api.patch(f"tasks/{pk}/", json={"meta": {"k": 1}}).json()["meta"] == {"k": 1}
    assert api.delete(f"tasks/{pk}/").status_code == 204


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"project": 999, "data": [{"data_unit": 1}]}, "project"),
        ({"project": 1, "data": []}, "data"),
        ({"project": 1, "data": [{"data_unit": 999}]}, "data"),
    ],
)
def test_tasks_create_errors(api: Api, demo: dict[str, Any], body: Any, field: str) -> None:
    response = api.post("tasks/", json=body)
    assert response.status_code == 400
    assert field in response.json()


def test_annotate_task_data(api: Api, demo: dict[str, Any]) -> None:
    data = {"boxes": [1, 2]}
    response = api.put(
        "tasks/1/annotate_task_data/",
        params={"schema": "any"},
        json={"action": "submit", "data": data},
    )
    assert response.status_code == 200
    assert response.json()["data"] == data
    assert response.json()["status_label"] == "completed"
    bad = api.put("tasks/1/annotate_task_data/", json={"action": "publish", "data": {}})
    assert bad.status_code == 400
    assert "action" in bad.json()
    assert api.put("tasks/999/annotate_task_data/", json={"data": {}}).status_code == 404


@pytest.mark.parametrize(
    ("path", "lister"), [("tasks", "sdk/tasks/"), ("assignments", "sdk/assignments/")]
)
def test_set_tags(api: Api, demo: dict[str, Any], path: str, lister: str) -> None:
    ids = [r["id"] for r in api.get(lister, params={"page_size": 2}).json()["results"]]
    response = api.post(f"{path}/set_tags/", json={"ids": ids, "tags": [7, 8], "action": "add"})
    assert response.status_code == 200
    assert response.json()["updated"] == 2
    tagged = api.get(lister, params={"tags": "8"}).json()
    assert {r["id"] for r in tagged["results"]} >= set(ids)
    api.post(f"{path}/set_tags/", json={"ids": ids, "tags": [8], "action": "remove"})
    for pk in ids:
        assert 8 not in api.get(f"{path}/{pk}/").json()["tags"]
    bad = api.post(f"{path}/set_tags/", json={"ids": ["x"], "tags": [1]})
    assert bad.status_code == 400


def test_task_tags(api: Api, demo: dict[str, Any]) -> None:
    tags = api.get("task_tags/", params={"project": demo["project"]}).json()
    assert {t["name"] for t in tags["results"]} == {"urgent", "review"}
    assert api.get(f"task_tags/{tags['results'][0]['id']}/").json()["name"] == "urgent"


def test_assignments(api: Api, demo: dict[str, Any]) -> None:
    page = api.get("sdk/assignments/", params={"project": demo["project"]}).json()
    assert page["count"] == 6
    first = page["results"][0]
    assert api.get(f"assignments/{first['id']}/").json()["task"] == first["task"]
    by_tasks = api.get("sdk/assignments/", params={"tasks": f"{first['task']},999"}).json()
    assert [a["id"] for a in by_tasks["results"]] == [first["id"]]
    done = api.get("sdk/assignments/", params={"status_label": "completed"}).json()
    assert done["count"] == 3


def test_agents(api: Api, demo: dict[str, Any]) -> None:
    agents = api.get("agents/").json()["results"]
    assert agents[0]["name"] == "gpu-node-1"
    connected = api.post(f"agents/{DEMO_AGENT_TOKEN}/connect/")
    assert connected.status_code == 200
    assert connected.json()["status"] == "connected"
    assert "token" not in connected.json()
    assert api.post(f"agents/{'0' * 40}/connect/").status_code == 404


def test_plugins_releases_and_runs(api: Api, demo: dict[str, Any]) -> None:
    plugin = api.post("plugins/", json={"code": "p1", "name": "P1", "category": "export"}).json()
    assert api.get(f"plugins/{plugin['id']}/").json()["code"] == "p1"
    put = api.put(f"plugins/{plugin['id']}/", json={"code": "p1", "name": "P one"})
    assert put.json()["name"] == "P one"
    release = api.post("plugin_releases/", json={"plugin": "p1", "version": "0.1.0"})
    assert release.status_code == 201
    dup = api.post("plugin_releases/", json={"plugin": "p1", "version": "0.1.0"})
    assert dup.status_code == 400
    assert "version_exists" in dup.text
    files = {"file": ("p1.zip", b"PK zip bytes")}
    form = {
        "plugin": "p1",
        "version": "0.2.0",
        "config": '{"a": 1}',
        "requirements": ["x", "y"],
        "debug": "True",
    }
    multipart = api.post("plugin_releases/", data=form, files=files)
    assert multipart.status_code == 201
    body = multipart.json()
    assert body["config"] == {"a": 1}
    assert body["requirements"] == ["x", "y"]
    assert body["debug"] is True
    assert api.get(body["file"]).content == b"PK zip bytes"
    listed = api.get("plugin_releases/", params={"plugin": "p1"}).json()
    assert [r["version"] for r in listed["results"]] == ["0.1.0", "0.2.0"]
    by_lookup = api.get("plugin_releases/p1@0.2.0/", params={"expand": "plugin"}).json()
    assert by_lookup["plugin"]["code"] == "p1"
    assert api.get("plugin_releases/p1@9.9.9/").status_code == 404
    assert api.post("plugin_releases/", json={"plugin": "nope", "version": "1"}).status_code == 400


@pytest.fixture
def clock(api: Api) -> Iterator[ManualClock]:
    """The backend's jobs on a clock that moves only when the test moves it."""
    backend = api.backend.backend
    manual, saved = ManualClock(), backend.clock
    backend.clock = manual
    try:
        yield manual
    finally:
        backend.clock = saved


def _job(api: Api, job_id: int) -> dict[str, Any]:
    job: dict[str, Any] = api.get(f"jobs/{job_id}/").json()
    return job


def test_run_moves_a_job_through_its_states(
    api: Api, demo: dict[str, Any], clock: ManualClock
) -> None:
    run = api.post("plugins/yolo-trainer/run/", json={"action": "train", "params": {"e": 1}})
    assert run.status_code == 201
    job = run.json()
    assert job["status"] == "PENDING"
    step = api.backend.backend.job_seconds
    clock.advance(step * 0.9)
    assert _job(api, job["id"])["status"] == "PENDING"
    clock.advance(step * 0.2)
    assert _job(api, job["id"])["status"] == "RUNNING"
    clock.advance(step)
    finished = _job(api, job["id"])
    assert finished["status"] == "SUCCEEDED"
    logs = api.get(f"jobs/{job['id']}/console_logs/").json()["logs"]
    assert len(logs) == 3
    assert "running action 'train'" in logs[1]
    by_id = api.post(f"plugins/{demo['plugins']['coco-export']}/run/", json={"action": "export"})
    assert by_id.status_code == 201
    assert api.post("plugins/nope/run/", json={}).status_code == 404


def test_a_plugin_configured_to_fail_fails(
    api: Api, demo: dict[str, Any], clock: ManualClock
) -> None:
    job = api.post("plugins/broken-plugin/run/", json={"action": "train"}).json()
    clock.advance(10)
    finished = _job(api, job["id"])
    assert finished["status"] == "FAILED"
    assert "error" in api.get(f"jobs/{job['id']}/console_logs/").json()["logs"][-1]


def test_jobs_list_filters_and_patch(api: Api, demo: dict[str, Any], clock: ManualClock) -> None:
    first = api.post("plugins/yolo-trainer/run/", json={"action": "train"}).json()
    api.post("plugins/coco-export/run/", json={"action": "export"})
    assert api.get("jobs/", params={"plugin": "yolo-trainer"}).json()["count"] == 1
    assert api.get("jobs/", params={"action": "export"}).json()["count"] == 1
    patched = api.patch(f"jobs/{first['id']}/", json={"status": "STOPPED", "meta": {"q": 1}})
    assert patched.json()["status"] == "STOPPED"
    clock.advance(10)  # long enough for a job left to itself to finish
    assert api.get(f"jobs/{first['id']}/").json()["status"] == "STOPPED"
    assert api.get("jobs/", params={"status": "STOPPED"}).json()["count"] == 1
    bad = api.patch(f"jobs/{first['id']}/", json={"status": "DONE"})
    assert bad.status_code == 400


def test_logs(api: Api, demo: dict[str, Any]) -> None:
    one = api.post("logs/", json={"event": "message", "data": {"content": "hi"}, "job": 1})
    assert one.status_code == 201
    assert one.json()["event"] == "message"
    many = api.post("logs/", json=[{"event": "metric", "data": {}}, {"event": "debug", "data": {}}])
    assert len(many.json()) == 2


def test_storages(api: Api, demo: dict[str, Any]) -> None:
    listed = api.get("storages/", params={"category": "internal"}).json()
    assert [s["name"] for s in listed["results"]] == ["Synapse storage", "Documentation storage"]
    assert "configuration" not in listed["results"][0]
    pk = listed["results"][0]["id"]
    full = api.get(f"storages/{pk}/", params={"with_configuration": "true"}).json()
    assert full["configuration"] == {"location": "/data/synapse"}
    created = api.post(
        "storages/",
        json={"name": "S", "category": "external", "provider": "minio", "configuration": {}},
    )
    assert created.status_code == 201
    bad = api.post("storages/", json={"name": "S", "category": "cloud", "provider": "minio"})
    assert bad.status_code == 400
    assert "category" in bad.json()


def _upload(api: Api, data: bytes, chunk: int = 4) -> str:
    url = "chunked_upload/"
    offset = 0
    while offset < len(data):
        part = data[offset : offset + chunk]
        end = offset + len(part) - 1
        response = api.put(
            url,
            files={"file": ("file", part)},
            data={"filename": "m.zip"},
            headers={"Content-Range": f"bytes {offset}-{end}/{len(data)}"},
        )
        assert response.status_code == 200, response.text
        url, offset = response.json()["url"], response.json()["offset"]
    final = api.post(url, json={"md5": hashlib.md5(data).hexdigest()})
    assert final.status_code == 200, final.text
    return str(final.json()["id"])


def test_models(api: Api, demo: dict[str, Any]) -> None:
    upload_id = _upload(api, b"model weights!")
    created = api.post(
        "models/", json={"name": "m2", "plugin": "yolo-trainer", "chunked_upload": upload_id}
    )
    assert created.status_code == 201
    model = created.json()
    assert api.get(model["file"]).content == b"model weights!"
    assert api.post("models/", json={"name": "m2"}).status_code == 400
    assert api.get("models/", params={"name": "m2"}).json()["count"] == 1
    assert (
        api.patch(f"models/{model['id']}/", json={"description": "d"}).json()["description"] == "d"
    )
    assert api.delete(f"models/{model['id']}/").status_code == 204
    assert api.post("models/", json={"name": "m3", "chunked_upload": "nope"}).status_code == 400


def test_data_collections_files_and_units(api: Api, demo: dict[str, Any]) -> None:
    pk = demo["data_collection"]
    plain = api.get(f"data_collections/{pk}/").json()
    assert plain["file_specifications"] == [1, 2]
    expanded = api.get(f"data_collections/{pk}/", params={"expand": "file_specifications"}).json()
    assert [s["name"] for s in expanded["file_specifications"]] == ["image_1", "meta"]
    direct = api.post("data_files/", files={"file": ("a.png", b"new image")})
    assert direct.status_code == 201
    checksum = direct.json()["checksum"]
    assert checksum == hashlib.md5(b"new image").hexdigest()
    via_chunks = api.post("data_files/", json={"chunked_upload": _upload(api, b"chunked file")})
    assert via_chunks.status_code == 201
    verify = api.post("data_files/verify_checksums/", json={"checksums": [checksum, "nope"]})
    assert verify.json() == {"existing_checksums": [checksum]}
    one = api.post(
        "data_units/",
        json={"data_collection": pk, "files": {"image_1": {"checksum": checksum, "path": "a.png"}}},
    )
    assert one.status_code == 201
    assert one.json()["files"]["image_1"]["file_name_original"] == "a.png"
    many = api.post(
        "data_units/",
        json=[
            {"data_collection": pk, "files": {"image_1": {"checksum": checksum}}, "meta": {"i": i}}
            for i in range(3)
        ],
    )
    assert len(many.json()) == 3
    assert api.get(f"data_units/{one.json()['id']}/").json()["meta"] == {}
    unknown_spec = api.post(
        "data_units/", json={"data_collection": pk, "files": {"video": {"checksum": checksum}}}
    )
    assert unknown_spec.status_code == 400
    no_file = api.post(
        "data_units/", json={"data_collection": pk, "files": {"image_1": {"checksum": "0" * 32}}}
    )
    assert no_file.status_code == 400
    assert api.post("data_files/", json={}).status_code == 400


def test_ground_truth(api: Api, demo: dict[str, Any]) -> None:
    version = demo["ground_truth_version"]
    events = api.get(
        "sdk/ground_truth_events/", params={"ground_truth_dataset_versions": version}
    ).json()
    assert events["count"] == 4
    event = events["results"][0]
    assert event["pgh_id"] != event["id"] or event["pgh_id"] == 1
    assert "url" in event["files"]["image_1"]
    train = api.get(
        "sdk/ground_truth_events/",
        params={"category": "train", "ground_truth_dataset_versions": version},
    ).json()
    assert train["count"] == 2
    assert (
        api.get(
            "sdk/ground_truth_events/",
            params={"categories": "test,validation", "ground_truth_dataset_versions": version},
        ).json()["count"]
        == 2
    )
    assert (
        api.get("ground_truths/", params={"ground_truth_dataset_versions": version}).json()["count"]
        == 4
    )
    assert api.get(f"ground_truth_dataset_versions/{version}/").json()["version"] == "v1"
    listed = api.get("ground_truth_dataset_versions/", params={"is_archived": "false"}).json()
    assert listed["count"] == 2  # the demo's and the documentation's version 123


def test_media_supports_range_requests(api: Api, demo: dict[str, Any]) -> None:
    url = api.get("models/").json()["results"][0]["file"]
    whole = api.session.__class__().get(url)  # no credentials needed for media
    assert whole.status_code == 200
    part = api.get(url, headers={"Range": "bytes=4-"})
    assert part.status_code == 206
    assert part.content == whole.content[4:]
    assert api.get(url.rsplit("/", 1)[0] + "/../../etc").status_code == 404


def test_a_choice_filter_refuses_a_value_it_does_not_offer(api: Api, demo: dict[str, Any]) -> None:
    answer = api.get("sdk/tasks/", params={"status_label": "done"})
    assert answer.status_code == 400
    assert "status_label" in answer.json()
    completed = api.get("sdk/tasks/", params={"status_label": "completed"}).json()
    assert completed["count"] == 3  # the demo's first three tasks are labeled


def test_a_one_shot_fault_keyed_by_a_query_takes_only_that_page(
    api: Api, demo: dict[str, Any]
) -> None:
    api.backend.set_faults(once={"/sdk/tasks/?page=2": 404})
    query = {"project": demo["project"], "page_size": 2}
    assert api.get("sdk/tasks/", params={**query, "page": 1}).status_code == 200
    assert api.get("sdk/tasks/", params={**query, "page": 3}).status_code == 200
    assert api.get("sdk/tasks/", params={**query, "page": 2}).status_code == 404  # this one
    assert api.get("sdk/tasks/", params={**query, "page": 2}).status_code == 200  # once
