"""Training data over real HTTP against the local backend: exports read back by
third-party readers (pycocotools, globox), images byte-identical to the server's, the
media cache, the report of what a format cannot hold, and predictions imported back."""

from __future__ import annotations

import hashlib
import json
import math
import shutil
from pathlib import Path
from typing import Any

import pytest

from synapse import Client
from synapse.annotations import Box, Document, Mask, Polygon
from synapse.errors import InvalidInputError
from synapse.local import LocalBackend
from synapse.local.seed import seed_training
from synapse.training import Split


@pytest.fixture
def training(synapse_backend: LocalBackend) -> dict[str, Any]:
    return seed_training(synapse_backend.backend, tasks=6)


def source(client: Client, project: int) -> dict[tuple[int, str], Any]:
    """(task, media) -> (Document, its annotations of that media), from the server."""
    out: dict[tuple[int, str], Any] = {}
    for task in client.tasks.filter(project=project).values():
        doc = Document.from_v1(task["data"])
        for media, records in doc.annotations.items():
            out[task["id"], media] = (doc, records)
    return out


def box_extent(box: Box, width: int, height: int) -> tuple[float, float, float, float]:
    x0, y0 = max(box.x, 0), max(box.y, 0)
    return x0, y0, min(box.x + box.width, width) - x0, min(box.y + box.height, height) - y0


def test_coco_export_loads_in_pycocotools_with_the_source_boxes_areas_and_masks(
    synapse_client: Client, training: dict[str, Any], tmp_path: Path
) -> None:
    from pycocotools import mask as mask_utils
    from pycocotools.coco import COCO

    qs = synapse_client.tasks.filter(project=training["project"])
    report = qs.export("coco", tmp_path / "coco", cache=tmp_path / "cache")
    coco = COCO(str(tmp_path / "coco" / "annotations" / "instances_all.json"))
    truth = source(synapse_client, training["project"])
    assert len(coco.getImgIds()) == 12  # every image of every two-image data unit
    names = [c["name"] for c in coco.loadCats(coco.getCatIds())]
    # configured object classes in configured order, then the pose class seen in the data
    assert names == ["car", "truck", "pedestrian", "road", "bicycle", "person"]
    checked = 0
    for image in coco.loadImgs(coco.getImgIds()):
        _, annotations = truth[image["synapse_task"], image["synapse_media"]]
        by_id = {a.id: a for a in annotations}
        for ann in coco.loadAnns(coco.getAnnIds(imgIds=image["id"])):
            src = by_id[ann["source_id"]]
            assert coco.loadCats(ann["category_id"])[0]["name"] == src.label
            g = src.geometry
            if isinstance(g, Box) and not g.rotated:
                expected = box_extent(g, image["width"], image["height"])
                assert ann["bbox"] == pytest.approx(list(expected), abs=1e-9)
                assert ann["area"] == pytest.approx(expected[2] * expected[3])
            elif isinstance(g, Box):  # rotated: the polygon of its corners, same area
                assert ann["area"] == pytest.approx(g.width * g.height)
                assert mask_utils.area(coco.annToRLE(ann)) > 0
            elif isinstance(g, Polygon):
                xs = [p.x for p in g.points]
                assert ann["bbox"][0] == min(xs)
                assert ann["bbox"][2] == max(xs) - min(xs)
            elif isinstance(g, Mask):
                mask = coco.annToMask(ann)
                assert int(mask.sum()) == ann["area"] == len(g.pixels())
                flat = sorted(int(i) for i in mask.reshape(-1).nonzero()[0])
                assert flat == g.pixels()  # the very pixels, row-major
            checked += 1
    assert checked + 6 == report.annotations["all"] == 42  # and 6 poses
    poses = COCO(str(tmp_path / "coco" / "annotations" / "person_keypoints_all.json"))
    assert len(poses.getAnnIds()) == 6
    pose = poses.loadAnns(poses.getAnnIds())[0]
    assert pose["num_keypoints"] == 4
    assert poses.loadCats(pose["category_id"])[0]["keypoints"][0] == "nose"


