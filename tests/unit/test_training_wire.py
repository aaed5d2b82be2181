"""The requests an import and an export send, pinned with ``responses``: one
``annotate_task_data`` PUT per task with ``{"action", "data"}``, nothing for a dry run,
and the media's bytes checked against their checksum."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from synapse import Client
from synapse.errors import InvalidInputError
from synapse.http import CREDENTIAL_HEADERS
from tests.conftest import BASE

PROJECT = {"id": 7, "title": "p", "configuration": {"classes": [{"code": "car"}]}}
IMAGE = b"\x89PNG not really, but bytes"
UNIT = {"id": 3, "files": {"image_1": {
    "url": "https://files.synapse.test/a.png", "checksum": hashlib.md5(IMAGE).hexdigest(),
    "file_name_original": "street.png", "meta": {"width": 100, "height": 50}}}}  # fmt: skip
TASK = {"id": 11, "project": 7, "data_unit": UNIT, "status": "in_progress",
        "data": {"annotations": {}, "annotationsData": {}, "assignmentId": 4}}  # fmt: skip


def tasks_page() -> None:
    responses.get(f"{BASE}/projects/7/", json=PROJECT)
    responses.get(
        f"{BASE}/sdk/tasks/",
        json={"count": 1, "next": None, "previous": None, "results": [TASK]},
    )


@responses.activate
def test_an_import_sends_one_annotate_task_data_per_task(client: Client, tmp_path: Path) -> None:
    tasks_page()
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "street.txt").write_text("0 0.5 0.5 0.2 0.4 0.9\n")
    (tmp_path / "data.yaml").write_text("names:\n  0: car\n")
    sent: list[dict[str, object]] = []

    def body(request: object) -> tuple[bool, str]:
        sent.append(json.loads(request.body))  # type: ignore[attr-defined]
        return True, ""

    responses.put(f"{BASE}/tasks/11/annotate_task_data/", json=TASK, match=[body])
    project = client.projects.get(7)
    report = project.import_annotations(tmp_path, "yolo", as_predictions=True)
    assert report.by_status() == {"written": 1}
    (put,) = sent
    assert put["action"] == "save"
    data = put["data"]
    assert isinstance(data, dict)
    assert data["assignmentId"] == 4  # the task's other fields are kept
    (meta,) = data["annotations"]["image_1"]
    (record,) = data["annotationsData"]["image_1"]
    assert meta["tool"] == "bounding_box"
    assert meta["classification"] == {"class": "car", "score": 0.9}
    assert meta["isValid"] is False
    assert record["id"] == meta["id"]
    assert record["coordinate"] == pytest.approx({"x": 40, "y": 15, "width": 20, "height": 20})
    assert data["extra"] == {"image_1": {"width": 100, "height": 50}}
    query = responses.calls[1].request.url
    assert "expand=data_unit" in query
    assert "project=7" in query
    asked = parse_qs(urlsplit(query).query)
    assert "data_unit" in asked["fields"]
    assert "data" not in asked["fields"]  # the index reads files, not annotations
    then = parse_qs(urlsplit(responses.calls[2].request.url).query)
    assert (then["fields"], then["ids"]) == (["id", "data"], ["11"])  # matched tasks' data


@responses.activate
def test_a_dry_run_sends_no_write(client: Client, tmp_path: Path) -> None:
    tasks_page()
    (tmp_path / "a.xml").write_text(
        "<annotation><filename>11_image_1.png</filename><object><name>car</name><bndbox>"
        "<xmin>1</xmin><ymin>2</ymin><xmax>3.5</xmax><ymax>4</ymax></bndbox></object></annotation>"
    )
    report = client.projects.get(7).import_annotations(tmp_path, "voc", dry_run=True)
    assert [(i.status, i.task, i.annotations) for i in report.items] == [("would_write", 11, 1)]
    assert [c.request.method for c in responses.calls] == ["GET", "GET"]


@responses.activate
def test_an_export_checks_the_media_against_its_checksum(client: Client, tmp_path: Path) -> None:
    tasks_page()
    responses.get("https://files.synapse.test/a.png", body=IMAGE)
    report = client.tasks.filter(project=7).export("coco", tmp_path / "ok", cache=tmp_path / "c")
    assert (tmp_path / "ok" / "images" / "all" / "11_image_1.png").read_bytes() == IMAGE
    assert report.downloaded == 1
    media = [c for c in responses.calls if "files.synapse.test" in c.request.url]
    listing = next(c for c in responses.calls if "/sdk/tasks/" in c.request.url)
    assert "Synapse-Access-Token" in listing.request.headers  # the API gets the token...
    sent = {name.lower() for name in media[0].request.headers}
    assert sent.isdisjoint(h.lower() for h in CREDENTIAL_HEADERS)  # no token to another host
    responses.replace(responses.GET, "https://files.synapse.test/a.png", body=b"tampered")
    bad = client.tasks.filter(project=7).export("coco", tmp_path / "bad", cache=tmp_path / "c2")
    assert [n.reason for n in bad.skipped] == ["MEDIA_UNAVAILABLE"]
    assert bad.images == {"all": 0}
    assert not [p for p in (tmp_path / "c2").rglob("*") if p.is_file()]


def test_bad_import_arguments_fail_before_any_request(tmp_path: Path) -> None:
    from synapse.training.importing import import_annotations

    with responses.RequestsMock() as mock:
        with pytest.raises(InvalidInputError, match="unknown import format"):
            import_annotations(object(), tmp_path, "labelme")
        with pytest.raises(InvalidInputError, match="action"):
            import_annotations(object(), tmp_path, "coco", action="publish")
        with pytest.raises(InvalidInputError, match="no such file"):
            import_annotations(object(), tmp_path / "missing", "coco")
        assert len(mock.calls) == 0


@responses.activate
def test_an_image_size_the_server_does_not_send_is_read_from_the_file(
    client: Client, tmp_path: Path
) -> None:
    from synapse.local.seed import png

    image = png(30, 20, 1)
    entry = {**UNIT["files"]["image_1"], "checksum": hashlib.md5(image).hexdigest()}
    del entry["meta"]
    task = {**TASK, "data_unit": {"id": 3, "files": {"image_1": entry}},
            "data": {"annotations": {"image_1": [{"id": "b", "tool": "bounding_box",
                                                  "classification": {"class": "car"}}]},
                     "annotationsData": {"image_1": [{"id": "b", "coordinate": {
                         "x": 3, "y": 4, "width": 6, "height": 8}}]}}}  # fmt: skip
    responses.get(f"{BASE}/projects/7/", json=PROJECT)
    responses.get(f"{BASE}/sdk/tasks/", json={"count": 1, "next": None, "results": [task]})
    responses.get("https://files.synapse.test/a.png", body=image)
    client.tasks.filter(project=7).export("yolo", tmp_path / "out", cache=tmp_path / "c")
    label = (tmp_path / "out" / "labels" / "all" / "11_image_1.txt").read_text().split()
    assert [float(v) for v in label[1:]] == pytest.approx([6 / 30, 8 / 20, 6 / 30, 8 / 20])
