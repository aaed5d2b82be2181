"""Seed data for the local backend: a small realistic world, and big projects."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from synapse.local.kinds import KINDS
from synapse.local.store import now_iso

if TYPE_CHECKING:
    from synapse.local.app import Backend

__all__ = [
    "DEMO_AGENT_TOKEN",
    "DOC_AGENT_TOKEN",
    "seed_demo",
    "seed_documentation",
    "seed_tasks",
    "seed_training",
]

DEMO_AGENT_TOKEN = "5f2b9c0d1e3a4b6c8d7e9f0a1b2c3d4e5f6a7b8c"  # noqa: S105 - demo data
DOC_AGENT_TOKEN = "agent-token-123"  # noqa: S105 - the token the documentation shows
CLASSES = ["car", "pedestrian", "bicycle", "traffic_light"]


def _media(backend: Backend, name: str, data: bytes) -> tuple[str, str]:
    key = f"{uuid.uuid4().hex}/{name}"
    path = backend.files_dir / "media" / key
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return key, hashlib.md5(data).hexdigest()


def seed_demo(backend: Backend) -> dict[str, Any]:
    """A data collection with files, a project with tasks and assignments, plugins with
    releases and jobs' plugins, storages, a model and ground truth. Returns the main ids."""
    b = backend
    collection = b.new(
        "data_collections",
        {
            "name": "Street scenes",
            "category": "image",
            "description": "Dash-cam frames from three cities",
            "file_specifications": [
                {"id": 1, "name": "image_1", "is_required": True, "is_primary": True,
                 "file_type": "image", "extensions": [".png", ".jpg"], "index": 1},
                {"id": 2, "name": "meta", "is_required": False, "is_primary": False,
                 "file_type": "data", "extensions": [".json"], "index": 2},
            ],
        },
    )  # fmt: skip
    project = b.new(
        "projects",
        {
            "title": "Street scene labeling",
            "description": "Boxes around road users",
            "category": "image",
            "data_collection": collection["id"],
            "configuration": {"classes": [{"code": c, "tool": "bounding_box"} for c in CLASSES]},
        },
    )
    urgent = b.new("task_tags", {"project": project["id"], "name": "urgent", "color": "#e5484d"})
    review = b.new("task_tags", {"project": project["id"], "name": "review", "color": "#3e63dd"})
    tasks = []
    for n in range(1, 13):
        image_key, image_md5 = _media(b, f"frame_{n:03d}.png", f"PNG frame {n}".encode() * 8)
        meta = json.dumps({"city": ["Seoul", "Busan", "Daegu"][n % 3], "frame": n}).encode()
        meta_key, meta_md5 = _media(b, f"frame_{n:03d}.json", meta)
        for key, md5, size in ((image_key, image_md5, 8 * len(f"PNG frame {n}")),
                               (meta_key, meta_md5, len(meta))):  # fmt: skip
            b.store.insert(
                KINDS["data_files"],
                {"checksum": md5, "file_key": key, "size": size, "created_at": now_iso(),
                 "updated_at": now_iso()},
            )  # fmt: skip
        unit = b.new(
            "data_units",
            {
                "data_collection": collection["id"],
                "meta": {"frame": n},
                "files": {
                    "image_1": {"checksum": image_md5, "path": f"frames/frame_{n:03d}.png"},
                    "meta": {"checksum": meta_md5, "path": f"frames/frame_{n:03d}.json"},
                },
            },
        )
        task = b.new(
            "tasks",
            {
                "project": project["id"],
                "data_unit": unit["id"],
                "tags": [urgent["id"]] if n % 4 == 0 else [],
                "data": {},
                # the state of its assignment, made below (none past the sixth task)
                "status_label": "completed" if n <= 3 else "in_progress" if n <= 6 else "stand_by",
                "status_review": "in_progress" if n == 1 else "stand_by",
            },
        )
        tasks.append(task)
    for n, task in enumerate(tasks[:6], start=1):
        b.new(
            "assignments",
            {
                "project": project["id"],
                "task": task["id"],
                "user": 1 + n % 2,
                "status_label": "completed" if n <= 3 else "in_progress",
                "status_review": "in_progress" if n == 1 else "stand_by",
                "reviewer": 3 if n <= 3 else None,
                # a day of work each: labeled, submitted when completed, then reviewed
                "last_labeled": f"2026-01-0{n}T09:00:00Z",
                "labeler_last_action_at": f"2026-01-0{n}T09:30:00Z",
                **(
                    {
                        "label_submitted": f"2026-01-0{n}T10:00:00Z",
                        "last_reviewed": f"2026-01-0{n}T15:00:00Z",
                        "reviewer_last_action_at": f"2026-01-0{n}T15:30:00Z",
                    }
                    if n <= 3
                    else {}
                ),
                "is_discarded": n == 6,
                "tags": [review["id"]] if n % 2 else [],
                "data": {"boxes": [{"class": CLASSES[n % 4], "xywh": [10, 20, 30, 40]}]},
            },
        )
    b.store.insert(
        KINDS["agents"],
        {"name": "gpu-node-1", "url": "http://10.0.0.5:8000", "status": "connected",
         "token": DEMO_AGENT_TOKEN, "created": now_iso()},
    )  # fmt: skip
    plugins = {}
    for code, name, category, plugin_meta in (
        ("yolo-trainer", "YOLO trainer", "neural_net", {}),
        ("coco-export", "COCO export", "export", {}),
        ("broken-plugin", "Always fails", "custom", {"fail": True}),
    ):
        plugins[code] = b.new(
            "plugins", {"code": code, "name": name, "category": category, "meta": plugin_meta}
        )
        b.new(
            "plugin_releases",
            {"plugin": plugins[code]["id"], "version": "1.0.0",
             "config": {"code": code, "actions": {"train": {}, "export": {}}}},
        )  # fmt: skip
    b.new(
        "plugin_releases",
        {"plugin": plugins["yolo-trainer"]["id"], "version": "1.1.0",
         "config": {"code": "yolo-trainer", "actions": {"train": {}, "inference": {}}}},
    )  # fmt: skip
    b.new(
        "storages",
        {"name": "Synapse storage", "category": "internal", "provider": "file_system",
         "configuration": {"location": "/data/synapse"}, "is_default": True},
    )  # fmt: skip
    b.new(
        "storages",
        {"name": "Team bucket", "category": "external", "provider": "amazon_s3",
         "configuration": {"bucket_name": "team-data", "region_name": "ap-northeast-2"}},
    )  # fmt: skip
    model_key, _ = _media(b, "yolo-base.zip", b"PK\x03\x04 demo model weights")
    b.new(
        "models",
        {"name": "yolo-base", "plugin": "yolo-trainer", "version": "1.0.0",
         "project": project["id"], "configuration": {"hyperparameter": {"epochs": 50}},
         "file_key": model_key,
         "description": "Base detector"},
    )  # fmt: skip
    dataset = b.new("ground_truth_datasets", {"project": project["id"], "name": "Gold set"})
    version = b.new(
        "ground_truth_dataset_versions",
        {"ground_truth_dataset": dataset["id"], "version": "v1", "description": "first cut"},
    )
    for n, task in enumerate(tasks[:4]):
        category = ("train", "train", "validation", "test")[n]
        truth = b.new(
            "ground_truths",
            {"ground_truth_dataset": dataset["id"], "data_unit": task["data_unit"],
             "ground_truth_dataset_versions": [version["id"]], "category": category,
             "data": {"boxes": []}},
        )  # fmt: skip
        stored = b.store.get(KINDS["data_units"], task["data_unit"])
        b.new(
            "ground_truth_events",
            {"ground_truth": truth["id"], "category": category, "task": task["id"],
             "ground_truth_dataset_versions": [version["id"]], "data_unit": task["data_unit"],
             "data": {"boxes": []}, "files": stored["files"] if stored else {},
             "data_collection": collection["id"]},
        )  # fmt: skip
    seed_documentation(b)
    return {
        "project": project["id"],
        "data_collection": collection["id"],
        "plugins": {code: p["id"] for code, p in plugins.items()},
        "ground_truth_version": version["id"],
    }


