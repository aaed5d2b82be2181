"""The writers of each format. Each takes the export's images one by one (``add``), says
where an image's file goes (``media_path``), and writes what needs the final class ids
at ``close``. What a format cannot hold is noted on the item, never dropped silently."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from synapse.annotations import PERSON_17, Annotation, Box, Mask, Polygon, Polyline
from synapse.paths import safe_component
from synapse.training.classes import ClassRegistry
from synapse.training.items import (
    FLIP_IDX,
    SKELETON,
    Item,
    Spool,
    box_corners,
    clip_box,
    coco_rle,
    mask_outlines,
    mask_pixels,
    polygon_area,
    poses,
    signed_area,
    valid_box,
)

__all__ = ["WRITERS", "Writer"]

OBJECT_TOOLS = ("bounding_box", "polygon", "segmentation")


def _num(value: float) -> str:
    """A coordinate with 12 significant digits: exact enough that a reader gets the
    pixel value back to 1e-6."""
    return format(value, ".12g")


class Writer:
    """The common part: the destination, the splits, the class registry."""

    #: the tools whose configured classes take the first ids
    class_tools: tuple[str, ...] = OBJECT_TOOLS

    def __init__(
        self,
        dest: Path,
        splits: tuple[str, ...],
        registry: ClassRegistry,
        shard: int | None = None,
    ) -> None:
        dest.mkdir(parents=True, exist_ok=True)
        self.shard = shard  # a worker's part of a sharded export: its files, then absorb()
        self.dest = dest
        self.splits = list(splits)  # those named up front, then those met (by field)
        self.registry = registry
        self.files: list[str] = []

    def split(self, name: str) -> str:
        if name not in self.splits:
            self.splits.append(name)
        return name

    def media_path(self, item: Item) -> Path | None:
        return self.dest / "images" / item.split / item.name

    def add(self, item: Item) -> int:
        """Write or spool one image's labels; the number of annotations written."""
        raise NotImplementedError

    def close(self) -> None:
        """Write what needed the final class ids."""

    def finish_shard(self) -> None:
        """A shard's end: its files closed and left for the caller to absorb."""

    def absorb(self, shard: int) -> None:
        """Take a finished shard's files, after those of the shards before it."""

    def _shard_suffix(self, shard: int | None = None) -> str:
        shard = self.shard if shard is None else shard
        return "" if shard is None else f".{shard:05d}"

    def _unsupported(self, item: Item, handled: set[str], why: str) -> None:
        for ann in item.annotations:
            if ann.tool not in handled:
                item.note("skipped", "UNSUPPORTED_TOOL", ann, why)
        if item.relations:
            item.note("skipped", "UNSUPPORTED_RELATION", None, f"{item.relations} relation(s)")


# --------------------------------------------------------------------------- COCO


