"""COCO, YOLO and Pascal VOC files read back into DM v1 annotations, matched to a
project's tasks by file name (the export's ``<task>_<media>`` name, or the original
name) or by checksum, and written through ``annotate_task_data`` in batches."""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synapse.annotations import (
    PERSON_17,
    Annotation,
    Box,
    Document,
    Keypoint,
    Mask,
    Point,
    Polygon,
    media_type,
    natural_media_order,
    new_id,
)
from synapse.errors import ClientError, InvalidInputError
from synapse.executors import check_count
from synapse.training.items import decode_coco_rle
from synapse.training.report import ImportItem, ImportReport

__all__ = ["Record", "import_annotations", "read_labels"]

IMPORT_FORMATS = ("coco", "yolo", "yolo-pose", "yolo-obb", "voc")
SUBMITTED = {"submitted", "completed", "confirmed", "approved"}
_EXPORT_STEM = re.compile(r"(\d+)_(image_\d+)")
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


@dataclass
class Record:
    """The annotations of one image file as read from a label file. ``normalized``
    geometry (YOLO) is scaled to pixels once the image's size is known."""

    file: str
    annotations: list[Annotation] = field(default_factory=list)
    groups: dict[str, list[str]] = field(default_factory=dict)
    normalized: bool = False
    image: Path | None = None  # the image beside the labels, when there is one

    def scaled(self, width: int, height: int) -> list[Annotation]:
        if not self.normalized:
            return self.annotations
        for ann in self.annotations:
            g = ann.geometry
            if isinstance(g, Box):
                g.x, g.y, g.width, g.height = (
                    g.x * width,
                    g.y * height,
                    g.width * width,
                    g.height * height,
                )
            elif isinstance(g, Polygon):
                g.points = [Point(p.x * width, p.y * height, p.id) for p in g.points]
            elif isinstance(g, Keypoint):
                g.x, g.y = g.x * width, g.y * height
        self.normalized = False
        return self.annotations


def _annotation(tool: str, geometry: Any, label: str, attributes: dict[str, Any]) -> Annotation:
    return Annotation.new(tool, geometry, label=label, attributes=attributes)


# --------------------------------------------------------------------------- readers


#: Class names for a YOLO import: a list (class id = index), a mapping of ids, or the
#: path of a ``data.yaml``/``classes.txt`` (the export's, when a model's output has none).
Classes = Sequence[str] | Mapping[int, str] | str | os.PathLike[str]


def read_labels(
    path: str | os.PathLike[str], format: str, classes: Classes | None = None
) -> list[Record]:
    """The label files at ``path`` (a file or an export folder) as records; YOLO class
    names from ``classes``, else from the folder's ``data.yaml`` or ``classes.txt``."""
    root = Path(path)
    if not root.exists():
        raise InvalidInputError(f"no such file or folder: {root}")
    if format == "coco":
        files = [root] if root.is_file() else sorted((root / "annotations").glob("*.json"))
        if not files:
            files = sorted(root.glob("*.json"))
        merged: dict[str, Record] = {}
        for file in files:
            for record in _read_coco(file):
                into = merged.setdefault(record.file, Record(record.file, image=record.image))
                into.annotations.extend(record.annotations)
                into.groups.update(record.groups)
        return list(merged.values())
    if format.startswith("yolo"):
        return list(_read_yolo(root, format, _class_names(root, classes)))
    if format == "voc":
        return list(_read_voc(root))
    raise InvalidInputError(f"unknown import format {format!r}; one of {', '.join(IMPORT_FORMATS)}")


def _read_coco(file: Path) -> Iterator[Record]:
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{file} is not a COCO JSON file: {exc}") from None
    if not isinstance(doc, Mapping) or not isinstance(doc.get("images"), list):
        raise InvalidInputError(f"{file} has no COCO 'images' list")
    categories = {c.get("id"): c for c in doc.get("categories", []) if isinstance(c, Mapping)}
    records: dict[Any, Record] = {}
    for image in doc["images"]:
        if isinstance(image, Mapping) and isinstance(image.get("file_name"), str):
            local = file.parent.parent / "images" / image["file_name"]
            records[image.get("id")] = Record(
                image["file_name"], image=local if local.is_file() else None
            )
    for ann in doc.get("annotations", []):
        if not isinstance(ann, Mapping) or ann.get("image_id") not in records:
            continue
        category = categories.get(ann.get("category_id"), {})
        _coco_object(records[ann["image_id"]], ann, category)
    yield from records.values()