def seed_tasks(
    backend: Backend, count: int, *, title: str = "Big project", compact: bool = False
) -> int:
    """A project holding ``count`` tasks (100,000 in seconds); returns its id.

    By default the tasks look like a production backend's pages: each has its data unit
    (expanded by ``sdk/tasks/``) with three files, several annotations, an assignee
    object and a dozen fields the SDK's models do not declare. ``compact=True`` makes
    bare tasks (no data unit, a one-key ``data``).
    """
    project = backend.new("projects", {"title": title, "category": "image"})
    created = now_iso()
    if compact:
        backend.store.insert_many(
            KINDS["tasks"],
            (
                {"project": project["id"], "data_unit": None, "data": {"n": n}, "meta": {},
                 "tags": [], "is_discarded": False, "status_label": "stand_by",
                 "status_review": "stand_by", "created": created}
                for n in range(count)
            ),
        )  # fmt: skip
        return int(project["id"])
    collection = backend.new(
        "data_collections",
        {"name": f"{title} frames", "category": "image",
         "file_specifications": [
             {"id": 21, "name": "image_1", "is_required": True, "is_primary": True,
              "file_type": "image"},
             {"id": 22, "name": "image_2", "is_required": False, "is_primary": False,
              "file_type": "image"},
             {"id": 23, "name": "meta", "is_required": False, "is_primary": False,
              "file_type": "data"},
         ]},
    )  # fmt: skip
    samples = (("image_1", "jpg"), ("image_2", "png"), ("meta", "json"))
    keys = {n: _media(backend, f"sample.{ext}", f"{n} sample".encode())[0] for n, ext in samples}
    first_unit = backend.store.next_id(KINDS["data_units"])
    backend.store.insert_many(
        KINDS["data_units"],
        (_realistic_unit(first_unit + n, n, collection["id"], keys, created) for n in range(count)),
    )
    backend.store.insert_many(
        KINDS["tasks"],
        (_realistic_task(n, project["id"], first_unit + n, created) for n in range(count)),
    )
    return int(project["id"])