def test_images_on_disk_are_byte_identical_to_the_servers(
    synapse_client: Client, training: dict[str, Any], tmp_path: Path
) -> None:
    qs = synapse_client.tasks.filter(project=training["project"])
    qs.export("yolo", tmp_path / "out", cache=tmp_path / "cache")
    for task in qs.expand("data_unit").values():
        for media, entry in task["data_unit"]["files"].items():
            served = synapse_client.transport.send("GET", entry["url"]).content
            exported = tmp_path / "out" / "images" / "all" / f"{task['id']}_{media}.png"
            assert exported.read_bytes() == served
            assert served.startswith(b"\x89PNG")
            assert hashlib.md5(served).hexdigest() == entry["checksum"]


def test_yolo_and_voc_read_back_by_globox_match_the_boxes(
    synapse_client: Client, training: dict[str, Any], tmp_path: Path
) -> None:
    import globox

    qs = synapse_client.tasks.filter(project=training["project"])
    qs.export("yolo", tmp_path / "yolo", cache=tmp_path / "cache")
    qs.export("voc", tmp_path / "voc", cache=tmp_path / "cache")
    truth = source(synapse_client, training["project"])
    names = [
        line.split(": ", 1)[1].strip('"')
        for line in (tmp_path / "yolo" / "data.yaml").read_text().splitlines()
        if line.startswith("  ")
    ]
    yolo = globox.AnnotationSet.from_yolo_v5(
        folder=tmp_path / "yolo" / "labels" / "all",
        image_folder=tmp_path / "yolo" / "images" / "all",
        image_extension=".png",
    ).map_labels({str(i): n for i, n in enumerate(names)})
    voc = globox.AnnotationSet.from_pascal_voc(folder=tmp_path / "voc" / "Annotations")
    for read, rotated_kept in ((yolo, True), (voc, False)):
        compared = 0
        for annotation in read:
            task, media = annotation.image_id.rsplit(".", 1)[0].split("_", 1)
            _, source_annotations = truth[int(task), media]
            boxes = [a for a in source_annotations if isinstance(a.geometry, Box)]
            expected = []
            for a in boxes:
                assert isinstance(a.geometry, Box)
                if a.geometry.rotated and not rotated_kept:
                    continue
                corners = (
                    a.geometry.corners()
                    if a.geometry.rotated
                    else [
                        (a.geometry.x, a.geometry.y),
                        (a.geometry.x + a.geometry.width, a.geometry.y + a.geometry.height),
                    ]
                )
                w, h = annotation.image_size or (64, 48)
                x0 = max(min(c[0] for c in corners), 0)
                y0 = max(min(c[1] for c in corners), 0)
                x1 = min(max(c[0] for c in corners), w)
                y1 = min(max(c[1] for c in corners), h)
                expected.append((a.label, (x0, y0, x1, y1)))
            got = [(b.label, b.ltrb) for b in annotation.boxes]
            assert len(got) == len(expected)
            for (label, ltrb), (want_label, want) in zip(
                sorted(got), sorted(expected), strict=True
            ):
                assert label == want_label
                assert all(
                    math.isclose(a, b, abs_tol=1e-6) for a, b in zip(ltrb, want, strict=True)
                )
                compared += 1
        assert compared >= 12


def test_nothing_is_dropped_silently_the_report_lists_it(
    synapse_client: Client, training: dict[str, Any], tmp_path: Path
) -> None:
    qs = synapse_client.tasks.filter(project=training["project"])
    report = qs.export("voc", tmp_path / "voc", media=False)
    total = sum(len(anns) for _, anns in source(synapse_client, training["project"]).values())
    skipped = report.skipped
    # every annotation is written (axis-aligned boxes) or listed as skipped
    assert report.annotations["all"] + len({n.annotation for n in skipped if n.annotation}) == total
    assert {n.reason for n in skipped} >= {"UNSUPPORTED_ROTATION", "UNSUPPORTED_TOOL"}
    assert report.counts()["skipped:UNSUPPORTED_RELATION"] == 6  # top-level relations
    written = json.loads((tmp_path / "voc" / "export_report.json").read_text())
    assert len(written["notes"]) == len(report.notes)
    assert written["counts"] == report.counts()
    assert (tmp_path / "voc" / "export_report.csv").read_text().count("\n") == len(report.notes) + 1
    assert not list((tmp_path / "voc").glob("JPEGImages/*"))  # media=False: labels only