def _coco_object(record: Record, ann: Mapping[str, Any], category: Mapping[str, Any]) -> None:
    """One COCO annotation into its record: keypoints, an RLE mask, a rotated box, polygons
    or a box, as its fields say."""
    label = str(category.get("name", ann.get("category_id")))
    attributes = dict(ann.get("attributes") or {})
    if "score" in ann:
        attributes["score"] = ann["score"]
    segmentation = ann.get("segmentation")
    keypoints = ann.get("keypoints")
    if isinstance(keypoints, list) and keypoints:
        _coco_keypoints(record, keypoints, category.get("keypoints") or PERSON_17)
    elif isinstance(segmentation, Mapping) and "counts" in segmentation:
        pixels = decode_coco_rle(dict(segmentation))
        record.annotations.append(_annotation("segmentation", _runs(pixels), label, attributes))
    elif isinstance(segmentation, list) and segmentation and "rotation" in ann:
        ring = segmentation[0]
        corners = [(ring[i], ring[i + 1]) for i in range(0, len(ring) - 1, 2)]
        record.annotations.append(
            _annotation("bounding_box", _box_from_corners(corners), label, attributes)
        )
    elif isinstance(segmentation, list) and segmentation:
        for ring in segmentation:
            points = [Point(ring[i], ring[i + 1], new_id()) for i in range(0, len(ring) - 1, 2)]
            record.annotations.append(_annotation("polygon", Polygon(points), label, attributes))
    elif isinstance(ann.get("bbox"), list) and len(ann["bbox"]) == 4:
        record.annotations.append(_annotation("bounding_box", Box(*ann["bbox"]), label, attributes))