def _realistic_unit(
    pk: int, n: int, collection: int, keys: dict[str, str], created: str
) -> dict[str, Any]:
    def entry(name: str, filename: str, primary: bool, kind: str, size: int) -> dict[str, Any]:
        return {"file_key": keys[name], "file_name_original": filename, "is_primary": primary,
                "file_type": kind, "size": size, "checksum": f"{n:032x}",
                "meta": {"width": 1920, "height": 1080} if kind == "image" else {}}  # fmt: skip

    return {
        "id": pk,
        "data_collection": collection,
        "meta": {"frame": n, "camera": ["front", "rear", "left"][n % 3], "city": "Seoul"},
        "files": {
            "image_1": entry("image_1", f"frame_{n:06d}.jpg", True, "image", 412_331),
            "image_2": entry("image_2", f"depth_{n:06d}.png", False, "image", 120_874),
            "meta": entry("meta", f"frame_{n:06d}.json", False, "data", 1_204),
        },
        "created": created,
    }


# A spread of labeling states, as a project in progress has (counts by state differ);
# the values are the protocol's assignment states.
TASK_STATUSES = ("completed",) * 4 + ("in_progress",) * 3 + ("stand_by",) * 2 + ("skipped",)
REVIEW_STATUSES = ("completed", "in_progress", "rejected", "stand_by", "skipped")