class CocoWriter(Writer):
    """``images/<split>/``, ``annotations/instances_<split>.json`` (boxes, polygons, RLE
    masks, attributes) and ``annotations/person_keypoints_<split>.json`` (Person-17)."""

    def __init__(
        self,
        dest: Path,
        splits: tuple[str, ...],
        registry: ClassRegistry,
        shard: int | None = None,
    ) -> None:
        super().__init__(dest, splits, registry, shard)
        (dest / "annotations").mkdir(parents=True, exist_ok=True)
        self.spools: dict[str, Spool] = {}
        for split in splits:
            self._spool(split)

    def _spool(self, split: str) -> Spool:
        if split not in self.spools:
            name = f".spool-{self.split(split)}.jsonl{self._shard_suffix()}"
            self.spools[split] = Spool(self.dest / name)
        return self.spools[split]

    def finish_shard(self) -> None:
        for spool in self.spools.values():
            spool.finish()

    def absorb(self, shard: int) -> None:
        suffix = self._shard_suffix(shard)
        for path in sorted(self.dest.glob(f".spool-*.jsonl{suffix}")):
            split = path.name[len(".spool-") : -len(f".jsonl{suffix}")]
            self._spool(split).take(path)

    def add(self, item: Item) -> int:
        instances: list[dict[str, Any]] = []
        for ann in item.annotations:
            geometry = ann.geometry
            if ann.tool not in OBJECT_TOOLS or geometry is None:
                continue
            label = self.registry.see(ann.label) if ann.label else None
            if label is None:
                item.note("skipped", "NO_CLASS", ann, "an object without a class")
                continue
            record: dict[str, Any] = {"class": label, "source_id": ann.id}
            attributes = ann.attributes
            if attributes:
                record["attributes"] = attributes
            if isinstance(geometry, Box):
                if not valid_box(item, ann, geometry):
                    continue
                extent = clip_box(item, ann, *box_corners(geometry))
                if extent is None:
                    continue
                x0, y0, x1, y1 = extent
                record["bbox"] = [x0, y0, x1 - x0, y1 - y0]
                record["area"] = (x1 - x0) * (y1 - y0)
                if geometry.rotated:
                    corners = geometry.corners()
                    record["segmentation"] = [[v for c in corners for v in c]]
                    record["area"] = polygon_area(corners)
                    record["rotation"] = geometry.rotation
                    item.note(
                        "lossy",
                        "ROTATED_BOX_AS_POLYGON",
                        ann,
                        "bbox is the enclosing box; the rotated box is the segmentation",
                    )
            elif isinstance(geometry, Polygon):
                points = [(float(p.x), float(p.y)) for p in geometry.points]
                if len(points) < 3 or polygon_area(points) <= 0:
                    item.note("skipped", "INVALID_GEOMETRY", ann, "a polygon needs an area")
                    continue
                xs, ys = [p[0] for p in points], [p[1] for p in points]
                record["bbox"] = [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]
                record["segmentation"] = [[v for p in points for v in p]]
                record["area"] = polygon_area(points)
            elif isinstance(geometry, Mask):
                pixels = geometry.pixels()
                if not mask_pixels(item, ann, pixels):
                    continue
                assert item.width is not None
                assert item.height is not None
                xs = [p % item.width for p in pixels]
                ys = [p // item.width for p in pixels]
                record["bbox"] = [min(xs), min(ys), max(xs) - min(xs) + 1, max(ys) - min(ys) + 1]
                record["segmentation"] = coco_rle(pixels, item.width, item.height)
                record["area"] = len(pixels)
            else:
                continue
            instances.append(record)
        keypoints = []
        for pose in poses(item):
            box = pose.box()
            if box is None:
                continue
            label = self.registry.see(pose.label)
            x0, y0, x1, y1 = box
            keypoints.append(
                {
                    "class": label,
                    "source_id": pose.group,
                    "keypoints": [v for joint in pose.keypoints for v in joint],
                    "num_keypoints": pose.visible,
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "area": (x1 - x0) * (y1 - y0),
                }
            )
        self._unsupported(
            item,
            {*OBJECT_TOOLS, "keypoint"},
            "COCO holds boxes, polygons, masks and Person-17 poses",
        )
        image = {
            "file_name": f"{item.split}/{item.name}",
            "width": item.width,
            "height": item.height,
            "synapse_task": item.task,
            "synapse_media": item.media,
        }
        self._spool(item.split).add({"image": image, "instances": instances, "poses": keypoints})
        return len(instances) + len(keypoints)

    def close(self) -> None:
        ids = self.registry.ids(start=1)
        categories = [{"id": i, "name": n, "supercategory": n} for n, i in ids.items()]
        for split, spool in self.spools.items():
            has_poses = any(record["poses"] for record in spool)
            self._write(split, spool, "instances", categories, ids)
            if has_poses:
                person = [
                    {**c, "keypoints": list(PERSON_17), "skeleton": SKELETON}
                    for c in categories
                    if c["name"] == "person"
                ]
                self._write(split, spool, "poses", person, ids)
            spool.close()

    def _write(
        self, split: str, spool: Spool, role: str, categories: list[Any], ids: dict[str, int]
    ) -> None:
        name = "instances" if role == "instances" else "person_keypoints"
        path = self.dest / "annotations" / f"{name}_{split}.json"
        with path.open("w", encoding="utf-8") as out:
            out.write('{"info":{"description":"Exported by synapse-orm"},"licenses":[],\n')
            out.write('"images":[')
            for n, record in enumerate(spool, start=1):
                image = {"id": n, **record["image"]}
                out.write(("," if n > 1 else "") + "\n" + json.dumps(image))
            out.write('],\n"annotations":[')
            count = 0
            for n, record in enumerate(spool, start=1):
                for ann in record[role]:
                    count += 1
                    row = {
                        "id": count,
                        "image_id": n,
                        "category_id": ids[ann.pop("class")],
                        "iscrowd": 0,
                        **ann,
                    }
                    out.write(("," if count > 1 else "") + "\n" + json.dumps(row))
            out.write('],\n"categories":' + json.dumps(categories) + "}\n")
        self.files.append(str(path.relative_to(self.dest)))


# --------------------------------------------------------------------------- YOLO


class YoloWriter(Writer):
    """``images/<split>/``, ``labels/<split>/<stem>.txt`` and ``data.yaml``; one task:
    ``detect``, ``segment``, ``pose`` or ``obb``."""

    task = "detect"

    def __init__(
        self,
        dest: Path,
        splits: tuple[str, ...],
        registry: ClassRegistry,
        shard: int | None = None,
    ) -> None:
        super().__init__(dest, splits, registry, shard)
        self.spool = Spool(dest / f".spool-labels.jsonl{self._shard_suffix()}")

    def finish_shard(self) -> None:
        self.spool.finish()

    def absorb(self, shard: int) -> None:
        path = self.dest / f".spool-labels.jsonl{self._shard_suffix(shard)}"
        with path.open(encoding="utf-8") as source:
            for line in source:
                self.split(json.loads(line)["label"].split("/")[1])
        self.spool.take(path)

    def add(self, item: Item) -> int:
        rows = self.rows(item)
        label = f"labels/{self.split(item.split)}/{item.stem}.txt"
        self.spool.add({"label": label, "rows": rows})
        return len(rows)

    def rows(self, item: Item) -> list[list[Any]]:
        if not item.sized():
            for ann in item.annotations:
                item.note("skipped", "IMAGE_SIZE_UNKNOWN", ann, "YOLO needs the image size")
            return []
        assert item.width is not None
        assert item.height is not None
        w, h = float(item.width), float(item.height)
        rows: list[list[Any]] = []
        if self.task == "pose":
            rows = self._pose_rows(item, w, h)
            handled = {"keypoint"}
        else:
            handled = {"bounding_box"}
            if self.task == "segment":
                handled = {"bounding_box", "polygon", "segmentation"}
            for ann in item.annotations:
                if ann.tool in handled and ann.geometry is not None:
                    rows.extend(self._object_rows(item, ann, w, h))
        self._unsupported(item, handled, f"YOLO {self.task} cannot hold this tool")
        return rows

    def _object_rows(self, item: Item, ann: Annotation, w: float, h: float) -> list[list[Any]]:
        """The rows of one object of a detect, obb or segment set."""
        if not ann.label:
            item.note("skipped", "NO_CLASS", ann, "an object without a class")
            return []
        label = self.registry.see(ann.label)
        if ann.attributes:
            item.note("lossy", "ATTRIBUTES_DROPPED", ann, ", ".join(sorted(ann.attributes)))
        geometry = ann.geometry
        if isinstance(geometry, Box):
            return self._box_rows(item, ann, geometry, label, w, h)
        if isinstance(geometry, (Polygon, Polyline)):
            points = [(float(p.x), float(p.y)) for p in geometry.points]
            if len(points) < 3:
                item.note("skipped", "INVALID_GEOMETRY", ann, "a polygon needs 3 points")
                return []
            return [[label, *[v for x, y in points for v in (x / w, y / h)]]]
        if isinstance(geometry, Mask):
            return self._mask_rows(item, ann, geometry, label, w, h)
        return []

    def _box_rows(
        self, item: Item, ann: Annotation, geometry: Box, label: str, w: float, h: float
    ) -> list[list[Any]]:
        """A box: centre and size (detect), or its four corners (obb, segment)."""
        if not valid_box(item, ann, geometry):
            return []
        if self.task == "detect":
            extent = clip_box(item, ann, *box_corners(geometry))
            if extent is None:
                return []
            x0, y0, x1, y1 = extent
            if geometry.rotated:
                item.note("lossy", "ROTATION_DROPPED", ann, "written as the enclosing box")
            return [[label, (x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]]
        corners = geometry.corners()
        if any(not (0 <= x <= w and 0 <= y <= h) for x, y in corners):
            item.note("lossy", "POINTS_OUTSIDE_IMAGE", ann, "corners outside")
        return [[label, *[v for x, y in corners for v in (x / w, y / h)]]]

    @staticmethod
    def _mask_rows(
        item: Item, ann: Annotation, geometry: Mask, label: str, w: float, h: float
    ) -> list[list[Any]]:
        """A mask: one polygon per outer outline; holes are filled (and noted)."""
        pixels = geometry.pixels()
        if not mask_pixels(item, ann, pixels):
            return []
        rows: list[list[Any]] = []
        holes = 0
        for ring in mask_outlines(pixels, int(w)):
            if signed_area(ring) < 0:
                holes += 1
                continue
            rows.append([label, *[v for x, y in ring for v in (x / w, y / h)]])
        if holes:
            item.note("lossy", "MASK_HOLE_DROPPED", ann, f"{holes} hole(s) filled")
        return rows

    def _pose_rows(self, item: Item, w: float, h: float) -> list[list[Any]]:
        """A pose: its box, then each keypoint with its visibility."""
        rows: list[list[Any]] = []
        for pose in poses(item):
            box = pose.box()
            if box is None:
                continue
            x0, y0, x1, y1 = box
            label = self.registry.see(pose.label)
            joints = [v for x, y, vis in pose.keypoints for v in (x / w, y / h, int(vis))]
            centre = [(x0 + x1) / 2 / w, (y0 + y1) / 2 / h, (x1 - x0) / w, (y1 - y0) / h]
            rows.append([label, *centre, *joints])
        return rows

    def close(self) -> None:
        ids = self.registry.ids()
        for record in self.spool:
            path = self.dest / record["label"]
            path.parent.mkdir(parents=True, exist_ok=True)
            lines = []
            for row in record["rows"]:
                values = [str(ids[row[0]])]
                for n, v in enumerate(row[1:]):
                    pose_visibility = self.task == "pose" and n >= 4 and (n - 4) % 3 == 2
                    values.append(str(v) if pose_visibility else _num(v))
                lines.append(" ".join(values))
            path.write_text("".join(f"{line}\n" for line in lines))
        self.spool.close()
        train = "train" if "train" in self.splits else (self.splits or ["all"])[0]
        val = next((s for s in ("val", "valid", "validation") if s in self.splits), train)
        # No ``path:``: trainers read the folders beside data.yaml wherever it is moved,
        # and a sharded export writes the same bytes as a single-process one.
        yaml = [f"train: images/{train}", f"val: images/{val}"]
        if "test" in self.splits:
            yaml.append("test: images/test")
        yaml.append(f"nc: {len(ids)}")
        yaml.append("names:")
        yaml.extend(f"  {i}: {json.dumps(n, ensure_ascii=False)}" for n, i in ids.items())
        if self.task == "pose":
            yaml.append("kpt_shape: [17, 3]")
            yaml.append(f"flip_idx: {FLIP_IDX}")
        (self.dest / "data.yaml").write_text("\n".join(yaml) + "\n")
        self.files.append("data.yaml")


class YoloSegmentWriter(YoloWriter):
    task = "segment"


class YoloPoseWriter(YoloWriter):
    task = "pose"
    class_tools = ()


class YoloObbWriter(YoloWriter):
    task = "obb"


# --------------------------------------------------------------------------- VOC


class VocWriter(Writer):
    """``JPEGImages/``, ``Annotations/<stem>.xml`` (axis-aligned boxes, corner
    coordinates as they are, not rounded) and ``ImageSets/Main/<split>.txt``."""

    def __init__(
        self,
        dest: Path,
        splits: tuple[str, ...],
        registry: ClassRegistry,
        shard: int | None = None,
    ) -> None:
        super().__init__(dest, splits, registry, shard)
        (dest / "Annotations").mkdir(parents=True, exist_ok=True)
        (dest / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
        self.sets = {s: self._set_file(s) for s in splits}

    def _set_file(self, split: str) -> Any:
        name = f"{self.split(split)}.txt{self._shard_suffix()}"
        return (self.dest / "ImageSets" / "Main" / name).open("w")

    def finish_shard(self) -> None:
        for out in self.sets.values():
            out.close()

    def absorb(self, shard: int) -> None:
        suffix = self._shard_suffix(shard)
        for path in sorted((self.dest / "ImageSets" / "Main").glob(f"*.txt{suffix}")):
            split = path.name[: -len(f".txt{suffix}")]
            if split not in self.sets:
                self.sets[split] = self._set_file(split)
            self.sets[split].write(path.read_text())
            path.unlink()

    def media_path(self, item: Item) -> Path | None:
        return self.dest / "JPEGImages" / item.name

    def add(self, item: Item) -> int:
        objects = []
        for ann in item.annotations:
            geometry = ann.geometry
            if ann.tool != "bounding_box" or not isinstance(geometry, Box):
                continue
            if not ann.label:
                item.note("skipped", "NO_CLASS", ann, "an object without a class")
                continue
            if geometry.rotated:
                item.note("skipped", "UNSUPPORTED_ROTATION", ann, "VOC boxes are axis-aligned")
                continue
            if not valid_box(item, ann, geometry):
                continue
            extent = clip_box(item, ann, *box_corners(geometry))
            if extent is None:
                continue
            if ann.attributes:
                item.note("lossy", "ATTRIBUTES_DROPPED", ann, ", ".join(sorted(ann.attributes)))
            label = self.registry.see(ann.label)
            x0, y0, x1, y1 = extent
            objects.append(
                f"  <object><name>{escape(label)}</name><pose>Unspecified</pose>"
                f"<truncated>0</truncated><difficult>0</difficult><bndbox>"
                f"<xmin>{_num(x0)}</xmin><ymin>{_num(y0)}</ymin>"
                f"<xmax>{_num(x1)}</xmax><ymax>{_num(y1)}</ymax></bndbox></object>"
            )
        self._unsupported(item, {"bounding_box"}, "VOC holds axis-aligned boxes")
        size = (
            f"<size><width>{item.width or 0}</width><height>{item.height or 0}</height>"
            "<depth>3</depth></size>"
        )
        xml = (
            f"<annotation><folder>JPEGImages</folder><filename>{escape(item.name)}</filename>"
            f"{size}<segmented>0</segmented>\n" + "\n".join(objects) + "\n</annotation>\n"
        )
        (self.dest / "Annotations" / f"{item.stem}.xml").write_text(xml, encoding="utf-8")
        if item.split not in self.sets:
            self.sets[item.split] = self._set_file(item.split)
        self.sets[item.split].write(f"{item.stem}\n")
        return len(objects)

    def close(self) -> None:
        for out in self.sets.values():
            out.close()
        (self.dest / "labels.txt").write_text("".join(f"{n}\n" for n in self.registry.names()))
        self.files.append("labels.txt")


# --------------------------------------------------------------------------- ImageFolder


class ImageFolderWriter(Writer):
    """``<split>/<class>/<file>``: an image's class is its ``classification`` annotation."""

    class_tools = ("classification",)

    def media_path(self, item: Item) -> Path | None:
        labels = {a.label for a in item.annotations if a.tool == "classification" and a.label}
        if len(labels) != 1:
            reason = "NO_CLASS" if not labels else "AMBIGUOUS_CLASS"
            item.note("skipped", reason, None, f"image classes: {sorted(labels)}")
            return None
        label = self.registry.see(labels.pop())
        return self.dest / item.split / safe_component(label, "class") / item.name

    def add(self, item: Item) -> int:
        self._unsupported(item, {"classification"}, "ImageFolder holds one class per image")
        return sum(1 for a in item.annotations if a.tool == "classification")


WRITERS: dict[str, type[Writer]] = {
    "coco": CocoWriter,
    "yolo": YoloWriter,
    "yolo-segment": YoloSegmentWriter,
    "yolo-pose": YoloPoseWriter,
    "yolo-obb": YoloObbWriter,
    "voc": VocWriter,
    "imagefolder": ImageFolderWriter,
}