def test_the_second_export_is_served_from_the_cache(
    synapse_client: Client,
    synapse_backend: LocalBackend,
    training: dict[str, Any],
    tmp_path: Path,
) -> None:
    qs = synapse_client.tasks.filter(project=training["project"])
    first = qs.export("coco", tmp_path / "a", cache=tmp_path / "cache")
    assert (first.downloaded, first.cached) == (12, 0)
    synapse_backend.clear_requests()
    second = qs.export("coco", tmp_path / "b", cache=tmp_path / "cache")
    assert (second.downloaded, second.cached) == (0, 12)
    assert [r for r in synapse_backend.requests if r.path.startswith("/media/")] == []
    for image in (tmp_path / "a" / "images" / "all").iterdir():
        assert (tmp_path / "b" / "images" / "all" / image.name).read_bytes() == image.read_bytes()
    cached = next(p for p in (tmp_path / "cache").rglob("*") if p.is_file())
    cached.write_bytes(b"corrupted")  # a cache entry is its checksum; a third export...
    assert hashlib.md5(cached.read_bytes()).hexdigest() != cached.name


def test_a_corrupt_download_is_refused_and_reported(
    synapse_client: Client,
    synapse_backend: LocalBackend,
    training: dict[str, Any],
    tmp_path: Path,
) -> None:
    for path in (synapse_backend.backend.files_dir / "media").rglob("scene_00000_image_1.png"):
        path.write_bytes(b"not the bytes the checksum names")
    qs = synapse_client.tasks.filter(project=training["project"])
    report = qs.export("yolo", tmp_path / "out", cache=tmp_path / "cache")
    assert report.images["all"] == 11
    assert [
        n.reason
        for n in report.notes
        if n.media == "image_1" and n.kind == "skipped" and n.reason.startswith("MEDIA")
    ] == ["MEDIA_UNAVAILABLE"]
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.stat().st_size < 40]


def test_splits_by_ratio_and_by_filter_are_disjoint_and_cover_the_query(
    synapse_client: Client, training: dict[str, Any], tmp_path: Path
) -> None:
    qs = synapse_client.tasks.filter(project=training["project"])
    ids = sorted(qs.values_list("id", flat=True))
    report = qs.export(
        "yolo", tmp_path / "r", split=Split.ratios(train=0.5, val=0.5, seed=3), media=False
    )
    listed = {s: (tmp_path / "r" / "labels" / s) for s in ("train", "val")}
    tasks = {s: {int(p.name.split("_")[0]) for p in d.glob("*.txt")} for s, d in listed.items()}
    assert tasks["train"].isdisjoint(tasks["val"])
    assert sorted(tasks["train"] | tasks["val"]) == ids
    assert sum(report.images.values()) == 12
    report = qs.export(
        "coco",
        tmp_path / "f",
        media=False,
        split={"train": {"id__lte": ids[2]}, "val": {"id__gte": ids[2]}},
    )
    assert report.images == {"train": 6, "val": 6}
    assert [n.task for n in report.notes if n.reason == "IN_TWO_SPLITS"] == [ids[2]]
    data = (tmp_path / "f" / "annotations" / "instances_val.json").read_text()
    assert {i["synapse_task"] for i in json.loads(data)["images"]} == set(ids[3:])