def _realistic_task(n: int, project: int, unit: int, created: str) -> dict[str, Any]:
    annotations = [
        {"id": f"a{n}-{k}", "tool": "bounding_box", "classification": {"class": CLASSES[k % 4],
         "occluded": k % 2 == 0, "truncated": False}, "coordinate": {"x": 10 * k, "y": 20 + k,
         "width": 64, "height": 48}, "confidence": 0.9 - k / 100, "track_id": k}
        for k in range(5)
    ]  # fmt: skip
    return {
        "project": project, "data_unit": unit, "is_discarded": False, "schema": "dm_schema_v1",
        "data": {"annotations": annotations, "relations": [], "version": 3},
        "meta": {"source": "import", "batch": n // 1000}, "tags": [], "created": created,
        "status_label": TASK_STATUSES[n * 3 % 10],
        "status_review": REVIEW_STATUSES[n % 5] if TASK_STATUSES[n * 3 % 10] == "completed"
        else "stand_by",
        "workshop": None, "count_assignments": 1,
        "assignee": {"id": 7 + n % 20, "username": f"labeler{n % 20}",
                     "email": f"labeler{n % 20}@example.com", "is_active": True},
        "reviewer": {"id": 3, "username": "reviewer3"},
        "priority": n % 5, "review_state": "pending", "last_activity_at": created,
        "time_spent_seconds": 37 + n % 300, "ai_confidence": 0.87, "source": "upload",
        "batch": f"batch-{n // 1000:04d}", "language": "en", "is_locked": False,
        "comment_count": n % 3, "external_id": f"ext-{n:08d}",
    }  # fmt: skip


def _data_file(backend: Backend, name: str, data: bytes) -> str:
    key, md5 = _media(backend, name, data)
    backend.store.insert(
        KINDS["data_files"],
        {"checksum": md5, "file_key": key, "size": len(data), "created_at": now_iso(),
         "updated_at": now_iso()},
    )  # fmt: skip
    return md5


def seed_documentation(backend: Backend) -> None:
    """The objects the original ``BackendClient`` documentation names by id (project 123,
    task 456, assignment 789, plugin 123, job 789, ...), so that its examples run as
    written against ``synapse-local serve --seed demo``."""
    b = backend
    b.new(
        "data_collections",
        {"name": "Documentation examples", "category": "image",
         "file_specifications": [
             {"id": 11, "name": "image_1", "is_required": True, "is_primary": True,
              "file_type": "image", "extensions": [".png", ".jpg"], "index": 1},
             {"id": 12, "name": "meta", "is_required": False, "is_primary": False,
              "file_type": "data", "extensions": [".json"], "index": 2},
         ]},
        pk=123,
    )  # fmt: skip
    b.new(
        "projects",
        {"title": "Documentation project", "category": "image", "data_collection": 123,
         "configuration": {"classes": [{"code": "box", "tool": "bounding_box"}]}},
        pk=123,
    )  # fmt: skip
    b.new("task_tags", {"project": 123, "name": "blurry", "color": "#ffb224"}, pk=3)
    for unit_id in (456, 457, 789, 790):
        image = _data_file(b, f"doc_{unit_id}.jpg", f"JPEG doc unit {unit_id}".encode() * 4)
        b.new(
            "data_units",
            {"data_collection": 123, "meta": {"unit": unit_id},
             "files": {"image_1": {"checksum": image, "path": f"docs/doc_{unit_id}.jpg"}}},
            pk=unit_id,
        )  # fmt: skip
    for task_id, assignment_id in ((456, 789), (457, 790)):
        b.new(
            "tasks",
            {"project": 123, "data_unit": task_id, "data": {}, "tags": []},
            pk=task_id,
        )
        b.new(
            "assignments",
            {"project": 123, "task": task_id, "user": 1, "status_label": "in_progress",
             "data": {}, "tags": []},
            pk=assignment_id,
        )  # fmt: skip
    b.store.insert(
        KINDS["agents"],
        {"name": "doc-agent", "url": "http://127.0.0.1:8001", "status": "connected",
         "token": DOC_AGENT_TOKEN, "created": now_iso()},
    )  # fmt: skip
    b.new(
        "plugins",
        {"code": "doc-plugin", "name": "Documentation plugin", "category": "neural_net",
         "description": "The plugin the documentation runs", "meta": {}},
        pk=123,
    )  # fmt: skip
    b.new(
        "plugin_releases",
        {"plugin": 123, "version": "0.9.0",
         "config": {"code": "doc-plugin", "actions": {"train": {}, "inference": {}}}},
        pk=456,
    )  # fmt: skip
    b.new(
        "jobs",
        {"status": "RUNNING", "action": "train", "plugin": 123, "plugin_release": 456,
         "params": {"epochs": 10}, "started": now_iso(), "auto": False,
         "console_logs": [f"[{now_iso()}] job queued: doc-plugin",
                          f"[{now_iso()}] running action 'train'"]},
        pk=789,
    )  # fmt: skip
    b.new(
        "storages",
        {"name": "Documentation storage", "category": "internal", "provider": "file_system",
         "configuration": {"location": "/data/docs"}},
        pk=123,
    )  # fmt: skip
    model_key, _ = _media(b, "doc-model.zip", b"PK\x03\x04 documentation model")
    b.new(
        "models",
        {"name": "doc-model", "project": 123, "plugin": "doc-plugin", "version": "0.9.0",
         "file_key": model_key, "configuration": {"hyperparameter": {"epochs": 10}}},
        pk=456,
    )  # fmt: skip
    dataset = b.new("ground_truth_datasets", {"project": 123, "name": "Documentation set"})
    b.new(
        "ground_truth_dataset_versions",
        {"ground_truth_dataset": dataset["id"], "version": "v1", "description": "docs"},
        pk=123,
    )
    for n, task_id in enumerate((456, 457)):
        category = ("train", "validation")[n]
        truth = b.new(
            "ground_truths",
            {"ground_truth_dataset": dataset["id"], "data_unit": task_id,
             "ground_truth_dataset_versions": [123], "category": category,
             "data": {"boxes": [[1, 2, 3, 4]]}},
        )  # fmt: skip
        unit = b.store.get(KINDS["data_units"], task_id)
        b.new(
            "ground_truth_events",
            {"ground_truth": truth["id"], "category": category, "task": task_id,
             "ground_truth_dataset_versions": [123], "data_unit": task_id,
             "data": {"boxes": [[1, 2, 3, 4]]}, "files": unit["files"] if unit else {},
             "data_collection": 123},
        )  # fmt: skip


# --------------------------------------------------------------------------- training data

TRAINING_CONFIGURATION = {
    "classification": {
        "bounding_box": {
            "classification_schema": [{"code": "car"}, {"code": "truck"}, {"code": "pedestrian"}]
        },
        "polygon": {"classification_schema": [{"code": "road"}]},
        "segmentation": {"classification_schema": [{"code": "pedestrian"}, {"code": "bicycle"}]},
        "polyline": {"classification_schema": [{"code": "lane"}]},
        "keypoint": {
            "classification_schema": [
                {"code": j}
                for j in ("nose", "left_eye", "right_eye", "left_shoulder", "right_shoulder")
            ]
        },
        "classification": {"classification_schema": [{"code": "daytime"}, {"code": "night"}]},
    }
}


def png(width: int, height: int, seed: int) -> bytes:
    """A real RGB PNG of ``width`` x ``height`` (stdlib only): bands of colour and a white
    square, different for each ``seed``; cheap enough for 20,000 images."""
    import struct
    import zlib

    white = bytes((255, 255, 255))
    rows = bytearray()
    for y in range(height):
        colour = bytes(((seed * 13 + y * 5) % 256, (seed * 29) % 256, (y * 7) % 256))
        row = colour * width
        if height // 4 <= y < height // 2:
            a, b = width // 4, width // 2
            row = row[: a * 3] + white * (b - a) + row[b * 3 :]
        rows += b"\x00" + row  # filter: none

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(bytes(rows)))
        + chunk(b"IEND", b"")
    )