def _coco_keypoints(record: Record, keypoints: list[Any], names: Sequence[str]) -> None:
    """The labelled keypoints of a COCO pose, grouped."""
    group = f"g{new_id()}"
    members = []
    for i in range(0, len(keypoints) - 2, 3):
        x, y, v = keypoints[i : i + 3]
        if v and i // 3 < len(names):
            visibility = {1: "occluded", 2: "visible"}.get(int(v), "visible")
            kp = _annotation("keypoint", Keypoint(x, y), names[i // 3], {"visibility": visibility})
            record.annotations.append(kp)
            members.append(kp.id)
    if members:
        record.groups[group] = members


def _runs(pixels: list[int]) -> Mask:
    runs: list[list[int]] = []
    for p in pixels:
        if runs and runs[-1][0] + runs[-1][1] == p:
            runs[-1][1] += 1
        else:
            runs.append([p, 1])
    return Mask(runs, compressed=True)


def _box_from_corners(corners: list[tuple[float, float]]) -> Box:
    """A rotated box from its four corners (clockwise from the top-left before rotation)."""
    (x0, y0), (x1, y1), (x2, y2) = corners[0], corners[1], corners[2]
    width = math.hypot(x1 - x0, y1 - y0)
    height = math.hypot(x2 - x1, y2 - y1)
    cx = sum(c[0] for c in corners) / len(corners)
    cy = sum(c[1] for c in corners) / len(corners)
    rotation = math.atan2(y1 - y0, x1 - x0)
    return Box(cx - width / 2, cy - height / 2, width, height, rotation=rotation)


def _class_names(root: Path, classes: Classes | None) -> dict[int, str]:
    """YOLO class names by id: from ``classes`` as given, else from ``root``'s files."""
    if classes is None:
        return _yaml_names(root)
    if isinstance(classes, (str, os.PathLike)):
        given = Path(classes)
        if given.is_dir():
            return _yaml_names(given)
        if not given.is_file():
            raise InvalidInputError(f"classes: no such file or folder: {given}")
        if given.suffix == ".txt":
            return dict(enumerate(line.strip() for line in given.read_text().splitlines()))
        return _yaml_names(given.parent, (given,))
    names = dict(classes) if isinstance(classes, Mapping) else dict(enumerate(classes))
    for key, value in names.items():
        if isinstance(key, bool) or not isinstance(key, int) or not isinstance(value, str):
            raise InvalidInputError(
                f"classes are names by class id (a list or {{int: str}}), got {key!r}: {value!r}"
            )
    return names


def _yaml_names(root: Path, files: Sequence[Path] = ()) -> dict[int, str]:
    """``names`` of a YOLO ``data.yaml`` (a mapping block or a flow list), or of
    ``classes.txt``."""
    for candidate in files or (root / "data.yaml", root / "dataset.yaml"):
        if not candidate.is_file():
            continue
        lines = candidate.read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if not line.startswith("names:"):
                continue
            rest = line[len("names:") :].strip()
            if rest.startswith("["):
                try:
                    values = json.loads(rest.replace("'", '"'))
                except ValueError:
                    raise InvalidInputError(f"cannot read names in {candidate}") from None
                return dict(enumerate(str(v) for v in values))
            if rest.startswith("{"):  # names: {0: car, 1: truck}
                pairs = re.findall(r"(\d+)\s*:\s*([^,}]+)", rest)
                return {int(key): _yaml_scalar(value) for key, value in pairs}
            names: dict[int, str] = {}
            for entry in lines[n + 1 :]:
                match = re.fullmatch(r"\s+(\d+)\s*:\s*(.+?)\s*", entry)
                item = re.fullmatch(r"\s*-\s*(.+?)\s*", entry)  # a block list: "  - car"
                if match:
                    names[int(match.group(1))] = _yaml_scalar(match.group(2))
                elif item:
                    names[len(names)] = _yaml_scalar(item.group(1))
                else:
                    break
            return names
    classes = root / "classes.txt"
    if classes.is_file():
        return dict(enumerate(line.strip() for line in classes.read_text().splitlines()))
    raise InvalidInputError(
        f"no data.yaml or classes.txt with class names in {root}: pass classes= (the "
        "export's data.yaml, or the names in class id order)"
    )


def _yaml_scalar(value: str) -> str:
    """A name as YAML writes it: bare, 'single' or "double" quoted."""
    value = value.strip()
    if value.startswith('"'):
        return str(json.loads(value))
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def _read_yolo(root: Path, format: str, names: dict[int, str]) -> Iterator[Record]:
    for label_file in sorted((root / "labels").rglob("*.txt")):
        record = Record(label_file.stem, normalized=True)
        image_dir = root / "images" / label_file.parent.relative_to(root / "labels")
        for suffix in _IMAGE_SUFFIXES:
            if (image_dir / f"{label_file.stem}{suffix}").is_file():
                record.image = image_dir / f"{label_file.stem}{suffix}"
                record.file = record.image.name
                break
        for line in label_file.read_text().splitlines():
            values = line.split()
            if not values:
                continue
            try:
                cls, numbers = int(values[0]), [float(v) for v in values[1:]]
            except ValueError:
                raise InvalidInputError(f"{label_file}: not a YOLO line: {line!r}") from None
            if cls not in names:  # never a made-up label written into the tasks
                raise InvalidInputError(
                    f"{label_file}: class id {cls} has no name (the names given are for "
                    f"ids {sorted(names)}): pass classes= with every class the model knows"
                )
            _yolo_row(record, format, names[cls], numbers, label_file)
        yield record


def _yolo_row(
    record: Record, format: str, label: str, numbers: list[float], label_file: Path
) -> None:
    """One row of a YOLO label file into its record: a pose, an oriented box, a box or a
    polygon, as the format and the count of numbers say."""
    attributes: dict[str, Any] = {}
    if format == "yolo-pose" and len(numbers) >= 4:
        _yolo_pose(record, numbers[4:])
    elif format == "yolo-obb" and len(numbers) in (8, 9):
        if len(numbers) == 9:
            attributes["score"] = numbers.pop()
        corners = [Point(numbers[i], numbers[i + 1]) for i in range(0, 8, 2)]
        record.annotations.append(_annotation("obb", Polygon(corners), label, attributes))
    elif len(numbers) in (4, 5):
        if len(numbers) == 5:
            attributes["score"] = numbers.pop()
        cx, cy, w, h = numbers
        box = Box(cx - w / 2, cy - h / 2, w, h)
        record.annotations.append(_annotation("bounding_box", box, label, attributes))
    elif len(numbers) >= 6 and len(numbers) % 2 == 0:
        points = [Point(numbers[i], numbers[i + 1], new_id()) for i in range(0, len(numbers), 2)]
        record.annotations.append(_annotation("polygon", Polygon(points), label, {}))
    else:
        raise InvalidInputError(f"{label_file}: {len(numbers)} values is not a YOLO row")


def _yolo_pose(record: Record, joints: list[float]) -> None:
    """The visible keypoints of a YOLO pose row (after its box), grouped."""
    group, members = f"g{new_id()}", []
    for i in range(0, min(len(joints), 51) - 2, 3):
        x, y, v = joints[i : i + 3]
        if v:
            kp = _annotation(
                "keypoint",
                Keypoint(x, y),
                PERSON_17[i // 3],
                {"visibility": "visible" if v >= 2 else "occluded"},
            )
            record.annotations.append(kp)
            members.append(kp.id)
    if members:
        record.groups[group] = members


def _read_voc(root: Path) -> Iterator[Record]:
    folder = root / "Annotations" if (root / "Annotations").is_dir() else root
    files = [root] if root.is_file() else sorted(folder.glob("*.xml"))
    for file in files:
        try:
            tree = ET.parse(file)  # noqa: S314 - the user's own files
        except ET.ParseError as exc:
            raise InvalidInputError(f"{file} is not VOC XML: {exc}") from None
        name = tree.findtext("filename") or f"{file.stem}.jpg"
        local = root / "JPEGImages" / name
        record = Record(name, image=local if local.is_file() else None)
        for obj in tree.iter("object"):
            box = obj.find("bndbox")
            if box is None:
                continue
            try:
                x0, y0, x1, y1 = (
                    float(box.findtext(k) or "nan") for k in ("xmin", "ymin", "xmax", "ymax")
                )
            except ValueError:
                raise InvalidInputError(f"{file}: a box with non-numeric corners") from None
            attributes: dict[str, Any] = {}
            score = obj.findtext("score") or obj.findtext("confidence")
            if score:
                attributes["score"] = float(score)
            geometry = Box(_int(x0), _int(y0), _int(x1 - x0), _int(y1 - y0))
            record.annotations.append(
                _annotation("bounding_box", geometry, obj.findtext("name") or "", attributes)
            )
        yield record


def _int(value: float) -> float | int:
    return int(value) if value.is_integer() else value


# --------------------------------------------------------------------------- matching


class _Index:
    """A project's images by export stem, original name and stem, and checksum (from
    the tasks' files only: their annotation data is fetched later, for matched tasks)."""

    def __init__(self, tasks: Iterator[dict[str, Any]]) -> None:
        self.submitted: set[int] = set()
        self.keys: dict[str, tuple[int, str]] = {}
        self.sizes: dict[tuple[int, str], tuple[int | None, int | None]] = {}
        for task in tasks:
            pk = task.get("id")
            unit = task.get("data_unit")
            files = unit.get("files") if isinstance(unit, Mapping) else None
            if not isinstance(pk, int) or not isinstance(files, Mapping):
                continue
            if _submitted(task):
                self.submitted.add(pk)
            for media in natural_media_order(list(files)):
                entry: Any = files[media]
                if media_type(media) != "image" or not isinstance(entry, Mapping):
                    continue
                meta: Any = entry.get("meta") if isinstance(entry.get("meta"), Mapping) else {}
                self.sizes[pk, media] = (meta.get("width"), meta.get("height"))
                self.keys[f"{pk}_{media}"] = (pk, media)
                original = entry.get("file_name_original")
                if isinstance(original, str):
                    self.keys.setdefault(original, (pk, media))
                    self.keys.setdefault(Path(original).stem, (pk, media))
                if isinstance(entry.get("checksum"), str):
                    self.keys.setdefault(f"checksum:{entry['checksum']}", (pk, media))

    def match(self, record: Record) -> tuple[int, str] | None:
        leaf = Path(record.file).name
        stem = Path(leaf).stem
        exported = _EXPORT_STEM.fullmatch(stem)
        if exported and f"{exported.group(1)}_{exported.group(2)}" in self.keys:
            return self.keys[stem]
        found = self.keys.get(leaf) or self.keys.get(stem)
        if found is None and record.image is not None:
            digest = hashlib.md5(record.image.read_bytes()).hexdigest()
            found = self.keys.get(f"checksum:{digest}")
        return found


def _invalid(ann: Annotation, width: int | None, height: int | None) -> str | None:
    g = ann.geometry
    if isinstance(g, Box):
        if not (g.width > 0 and g.height > 0):
            return f"{ann.id}: a box needs a positive size"
        if (
            width
            and height
            and (g.x >= width or g.y >= height or g.x + g.width <= 0 or g.y + g.height <= 0)
        ):
            return f"{ann.id}: the box is outside the image"
    elif isinstance(g, Polygon) and len(g.points) < 3:
        return f"{ann.id}: a polygon needs 3 points"
    elif (
        isinstance(g, Mask)
        and width
        and height
        and g.pixels()
        and (g.pixels()[-1] >= width * height)
    ):
        return f"{ann.id}: mask pixels outside the image"
    return None


def _submitted(task: Mapping[str, Any]) -> bool:
    return any(task.get(k) in SUBMITTED for k in ("status", "status_label"))


# --------------------------------------------------------------------------- import


def _check_import(format: str, action: str, as_predictions: bool, batch_size: int) -> None:
    """The options of `import_annotations`, checked before anything is read or sent."""
    if format not in IMPORT_FORMATS:
        raise InvalidInputError(
            f"unknown import format {format!r}; one of {', '.join(IMPORT_FORMATS)}"
        )
    if action not in ("save", "submit"):
        raise InvalidInputError(f"action is 'save' or 'submit', not {action!r}")
    if as_predictions and action == "submit":
        raise InvalidInputError("predictions are saved for review, never submitted")
    check_count("batch_size", batch_size)


def _importable(
    record: Record,
    item: ImportItem,
    media: str,
    size: tuple[int | None, int | None],
    as_predictions: bool,
) -> list[Annotation]:
    """A record's annotations in the image's pixels, on its media; the invalid ones are
    noted on ``item`` and left out."""
    width, height = size
    kept = []
    for ann in record.scaled(int(width or 0), int(height or 0)):
        if ann.tool == "obb" and isinstance(ann.geometry, Polygon):
            ann.tool = "bounding_box"
            ann.geometry = _box_from_corners([(p.x, p.y) for p in ann.geometry.points])
        problem = _invalid(ann, width, height)
        if problem:
            item.invalid.append(problem)
            continue
        ann.media = media
        if as_predictions:
            ann.meta["isValid"] = False
        kept.append(ann)
    return kept


def import_annotations(
    project: Any,
    path: str | os.PathLike[str],
    format: str,
    *,
    as_predictions: bool = False,
    action: str = "save",
    dry_run: bool = False,
    overwrite_submitted: bool = False,
    batch_size: int = 50,
    workers: int = 4,
    classes: Classes | None = None,
) -> ImportReport:
    """Read ``path`` and write each matched image's annotations into its task.

    The imported annotations replace those of that image (other images of the task
    keep theirs). ``as_predictions=True`` marks them ``isValid: false`` (to be reviewed)
    and always saves (a prediction is never submitted). A task holding a submitted
    annotation is left alone unless ``overwrite_submitted=True``. ``dry_run=True``
    reports what would be written and sends nothing. ``classes`` names a YOLO output's
    class ids where its folder has no ``data.yaml`` (a model's ``runs/predict``): the
    export's ``data.yaml``, or the names in class id order.
    """
    _check_import(format, action, as_predictions, batch_size)
    records = read_labels(path, format, classes)
    tasks_query = project.tasks
    fields = ("status", "status_label", "data_unit")
    index = _Index(tasks_query.expand("data_unit").only(*fields).values())
    report = ImportReport(format)
    by_task: dict[int, list[tuple[str, Record, ImportItem]]] = {}
    for record in records:
        found = index.match(record)
        if found is None:
            report.items.append(ImportItem(record.file, "unmatched"))
            continue
        pk, media = found
        item = ImportItem(record.file, "would_write" if dry_run else "written", pk, media)
        report.items.append(item)
        if pk in index.submitted and not overwrite_submitted:
            item.status = "submitted"
            continue
        width, height = index.sizes.get(found, (None, None))
        if record.normalized and not (width and height):
            item.status, item.error = "invalid", "the image size is unknown to the server"
            continue
        kept = _importable(record, item, media, (width, height), as_predictions)
        if not kept and item.invalid:
            item.status = "invalid"
            continue
        record.annotations = kept
        item.annotations = len(kept)
        by_task.setdefault(pk, []).append((media, record, item))
    if dry_run:
        return report
    send_action = "save" if as_predictions else action
    pending = list(by_task.items())
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for start in range(0, len(pending), batch_size):
            batch = pending[start : start + batch_size]
            fetched = tasks_query.filter(ids=[pk for pk, _ in batch]).only("data").values()
            current = {t["id"]: t.get("data") for t in fetched}
            documents = [(pk, _merged(pk, current.get(pk), images, index)) for pk, images in batch]

            def send(entry: tuple[int, Document]) -> None:
                pk, doc = entry
                try:
                    tasks_query._manager.annotate(pk, {"action": send_action, "data": doc.to_v1()})
                except ClientError as exc:
                    for _, _, item in by_task[pk]:
                        item.status, item.error = "refused", str(exc)

            list(pool.map(send, documents))
    return report


def _merged(
    pk: int, data: Any, images: list[tuple[str, Record, ImportItem]], index: _Index
) -> Document:
    """The task's current document with each imported image's annotations in place of
    that image's own (its groups too; its size noted in ``extra``)."""
    doc = Document.from_v1(data if isinstance(data, Mapping) else {})
    for media, record, _ in images:
        doc.annotations[media] = record.annotations
        kept = {a.id for a in record.annotations}
        doc.set_groups(media, {g: [m for m in ms if m in kept] for g, ms in record.groups.items()})
        width, height = index.sizes.get((pk, media), (None, None))
        if width and height:
            extra = doc.top.setdefault("extra", {})
            if isinstance(extra, dict):
                extra.setdefault(media, {"width": width, "height": height})
    return doc