def test_bad_arguments_fail_before_any_request(
    synapse_client: Client,
    synapse_backend: LocalBackend,
    training: dict[str, Any],
    tmp_path: Path,
) -> None:
    qs = synapse_client.tasks.filter(project=training["project"])
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="unknown export format"):
        qs.export("darknet", tmp_path / "x")
    with pytest.raises(InvalidInputError, match="ratio"):
        qs.export("coco", tmp_path / "x", split={"train": -1})
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInputError, match="new or empty"):
        qs.export("coco", tmp_path / "full")
    project = synapse_client.projects.get(training["project"])
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="never submitted"):
        project.import_annotations(tmp_path, "coco", as_predictions=True, action="submit")
    assert synapse_backend.requests == []


def test_predictions_come_back_as_pre_annotations_and_spare_submitted_tasks(
    synapse_client: Client,
    synapse_backend: LocalBackend,
    training: dict[str, Any],
    tmp_path: Path,
) -> None:
    qs = synapse_client.tasks.filter(project=training["project"])
    qs.export("yolo", tmp_path / "pred", media=False)
    project = synapse_client.projects.get(training["project"])
    synapse_backend.clear_requests()
    dry = project.import_annotations(tmp_path / "pred", "yolo", as_predictions=True, dry_run=True)
    assert [r for r in synapse_backend.requests if r.method == "PUT"] == []
    assert dry.by_status() == {"would_write": 10, "submitted": 2}
    before = {t["id"]: t["data"] for t in qs.values()}
    report = project.import_annotations(tmp_path / "pred", "yolo", as_predictions=True)
    assert report.by_status() == {"written": 10, "submitted": 2}
    puts = [r for r in synapse_backend.requests if r.method == "PUT"]
    assert len(puts) == 5  # one per task, both images in one write
    after = {t["id"]: t for t in qs.values()}
    submitted = next(i.task for i in report.items if i.status == "submitted")
    assert after[submitted]["data"] == before[submitted]  # untouched
    written = next(i for i in report.items if i.status == "written" and i.media == "image_2")
    doc = Document.from_v1(after[written.task]["data"])
    (box,) = [a for a in doc.annotations["image_2"] if a.tool == "bounding_box"]
    assert box.label == "pedestrian"
    assert box.meta["isValid"] is False  # a prediction, to be reviewed
    assert isinstance(box.geometry, Box)
    assert (box.geometry.x, box.geometry.y) == pytest.approx((2.5, 3.25), abs=1e-6)
    assert (box.geometry.width, box.geometry.height) == pytest.approx((10, 14.5), abs=1e-6)
    # image_1's polygon, mask, keypoints... were replaced by what YOLO detect holds
    assert {a.tool for a in doc.annotations["image_1"]} == {"bounding_box"}
    assert after[written.task]["status_label"] == "in_progress"  # saved, not submitted
    forced = project.import_annotations(
        tmp_path / "pred", "yolo", overwrite_submitted=True, action="submit"
    )
    assert forced.by_status() == {"written": 12}