def _meta(ann_id: str, tool: str, classification: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": ann_id,
        "tool": tool,
        "isLocked": False,
        "isVisible": True,
        "isValid": True,
        "isDrawCompleted": True,
        "label": [],
        "classification": classification,
    }


def dm_v1_payload(n: int, width: int = 64, height: int = 48) -> dict[str, Any]:
    """A DM v1 document with every image tool: a box (and a rotated one), a polygon, a
    polyline, a Person-17 keypoint group, masks raw and RLE, a classification, a relation
    (both forms) on ``image_1``; a box and a classification on ``image_2``. Task ``n``
    shifts the geometry; every fifth task has a box reaching out of the image."""
    k = n % 7
    p = f"{n:04d}"
    metas = [
        _meta(f"Bx{p}0001", "bounding_box", {"class": "car", "color": "red"}),
        _meta(f"Bx{p}0002", "bounding_box", {"class": "truck"}),
        _meta(f"Pg{p}0001", "polygon", {"class": "road"}),
        _meta(f"Pl{p}0001", "polyline", {"class": "lane"}),
        *[
            _meta(f"Kp{p}000{i}", "keypoint", {"class": joint, "visibility": vis})
            for i, (joint, vis) in enumerate(
                (
                    ("nose", "visible"),
                    ("left_eye", "visible"),
                    ("right_eye", "occluded"),
                    ("left_shoulder", "visible"),
                ),
                start=1,
            )
        ],
        _meta(f"Mk{p}0001", "segmentation", {"class": "pedestrian"}),
        _meta(f"Mk{p}0002", "segmentation", {"class": "bicycle"}),
        _meta(
            f"Cl{p}0001",
            "classification",
            {"class": "daytime", "weather": "sunny", "tags": ["urban", "clear"]},
        ),
        _meta(f"Rl{p}0001", "relation", {"class": "towing"}),
    ]
    out_of_image = n % 5 == 4
    data = [
        {
            "id": f"Bx{p}0001",
            "coordinate": {
                "x": 4 + k,
                "y": 6,
                "width": 20,
                "height": 12 if not out_of_image else 60,
            },
        },
        {
            "id": f"Bx{p}0002",
            "coordinate": {"x": 30, "y": 20 + k, "width": 16, "height": 8, "rotation": 0.3},
        },
        {
            "id": f"Pg{p}0001",
            "coordinate": [
                {"x": 0, "y": 36, "id": f"v{p}00001"},
                {"x": width, "y": 36, "id": f"v{p}00002"},
                {"x": width, "y": height, "id": f"v{p}00003"},
                {"x": 0, "y": height - 2 - k % 3, "id": f"v{p}00004"},
            ],
        },
        {
            "id": f"Pl{p}0001",
            "coordinate": [
                {"x": 2, "y": 40, "id": f"w{p}00001"},
                {"x": 30, "y": 42, "id": f"w{p}00002"},
                {"x": 60, "y": 44, "id": f"w{p}00003"},
            ],
        },
        {"id": f"Kp{p}0001", "coordinate": {"x": 40 + k, "y": 10}},
        {"id": f"Kp{p}0002", "coordinate": {"x": 42 + k, "y": 8}},
        {"id": f"Kp{p}0003", "coordinate": {"x": 38 + k, "y": 8.5}},
        {"id": f"Kp{p}0004", "coordinate": {"x": 45 + k, "y": 18}},
        {
            "id": f"Mk{p}0001",
            "pixel_indices": [y * width + x for y in range(2, 5) for x in range(50, 53 + k % 3)],
            "isCompressed": False,
            "compressionFormat": None,
        },
        {
            "id": f"Mk{p}0002",
            "pixel_indices": [[30 * width + 10, 6], [31 * width + 10, 6 + k]],
            "isCompressed": True,
            "compressionFormat": "rle",
        },
        {"id": f"Cl{p}0001"},
        {"id": f"Rl{p}0001", "annotationId": f"Bx{p}0001", "targetAnnotationId": f"Bx{p}0002"},
    ]
    second = [
        _meta(f"Bx{p}0003", "bounding_box", {"class": "pedestrian"}),
        _meta(f"Cl{p}0002", "classification", {"class": "night" if n % 2 else "daytime"}),
    ]
    second_data = [
        {"id": f"Bx{p}0003", "coordinate": {"x": 2.5, "y": 3.25, "width": 10, "height": 14.5}},
        {"id": f"Cl{p}0002"},
    ]
    return {
        "assignmentId": None,
        "extra": {
            "image_1": {"width": width, "height": height},
            "image_2": {"width": 48, "height": 32},
        },
        "annotations": {"image_1": metas, "image_2": second},
        "annotationsData": {"image_1": data, "image_2": second_data},
        "relations": {
            "image_1": [
                {
                    "id": f"Ra{p}0001",
                    "tool": "relation",
                    "isLocked": False,
                    "isVisible": True,
                    "annotationId": f"Pg{p}0001",
                    "targetAnnotationId": f"Bx{p}0001",
                    "classification": {},
                }
            ],
            "image_2": [],
        },
        "annotationGroups": {
            "image_1": [
                {"id": f"Gp{p}0001", "annotationIds": [f"Kp{p}000{i}" for i in range(1, 5)]}
            ],
            "image_2": [],
        },
    }


