"""The original BackendClient's usage, table-driven, against the local backend.

Each row is written as a user of the older package writes it; only the import line
changed (``from synapse import BackendClient, ClientError``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse import BackendClient, ClientError, StorageProvider
from synapse.local import LocalBackend
from synapse.local.seed import DEMO_AGENT_TOKEN
from synapse.results import ListResult


@pytest.fixture
def client(synapse_backend: LocalBackend, demo: dict[str, Any]) -> Iterator[BackendClient]:
    with BackendClient(
        synapse_backend.url,
        access_token=synapse_backend.token,
        timeout={"connect": 5, "read": 15},
    ) as backend_client:
        yield backend_client


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    image = tmp_path / "frame.png"
    image.write_bytes(b"PNG seed example")
    archive = tmp_path / "plugin.zip"
    archive.write_bytes(b"PK seed archive")
    model = tmp_path / "model.zip"
    model.write_bytes(b"weights" * 1000)
    return {"image": image, "archive": archive, "model": model}


Example = Callable[[BackendClient, dict[str, Path]], Any]
Check = Callable[[Any], bool]


def _error(call: Callable[[], Any]) -> ClientError:
    try:
        call()
    except ClientError as e:
        return e
    raise AssertionError("no error")


EXAMPLES: list[tuple[str, Example, Check]] = [
    ("get_project", lambda c, f: c.get_project(1), lambda r: r["title"] == "Street scene labeling"),
    ("get_task expanded", lambda c, f: c.get_task(1, params={"expand": "data_unit"}),
     lambda r: set(r["data_unit"]["files"]) == {"image_1", "meta"}),
    ("get_task fields", lambda c, f: c.get_task(1, params={"fields": "id,data_unit"}),
     lambda r: set(r) == {"id", "data_unit"}),
    ("annotate_task_data",
     lambda c, f: c.annotate_task_data(1, {"action": "submit", "data": {"boxes": [1]}}),
     lambda r: r["data"] == {"boxes": [1]}),
    ("list_tasks one page", lambda c, f: c.list_tasks(params={"project": 1}),
     lambda r: r["count"] == 12 and len(r["results"]) == 12 and r["next"] is None),
    ("list_tasks list_all",
     lambda c, f: c.list_tasks(params={"project": 1, "page_size": 5}, list_all=True),
     lambda r: isinstance(r[0], ListResult) and r[1] == len(r[0]) == 12
     and [t["id"] for t in r[0]] == list(range(1, 13))),
    ("create_tasks seed list",
     lambda c, f: c.create_tasks([{"project": 1, "data_unit": 2}, {"project": 1, "data_unit": 3}]),
     lambda r: [t["data_unit"] for t in r] == [2, 3]),
    ("set_tags_tasks seed shape",
     lambda c, f: (c.set_tags_tasks({"task_ids": [1, 2], "tag_ids": [2]}), c.get_task(2))[1],
     lambda r: 2 in r["tags"]),
    ("create_chunked_upload", lambda c, f: c.create_chunked_upload(f["model"]),
     lambda r: r["size"] == 7000 and r["status"] == 2),
    ("list_data_collection", lambda c, f: c.list_data_collection(),
     lambda r: r["results"][0]["name"] == "Street scenes"),
    ("get_data_collection", lambda c, f: c.get_data_collection(1),
     lambda r: [s["name"] for s in r["file_specifications"]] == ["image_1", "meta"]),
    ("create_data_file", lambda c, f: c.create_data_file(f["image"]),
     lambda r: r["id"] > 0 and len(r["checksum"]) == 32),
    ("upload_data_file then create_data_units",
     lambda c, f: c.create_data_units(
         [c.upload_data_file({"files": {"image_1": f["image"]}, "meta": {"k": 1}}, 1)]),
     lambda r: r[0]["meta"] == {"k": 1} and "image_1" in r[0]["files"]),
    ("get_assignment", lambda c, f: c.get_assignment(1), lambda r: r["task"] == 1),
    ("list_assignments", lambda c, f: c.list_assignments(params={"project": 1}),
     lambda r: r["count"] == 6),
    ("set_tags_assignments",
     lambda c, f: (c.set_tags_assignments({"assignment_ids": [1], "tag_ids": [9]}),
                   c.get_assignment(1))[1],
     lambda r: 9 in r["tags"]),
    ("health_check_agent", lambda c, f: c.health_check_agent(DEMO_AGENT_TOKEN),
     lambda r: r["status"] == "connected"),
    ("get_plugin", lambda c, f: c.get_plugin(1), lambda r: r["code"] == "yolo-trainer"),
    ("create_plugin then update_plugin",
     lambda c, f: c.update_plugin(c.create_plugin({"code": "seg", "name": "Seg",
                                                   "category": "neural_net"})["id"],
                                  {"code": "seg", "name": "Segmenter"}),
     lambda r: r["name"] == "Segmenter"),
    ("run_plugin by code",
     lambda c, f: c.run_plugin("yolo-trainer", {"action": "train", "params": {"epochs": 1}}),
     lambda r: r["status"] == "PENDING" and r["params"] == {"epochs": 1}),
    ("run_plugin by id", lambda c, f: c.run_plugin(2, {"action": "export"}),
     lambda r: r["action"] == "export"),
    ("create_plugin_release with a file in data",
     lambda c, f: c.create_plugin_release({"plugin": "coco-export", "version": "9.0.0",
                                           "file": str(f["archive"])}),
     lambda r: r["version"] == "9.0.0" and r["file"].endswith("plugin.zip")),
    ("get_plugin_release by code@version", lambda c, f: c.get_plugin_release("yolo-trainer@1.1.0"),
     lambda r: r["version"] == "1.1.0"),
    ("list_jobs", lambda c, f: (c.run_plugin(1, {"action": "train"}),
                                c.list_jobs({"plugin": "yolo-trainer"}))[1],
     lambda r: r["count"] == 1),
    ("get_job then update_job",
     lambda c, f: c.update_job(c.run_plugin(1, {"action": "train"})["id"],
                               {"status": "SUCCEEDED"}),
     lambda r: r["status"] == "SUCCEEDED"),
    ("list_job_console_logs",
     lambda c, f: c.list_job_console_logs(c.run_plugin(1, {"action": "train"})["id"]),
     lambda r: "job queued" in r["logs"][0]),
    ("list_storages", lambda c, f: c.list_storages(params={"category": "external"}),
     lambda r: r["count"] == 1),
    ("get_storage", lambda c, f: c.get_storage(1),
     lambda r: r["configuration"] == {"location": "/data/synapse"}),
    ("create_storage with a StorageProvider",
     lambda c, f: c.create_storage({"name": "b", "category": "external",
                                    "provider": StorageProvider.AMAZON_S3,
                                    "configuration": {"bucket_name": "b"}}),
     lambda r: r["provider"] == "amazon_s3"),
    ("create_storage with a string", lambda c, f: c.create_storage(
        {"name": "c", "category": "internal", "provider": "file_system"}),
     lambda r: r["provider"] == "file_system"),
    ("list_models", lambda c, f: c.list_models(), lambda r: r["results"][0]["name"] == "yolo-base"),
    ("get_model downloads nothing", lambda c, f: c.get_model(1),
     lambda r: r["file"].startswith("http")),
    ("get_model with url_conversion",
     lambda c, f: c.get_model(1, url_conversion={"files_fields": ["file"]}),
     lambda r: Path(r["file"]).read_bytes().startswith(b"PK")),
    ("create_model with a file", lambda c, f: c.create_model({"name": "m2", "file": f["model"]}),
     lambda r: r["name"] == "m2" and r["size"] == 7000),
    ("list_ground_truth_events list_all",
     lambda c, f: list(c.list_ground_truth_events(params={"ground_truth_dataset_versions": 1},
                                                  list_all=True)[0]),
     lambda r: len(r) == 4),
    ("get_ground_truth_version", lambda c, f: c.get_ground_truth_version(1),
     lambda r: r["version"] == "v1"),
    ("seed url_conversion on data units",
     lambda c, f: c.list_data_units(params={"data_collection": 1, "page_size": 2},
                                    url_conversion={"files": lambda url: url.upper()}),
     lambda r: r["results"][0]["files"]["image_1"]["url"].startswith("HTTP://")),
    ("ClientError status_code and response", lambda c, f: _error(lambda: c.get_project(999)),
     lambda e: e.status_code == 404 and e.response == {"detail": "Not found."}),
    ("extras", lambda c, f: (c.list_task_tags()["count"], c.get_task_tag(1)["name"],
                             len(c.list_plugin_releases("yolo-trainer")), len(c.list_agents()),
                             c.list_ground_truth_versions()["count"],
                             c.list_ground_truths()["count"],
                             c.get_data_unit(1)["id"], c.list_data_units()["count"],
                             c.verify_data_files_checksums(["x"])["existing_checksums"]),
     lambda r: r == (3, "urgent", 2, 2, 2, 6, 1, 16, [])),
    ("create_logs", lambda c, f: c.create_logs([{"event": "message", "data": {"content": "a"},
                                                  "file": str(f["image"])},
                                                 {"event": "debug", "data": {}}]),
     lambda r: len(r) == 2 and r[0]["file"].startswith("data:image/png;base64,")),
    ("annotate_task_data_batch",
     lambda c, f: c.annotate_task_data_batch([{"task_id": 1, "data": {"action": "save",
                                                                      "data": {"x": 1}}},
                                              {"task_id": 999, "data": {"data": {}}}]),
     lambda r: r[1]["success"] and not r[999]["success"] and "404" in r[999]["error"]),
    ("exists", lambda c, f: (c.exists("list_tasks", {"project": 1}),
                             c.exists("list_tasks", {"project": 99})),
     lambda r: r == (True, False)),
]  # fmt: skip


@pytest.mark.parametrize(("name", "example", "check"), EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_seed_example(
    client: BackendClient, files: dict[str, Path], name: str, example: Example, check: Check
) -> None:
    result = example(client, files)
    assert check(result), result


def test_the_same_client_has_the_object_api(client: BackendClient) -> None:
    assert client.tasks.filter(project=1).count() == client.list_tasks({"project": 1})["count"]
    assert client.get_project(1) == client.projects.get(1)._meta.raw