def test_a_models_yolo_output_without_data_yaml_takes_the_class_names_given(
    synapse_client: Client,
    synapse_backend: LocalBackend,
    training: dict[str, Any],
    tmp_path: Path,
) -> None:
    """A model's ``runs/predict`` has labels and no ``data.yaml``: ``classes=`` names
    its class ids (the export's data.yaml, or the names in order); without it, the
    error says what to pass, before anything is sent."""
    qs = synapse_client.tasks.filter(project=training["project"])
    qs.export("yolo", tmp_path / "dataset", media=False)
    predict = tmp_path / "runs" / "predict"
    shutil.copytree(tmp_path / "dataset" / "labels", predict / "labels")
    names = [json.loads(line.split(":", 1)[1])  # (the export writes each name quoted)
             for line in (tmp_path / "dataset" / "data.yaml").read_text().splitlines()
             if line.startswith("  ") and ":" in line]  # fmt: skip
    assert "pedestrian" in names
    project = synapse_client.projects.get(training["project"])
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="pass classes="):
        project.import_annotations(predict, "yolo", as_predictions=True)
    assert synapse_backend.requests == []
    for classes in (tmp_path / "dataset" / "data.yaml", names):
        dry = project.import_annotations(
            predict, "yolo", as_predictions=True, dry_run=True, classes=classes
        )
        assert dry.by_status() == {"would_write": 10, "submitted": 2}
    report = project.import_annotations(
        predict, "yolo", as_predictions=True, classes=tmp_path / "dataset" / "data.yaml"
    )
    assert report.by_status() == {"written": 10, "submitted": 2}
    written = next(i for i in report.items if i.status == "written" and i.media == "image_2")
    doc = Document.from_v1(synapse_client.tasks.get(written.task).data)  # type: ignore[arg-type]
    assert [a.label for a in doc.annotations["image_2"] if a.tool == "bounding_box"] == [
        "pedestrian"
    ]
    with pytest.raises(InvalidInputError, match="classes are names by class id"):
        project.import_annotations(predict, "yolo", classes={"0": "car"})
    # a data.yaml as Ultralytics also writes it: a block list, names quoted or not
    block = tmp_path / "block.yaml"
    block.write_text("path: x\nnames:\n" + "".join(f"  - '{n}'\n" for n in names))
    flow = tmp_path / "flow.yaml"
    flow.write_text("names: {" + ", ".join(f"{i}: {n}" for i, n in enumerate(names)) + "}\n")
    for classes in (block, flow):
        dry = project.import_annotations(predict, "yolo", dry_run=True, classes=classes)
        assert dry.by_status() == {"would_write": 10, "submitted": 2}
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="class id 2 has no name"):  # never 'class_2'
        project.import_annotations(predict, "yolo", classes=names[:2])
    assert [r for r in synapse_backend.requests if r.method == "PUT"] == []


def test_unmatched_files_and_invalid_geometry_are_reported(
    synapse_client: Client,
    synapse_backend: LocalBackend,
    training: dict[str, Any],
    tmp_path: Path,
) -> None:
    folder = tmp_path / "voc" / "Annotations"
    folder.mkdir(parents=True)
    ids = sorted(
        synapse_client.tasks.filter(project=training["project"]).values_list("id", flat=True)
    )
    box = (
        "<object><name>car</name><bndbox><xmin>{}</xmin><ymin>1</ymin>"
        "<xmax>{}</xmax><ymax>9</ymax></bndbox></object>"
    )
    (folder / "a.xml").write_text(
        f"<annotation><filename>{ids[0]}_image_1.png</filename>"
        f"{box.format(1, 9)}{box.format(9, 9)}</annotation>"
    )
    (folder / "b.xml").write_text("<annotation><filename>elsewhere.jpg</filename></annotation>")
    (folder / "c.xml").write_text(
        f"<annotation><filename>scene_00001_image_2.png</filename>{box.format(5, 2)}</annotation>"
    )
    project = synapse_client.projects.get(training["project"])
    report = project.import_annotations(tmp_path / "voc", "voc")
    status = {Path(i.file).name: i for i in report.items}
    assert status["elsewhere.jpg"].status == "unmatched"
    assert status[f"{ids[0]}_image_1.png"].status == "written"
    assert status[f"{ids[0]}_image_1.png"].annotations == 1
    assert len(status[f"{ids[0]}_image_1.png"].invalid) == 1  # the zero-width box
    assert status["scene_00001_image_2.png"].status == "invalid"  # matched by original name
    assert status["scene_00001_image_2.png"].task == ids[1]


def test_a_ground_truth_version_exports_with_its_categories_as_splits(
    synapse_client: Client, training: dict[str, Any], tmp_path: Path
) -> None:
    events = synapse_client.ground_truth_events.filter(
        ground_truth_dataset_versions=[training["ground_truth_version"]]
    )
    project = synapse_client.projects.get(training["project"])
    report = events.export(
        "yolo",
        tmp_path / "gt",
        split="category",
        classes=project.configuration,
        cache=tmp_path / "cache",
    )
    assert report.images == {"train": 4, "validation": 2, "test": 2}
    yaml = (tmp_path / "gt" / "data.yaml").read_text().splitlines()
    assert yaml[0:3] == ["train: images/train", "val: images/validation", "test: images/test"]
    assert yaml[4:8] == ["names:", '  0: "car"', '  1: "truck"', '  2: "pedestrian"']
    labels = sorted(p.name for p in (tmp_path / "gt" / "labels" / "validation").iterdir())
    event = next(e for e in events.values() if e["category"] == "validation")
    assert labels == [f"{event['id']}_image_1.txt", f"{event['id']}_image_2.txt"]
    with pytest.raises(InvalidInputError, match="classes"):
        events.export("yolo", tmp_path / "x", classes="car")
    assert not (tmp_path / "x").exists()