def seed_training(
    backend: Backend, tasks: int = 6, *, title: str = "Training set"
) -> dict[str, Any]:
    """A project whose tasks hold DM v1 data covering every image tool, over data units
    of two real PNG images each (``image_1`` 64x48, ``image_2`` 48x32) whose true sizes
    are in the files' ``meta``. Task 2 is submitted (``status_label`` completed). Returns the
    ids."""
    b = backend
    collection = b.new(
        "data_collections",
        {
            "name": f"{title} images",
            "category": "image",
            "file_specifications": [
                {
                    "id": 31,
                    "name": "image_1",
                    "is_required": True,
                    "is_primary": True,
                    "file_type": "image",
                    "extensions": [".png"],
                    "index": 1,
                },
                {
                    "id": 32,
                    "name": "image_2",
                    "is_required": False,
                    "is_primary": False,
                    "file_type": "image",
                    "extensions": [".png"],
                    "index": 2,
                },
            ],
        },
    )
    project = b.new(
        "projects",
        {
            "title": title,
            "category": "image",
            "data_collection": collection["id"],
            "configuration": TRAINING_CONFIGURATION,
        },
    )
    created = now_iso()
    first_unit = b.store.next_id(KINDS["data_units"])
    units, docs = [], []
    for n in range(tasks):
        files = {}
        for media, (w, h), primary in (("image_1", (64, 48), True), ("image_2", (48, 32), False)):
            data = png(w, h, n * 2 + (media == "image_2"))
            key, md5 = _media(b, f"scene_{n:05d}_{media}.png", data)
            b.store.insert(
                KINDS["data_files"],
                {
                    "checksum": md5,
                    "file_key": key,
                    "size": len(data),
                    "created_at": created,
                    "updated_at": created,
                },
            )
            files[media] = {
                "file_key": key,
                "file_name_original": f"scene_{n:05d}_{media}.png",
                "is_primary": primary,
                "file_type": "image",
                "size": len(data),
                "checksum": md5,
                "meta": {"width": w, "height": h},
            }
        units.append(
            {
                "id": first_unit + n,
                "data_collection": collection["id"],
                "meta": {"scene": n},
                "files": files,
                "created": created,
            }
        )
        docs.append(dm_v1_payload(n))
    b.store.insert_many(KINDS["data_units"], iter(units))
    first_task = b.store.next_id(KINDS["tasks"])
    b.store.insert_many(
        KINDS["tasks"],
        (
            {
                "project": project["id"],
                "data_unit": first_unit + n,
                "data": docs[n],
                "meta": {},
                "tags": [],
                "is_discarded": False,
                "schema": "dm_schema_v1",
                "created": created,
                "status_label": "completed" if n == 2 else "stand_by",
                "status_review": "stand_by",
            }
            for n in range(tasks)
        ),
    )
    dataset = b.new("ground_truth_datasets", {"project": project["id"], "name": f"{title} gold"})
    version = b.new(
        "ground_truth_dataset_versions",
        {"ground_truth_dataset": dataset["id"], "version": "v1", "description": "first cut"},
    )
    for n in range(min(tasks, 4)):
        category = ("train", "train", "validation", "test")[n]
        common = {
            "ground_truth_dataset_versions": [version["id"]],
            "category": category,
            "data_unit": first_unit + n,
            "data": docs[n],
        }
        truth = b.new("ground_truths", {"ground_truth_dataset": dataset["id"], **common})
        b.new(
            "ground_truth_events",
            {"ground_truth": truth["id"], "task": first_task + n, "files": units[n]["files"],
             "data_collection": collection["id"], **common},
        )  # fmt: skip
    return {
        "project": project["id"],
        "data_collection": collection["id"],
        "ground_truth_version": version["id"],
    }