def test_the_report_keeps_a_bounded_list_and_writes_every_note(
    synapse_client: Client,
    training: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from synapse.training import report as report_module

    monkeypatch.setattr(report_module, "KEEP_NOTES", 5)
    qs = synapse_client.tasks.filter(project=training["project"])
    report = qs.export("yolo", tmp_path / "out", media=False)
    assert len(report.notes) == 5
    assert report.notes_total == sum(report.counts().values()) > 60
    lines = (tmp_path / "out" / "export_report.csv").read_text().splitlines()
    assert len(lines) == report.notes_total + 1
    written = json.loads((tmp_path / "out" / "export_report.json").read_text())
    assert written["notes_total"] == report.notes_total


def tree(root: Path) -> dict[str, bytes]:
    """Every file of an export but its report (whose download counts differ)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.name.startswith("export_report")}  # fmt: skip


@pytest.mark.parametrize("fmt", ["coco", "yolo-pose", "voc", "imagefolder"])
def test_a_sharded_export_writes_the_same_bytes_as_a_single_process(
    synapse_client: Client, training: dict[str, Any], tmp_path: Path, fmt: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    qs = synapse_client.tasks.filter(project=training["project"]).page_size(2)
    split = Split.ratios(train=0.6, val=0.4, seed=1)
    single = qs.export(fmt, tmp_path / "one", split=split, cache=tmp_path / "cache")
    with ThreadPoolExecutor(3) as pool:
        sharded = qs.export(fmt, tmp_path / "many", split=split, cache=tmp_path / "cache",
                             executor=pool, partitions=3)  # fmt: skip
    assert tree(tmp_path / "many") == tree(tmp_path / "one")
    assert len(tree(tmp_path / "one")) >= 12  # the images at least
    assert (sharded.images, sharded.annotations) == (single.images, single.annotations)
    assert sharded.counts() == single.counts()
    assert sharded.notes == single.notes
    assert sharded.classes == single.classes


def test_a_sharded_export_on_a_dask_cluster(
    synapse_client: Client, training: dict[str, Any], tmp_path: Path
) -> None:
    distributed = pytest.importorskip("distributed")
    qs = synapse_client.tasks.filter(project=training["project"]).page_size(2)
    single = qs.export("coco", tmp_path / "one", media=False)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as dask_client,
    ):
        sharded = qs.export("coco", tmp_path / "dask", media=False, executor=dask_client)
        with pytest.raises(InvalidInputError, match="not filters"):
            qs.export("coco", tmp_path / "x", split={"a": {"id__lt": 5}}, executor=dask_client)
    assert tree(tmp_path / "dask") == tree(tmp_path / "one")
    assert sharded.counts() == single.counts()
    with pytest.raises(InvalidInputError, match="executor must be"):
        qs.export("coco", tmp_path / "x", executor=object())


def test_an_empty_query_makes_an_empty_dataset_that_readers_load(
    synapse_client: Client, training: dict[str, Any], tmp_path: Path
) -> None:
    from pycocotools.coco import COCO

    qs = synapse_client.tasks.filter(project=training["project"]).none()
    report = qs.export("coco", tmp_path / "empty")
    coco = COCO(str(tmp_path / "empty" / "annotations" / "instances_all.json"))
    assert (coco.getImgIds(), coco.getAnnIds(), report.tasks) == ([], [], 0)
    assert report.notes == []
