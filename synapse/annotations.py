"""Typed DM annotations: a task's ``data`` (DM v1) read into objects and written back
without loss, and converted to and from DM v2.

A [`Document`][synapse.annotations.Document] keeps every field it does not model (flags,
``label``, unknown keys of records and of the top level, records it cannot parse) and
writes an annotation back exactly as it was read unless its geometry or class changed, so
``Document.from_v1(data).to_v1() == data`` for any task data. Coordinates are absolute
pixels, origin at the top-left, x right and y down. A box's ``rotation`` is in radians;
the SDK takes it as clockwise on screen about the box's centre (the format leaves both
open).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from synapse.errors import InvalidInputError

__all__ = [
    "MEDIA_PLURALS",
    "PERSON_17",
    "Annotation",
    "Box",
    "Document",
    "Keypoint",
    "Mask",
    "Point",
    "Polygon",
    "Polyline",
    "natural_media_order",
]

#: Media id prefix -> the plural key of DM v2.
MEDIA_PLURALS = {
    "image": "images",
    "video": "videos",
    "pcd": "pcds",
    "text": "texts",
    "audio": "audios",
    "prompt": "prompts",
    "data": "datas",
}
_MEDIA_ID = re.compile(r"([a-z]+)_(\d+)")

#: The COCO Person-17 joints, in keypoint order.
PERSON_17 = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
VISIBILITY = {"missing": 0, "occluded": 1, "visible": 2, 0: 0, 1: 1, 2: 2}
_VISIBILITY_NAMES = {0: "missing", 1: "occluded", 2: "visible"}

Number = int | float


@dataclass
class Point:
    """A vertex; ``id`` is the vertex id DM v1 gives each point (kept when known)."""

    x: Number
    y: Number
    id: str | None = None


@dataclass
class Box:
    """``bounding_box``: top-left corner, size, optional rotation (radians)."""

    x: Number
    y: Number
    width: Number
    height: Number
    rotation: Number | None = None

    @property
    def rotated(self) -> bool:
        return bool(self.rotation)

    def corners(self) -> list[tuple[float, float]]:
        """The four corners, clockwise from the top-left, after rotation about the centre."""
        import math

        cx, cy = self.x + self.width / 2, self.y + self.height / 2
        angle = float(self.rotation or 0)
        cos, sin = math.cos(angle), math.sin(angle)
        out = []
        for dx, dy in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
            px, py = dx * self.width / 2, dy * self.height / 2
            out.append((cx + px * cos - py * sin, cy + px * sin + py * cos))
        return out

    def _v1(self) -> dict[str, Any]:
        coordinate: dict[str, Any] = {
            "x": self.x,
            "y": self.y,
            "width": self.width,
            "height": self.height,
        }
        if self.rotation is not None:
            coordinate["rotation"] = self.rotation
        return {"coordinate": coordinate}


@dataclass
class Polygon:
    """``polygon``: a closed ring, first point not repeated."""

    points: list[Point]

    def _v1(self) -> dict[str, Any]:
        return {"coordinate": [_point_v1(p) for p in self.points]}


@dataclass
class Polyline:
    """``polyline``: an open path."""

    points: list[Point]

    def _v1(self) -> dict[str, Any]:
        return {"coordinate": [_point_v1(p) for p in self.points]}


@dataclass
class Keypoint:
    """``keypoint``: one point; its joint name is the annotation's class."""

    x: Number
    y: Number

    def _v1(self) -> dict[str, Any]:
        return {"coordinate": {"x": self.x, "y": self.y}}


@dataclass
class Mask:
    """``segmentation`` of an image: row-major pixel indices (``y * width + x``), or
    ``[start, length]`` runs when ``compressed``."""

    values: list[Any]
    compressed: bool = False

    def pixels(self) -> list[int]:
        """The mask's pixel indices, sorted and unique."""
        if not self.compressed:
            return sorted({int(v) for v in self.values})
        out: set[int] = set()
        for start, length in self.values:
            out.update(range(int(start), int(start) + int(length)))
        return sorted(out)

    def _v1(self) -> dict[str, Any]:
        return {
            "pixel_indices": self.values,
            "isCompressed": self.compressed,
            "compressionFormat": "rle" if self.compressed else None,
        }


Geometry = Box | Polygon | Polyline | Keypoint | Mask
_GEOMETRY_KEYS = {"coordinate", "pixel_indices", "isCompressed", "compressionFormat"}


def _point_v1(p: Point) -> dict[str, Any]:
    return {"x": p.x, "y": p.y, **({"id": p.id} if p.id is not None else {})}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _points(raw: Any) -> list[Point] | None:
    if not isinstance(raw, list):
        return None
    points = []
    for item in raw:
        if not isinstance(item, Mapping) or not (_number(item.get("x")) and _number(item.get("y"))):
            return None
        if set(item) - {"x", "y", "id"}:
            return None  # something we would not write back: keep the record raw
        points.append(Point(item["x"], item["y"], item.get("id")))
    return points


def parse_geometry(tool: str, data: Mapping[str, Any]) -> Geometry | None:
    """The typed geometry of one ``annotationsData`` record, or None when the tool has
    none (classification) or the record is not in a shape we can write back as it was."""
    coordinate = data.get("coordinate")
    if tool == "bounding_box" and isinstance(coordinate, Mapping):
        keys = set(coordinate)
        if {"x", "y", "width", "height"} <= keys <= {"x", "y", "width", "height", "rotation"}:
            values = [coordinate[k] for k in ("x", "y", "width", "height")]
            rotation = coordinate.get("rotation")
            if all(_number(v) for v in values) and (rotation is None or _number(rotation)):
                if "rotation" in keys and rotation is None:
                    return None
                return Box(values[0], values[1], values[2], values[3], rotation)
        return None
    if tool in ("polygon", "polyline"):
        points = _points(coordinate)
        if points is None:
            return None
        return Polygon(points) if tool == "polygon" else Polyline(points)
    if tool == "keypoint" and isinstance(coordinate, Mapping) and set(coordinate) == {"x", "y"}:
        if _number(coordinate["x"]) and _number(coordinate["y"]):
            return Keypoint(coordinate["x"], coordinate["y"])
        return None
    if tool == "segmentation" and "pixel_indices" in data:
        indices = data.get("pixel_indices")
        compressed = data.get("isCompressed")
        fmt = data.get("compressionFormat")
        if not isinstance(indices, list) or not isinstance(compressed, bool):
            return None
        if compressed and fmt == "rle":
            ok = all(
                isinstance(r, list) and len(r) == 2 and all(type(v) is int for v in r)
                for r in indices
            )
        elif not compressed and fmt is None:
            ok = all(type(v) is int for v in indices)
        else:
            ok = False
        return Mask(indices, compressed) if ok else None
    return None


@dataclass
class Annotation:
    """One annotation: its meta record and its data record, joined by ``id``.

    ``meta`` and ``data`` hold the records as read (flags, ``label``, unknown keys);
    [`label`][synapse.annotations.Annotation.label], ``attributes`` and ``geometry`` are
    the typed views, and what changes in them is written back.
    """

    id: str
    tool: str
    media: str
    geometry: Geometry | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] | None = None
    _read_geometry: Geometry | None = field(default=None, repr=False, compare=False)
    _without_data: bool = field(default=False, repr=False, compare=False)

    @property
    def classification(self) -> dict[str, Any]:
        value = self.meta.get("classification")
        return dict(value) if isinstance(value, Mapping) else {}

    @property
    def label(self) -> str | None:
        """The class (``classification.class``), normally a configured class code."""
        value = self.classification.get("class")
        return value if isinstance(value, str) else None

    @label.setter
    def label(self, value: str) -> None:
        self.meta["classification"] = {**self.classification, "class": value}

    @property
    def attributes(self) -> dict[str, Any]:
        """The user attributes: every classification key but ``class``."""
        return {k: v for k, v in self.classification.items() if k != "class"}

    @property
    def visibility(self) -> int | None:
        """A keypoint's visibility as 0 (missing), 1 (occluded) or 2 (visible)."""
        value = self.classification.get("visibility")
        return VISIBILITY.get(value) if isinstance(value, (str, int)) else None

    @classmethod
    def new(
        cls,
        tool: str,
        geometry: Geometry | None,
        *,
        media: str = "image_1",
        label: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        id: str | None = None,
    ) -> Annotation:
        """A new annotation with the annotator's default flags and a random id."""
        classification: dict[str, Any] = {"class": label} if label is not None else {}
        classification.update(attributes or {})
        meta = {
            "isLocked": False,
            "isVisible": True,
            "isValid": True,
            "isDrawCompleted": True,
            "label": [],
            "classification": classification,
        }
        return cls(id or new_id(), tool, media, geometry, meta, None)

    def meta_record(self) -> dict[str, Any]:
        return {"id": self.id, "tool": self.tool, **self.meta}

    def data_record(self) -> dict[str, Any]:
        if self.data is not None and self.geometry == self._read_geometry:
            return copy.deepcopy(self.data)  # unchanged: exactly as read
        kept = {k: v for k, v in (self.data or {}).items() if k not in _GEOMETRY_KEYS}
        kept["id"] = self.id
        if self.geometry is not None:
            kept.update(copy.deepcopy(self.geometry._v1()))
        return kept


def new_id() -> str:
    """A random 10-character alphanumeric id, as the annotator makes them."""
    import secrets
    import string

    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(10))


def natural_media_order(media_ids: list[str]) -> list[str]:
    """Media ids by type then number (``image_2`` before ``image_10``)."""

    def key(media: str) -> tuple[str, int, str]:
        match = _MEDIA_ID.fullmatch(media)
        return (match.group(1), int(match.group(2)), media) if match else (media, 0, media)

    return sorted(media_ids, key=key)


def media_type(media: str) -> str | None:
    """``image`` for ``image_2``; None when the id has no known type prefix."""
    match = _MEDIA_ID.fullmatch(media)
    return match.group(1) if match and match.group(1) in MEDIA_PLURALS else None


@dataclass
class Document:
    """A DM v1 document: annotations by media id, and the rest of its top level."""

    annotations: dict[str, list[Annotation]] = field(default_factory=dict)
    top: dict[str, Any] = field(default_factory=dict)  # extra, relations, groups, unknown keys
    orphans: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _data_order: dict[str, list[str | int]] = field(default_factory=dict, repr=False)
    _media_order: tuple[list[str], list[str]] = field(default=([], []), repr=False)
    _keys: tuple[bool, bool] = field(default=(False, False), repr=False)

    # ------------------------------------------------------------------ v1

    @classmethod
    def from_v1(cls, data: Mapping[str, Any] | None) -> Document:
        """Read a task's ``data``. Empty or missing data gives an empty document; data
        that is not DM v1 raises ``InvalidInputError``."""
        if not data:
            return cls(top=dict(data or {}))
        if not isinstance(data, Mapping):
            raise InvalidInputError(f"DM v1 data is an object, not {type(data).__name__}")
        metas = data.get("annotations", {})
        datas = data.get("annotationsData", {})
        if not isinstance(metas, Mapping) or not isinstance(datas, Mapping):
            raise InvalidInputError(
                "DM v1 data needs 'annotations' and 'annotationsData' objects keyed by media id"
            )
        doc = cls(
            top={
                k: copy.deepcopy(v)
                for k, v in data.items()
                if k not in ("annotations", "annotationsData")
            }
        )
        doc._media_order = (list(metas), list(datas))
        doc._keys = ("annotations" in data, "annotationsData" in data)
        by_id = doc._read_data(datas)
        used = doc._read_metas(metas, by_id)
        for (media, ann_id), raw in by_id.items():
            if (media, ann_id) not in used:  # data without its meta record: kept in place
                kept = doc.orphans.setdefault(media, [])
                order = doc._data_order[media]
                order[order.index(ann_id)] = len(kept)
                kept.append(raw)
        return doc

    def _read_data(self, datas: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
        """The geometry records of ``annotationsData`` by (media, id); records without an
        id, or with one seen before, are kept in place as orphans."""
        for media, records in datas.items():
            if not isinstance(records, list):
                raise InvalidInputError(f"annotationsData[{media!r}] is not a list")
        by_id: dict[tuple[str, str], dict[str, Any]] = {}
        for media, records in datas.items():
            self._data_order[media] = []
            for record in records:
                rid = record.get("id") if isinstance(record, Mapping) else None
                if isinstance(rid, str) and (media, rid) not in by_id:
                    by_id[media, rid] = copy.deepcopy(dict(record))
                    self._data_order[media].append(rid)
                else:  # no id, or an id seen before: kept in place as it is
                    kept = self.orphans.setdefault(media, [])
                    self._data_order[media].append(len(kept))
                    kept.append(copy.deepcopy(record))
        return by_id

    def _read_metas(
        self, metas: Mapping[str, Any], by_id: dict[tuple[str, str], dict[str, Any]]
    ) -> set[tuple[str, str]]:
        """The annotations of ``annotations``, each with its geometry record; the
        (media, id) keys of the records they used."""
        used: set[tuple[str, str]] = set()
        for media, records in metas.items():
            if not isinstance(records, list):
                raise InvalidInputError(f"annotations[{media!r}] is not a list")
            self.annotations[media] = []
            for record in records:
                if not isinstance(record, Mapping) or not isinstance(record.get("id"), str):
                    raise InvalidInputError(f"an annotation of {media!r} has no string id")
                meta = copy.deepcopy(dict(record))
                ann_id, tool = meta.pop("id"), meta.pop("tool", None)
                if not isinstance(tool, str):
                    raise InvalidInputError(f"annotation {ann_id!r} has no tool")
                key = (media, ann_id)
                raw = by_id.get(key) if key not in used else None
                used.add(key)
                geometry = parse_geometry(tool, raw) if raw is not None else None
                ann = Annotation(ann_id, tool, media, geometry, meta, raw, copy.deepcopy(geometry))
                ann._without_data = raw is None
                self.annotations[media].append(ann)
        return used

    def to_v1(self) -> dict[str, Any]:
        """The DM v1 document: what was read, with the changes made since."""
        meta_media = list(self._media_order[0]) + [
            m for m in self.annotations if m not in self._media_order[0]
        ]
        annotations = {
            m: [a.meta_record() for a in self.annotations.get(m, [])] for m in meta_media
        }
        data_media = list(self._media_order[1]) + [
            m for m in meta_media if m not in self._media_order[1] and self.annotations.get(m)
        ]
        annotations_data: dict[str, list[Any]] = {}
        for media in data_media:
            records = {a.id: a for a in self.annotations.get(media, [])}
            orphans = self.orphans.get(media, [])
            out: list[Any] = []
            seen: set[str] = set()
            for entry in self._data_order.get(media, []):
                if isinstance(entry, int):
                    out.append(copy.deepcopy(orphans[entry]))
                elif entry in records and entry not in seen:
                    out.append(records[entry].data_record())
                    seen.add(entry)
            out.extend(
                a.data_record()
                for a in self.annotations.get(media, [])
                if a.id not in seen and not (a._without_data and a.geometry is None)
            )
            annotations_data[media] = out
        document = copy.deepcopy(self.top)
        if annotations or self._keys[0]:
            document["annotations"] = annotations
        if annotations_data or self._keys[1] or annotations:
            document["annotationsData"] = annotations_data
        return document

    # ------------------------------------------------------------------ views

    def __iter__(self) -> Iterator[Annotation]:
        for records in self.annotations.values():
            yield from records

    def media(self) -> list[str]:
        return natural_media_order(list(self.annotations))

    @property
    def extra(self) -> dict[str, Any]:
        value = self.top.get("extra")
        return value if isinstance(value, dict) else {}

    def groups(self, media: str) -> dict[str, list[str]]:
        """Keypoint groups of a media: group id -> member annotation ids. Both group
        shapes are read (``annotationIds``, and ``annotationList`` with ``children``)."""
        raw = self.top.get("annotationGroups")
        items = raw.get(media, []) if isinstance(raw, Mapping) else []
        out: dict[str, list[str]] = {}
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping) or not isinstance(item.get("id"), str):
                continue
            members = item.get("annotationIds")
            if isinstance(members, list):
                out[item["id"]] = [m for m in members if isinstance(m, str)]
            elif isinstance(item.get("annotationList"), list):
                out[item["id"]] = list(_tree_ids(item["annotationList"]))
        return out

    def group_of(self, media: str) -> dict[str, str]:
        """Annotation id -> its group id (the first group naming it)."""
        out: dict[str, str] = {}
        for group, members in self.groups(media).items():
            for member in members:
                out.setdefault(member, group)
        return out

    def add(self, annotation: Annotation) -> None:
        self.annotations.setdefault(annotation.media, []).append(annotation)

    def set_groups(self, media: str, groups: Mapping[str, list[str]]) -> None:
        """Replace a media's groups (``annotationIds`` shape)."""
        raw = self.top.setdefault("annotationGroups", {})
        raw[media] = [{"id": g, "annotationIds": list(m)} for g, m in groups.items()]

    # ------------------------------------------------------------------ v2

    def to_v2(self) -> dict[str, Any]:
        """``{"annotation_data": <DM v2>, "annotation_meta": <this as DM v1>}``."""
        index: dict[str, set[str]] = {}
        data: dict[str, Any] = {}
        for media in self.media():
            kind = media_type(media)
            if kind is None:
                continue
            groups = self.group_of(media)
            item: dict[str, list[dict[str, Any]]] = {}
            for ann in self.annotations[media]:
                entry = _v2_entry(ann, groups.get(ann.id))
                item.setdefault(ann.tool, []).append(entry)
                if ann.label is not None:
                    index.setdefault(ann.tool, set()).add(ann.label)
            data.setdefault(MEDIA_PLURALS[kind], []).append(item)
        classification = {tool: sorted(labels) for tool, labels in sorted(index.items())}
        return {
            "annotation_data": {"classification": classification, **data},
            "annotation_meta": self.to_v1(),
        }

    @classmethod
    def from_v2(cls, v2: Mapping[str, Any]) -> Document:
        """Read DM v2, wrapped (``annotation_data`` + ``annotation_meta``) or bare.

        With the meta, media ids, flags, vertex ids and everything else come from it and
        the geometry and classes from the v2 data. Without it, media are numbered 1..N per
        type, flags take their defaults, and ``group_id`` rebuilds the groups.
        """
        wrapped = "annotation_data" in v2
        data = v2["annotation_data"] if wrapped else v2
        meta = v2.get("annotation_meta") if wrapped else None
        if not isinstance(data, Mapping):
            raise InvalidInputError("DM v2 annotation_data is an object")
        doc = cls.from_v1(meta) if isinstance(meta, Mapping) and meta else cls()
        known = {(a.media, a.id): a for a in doc}
        by_type: dict[str, list[str]] = {}
        for media in doc.media():
            kind = media_type(media)
            if kind:
                by_type.setdefault(kind, []).append(media)
        seen: set[tuple[str, str]] = set()
        for kind, plural in MEDIA_PLURALS.items():
            items = data.get(plural)
            if not isinstance(items, list):
                continue
            names = by_type.get(kind, [])
            for position, item in enumerate(items):
                media = names[position] if position < len(names) else f"{kind}_{position + 1}"
                groups: dict[str, list[str]] = {}
                if not isinstance(item, Mapping):
                    raise InvalidInputError(f"{plural}[{position}] is not an object")
                for tool, entries in item.items():
                    for entry in entries if isinstance(entries, list) else []:
                        old = known.get((media, str(entry.get("id"))))
                        ann = _from_v2_entry(tool, entry, media, old)
                        seen.add((media, ann.id))
                        if old is None:
                            doc.add(ann)
                        if tool == "keypoint" and isinstance(entry.get("group_id"), str):
                            groups.setdefault(entry["group_id"], []).append(ann.id)
                if groups and not doc.groups(media):
                    doc.set_groups(media, groups)
        for media, records in doc.annotations.items():
            if media_type(media):
                doc.annotations[media] = [a for a in records if (media, a.id) in seen]
        return doc


def _tree_ids(nodes: list[Any]) -> Iterator[str]:
    for node in nodes:
        if isinstance(node, Mapping):
            if isinstance(node.get("annotationId"), str):
                yield node["annotationId"]
            if isinstance(node.get("children"), list):
                yield from _tree_ids(node["children"])


def _v2_entry(ann: Annotation, group: str | None) -> dict[str, Any]:
    attrs = [{"name": k, "value": v} for k, v in ann.attributes.items()]
    entry: dict[str, Any] = {"id": ann.id, "classification": ann.label, "attrs": attrs}
    geometry = ann.geometry
    raw = ann.data_record()
    if isinstance(geometry, Box):
        entry["data"] = [geometry.x, geometry.y, geometry.width, geometry.height]
        if geometry.rotation is not None:
            attrs.append({"name": "rotation", "value": geometry.rotation})
    elif isinstance(geometry, (Polygon, Polyline)):
        entry["data"] = [[p.x, p.y] for p in geometry.points]
    elif isinstance(geometry, Keypoint):
        entry["data"] = [geometry.x, geometry.y]
        entry["visibility"] = ann.visibility if ann.visibility is not None else 2
        if group is not None:
            entry["group_id"] = group
    elif isinstance(geometry, Mask):
        entry["data"] = geometry.values
        entry["encoding"] = "dm_rle" if geometry.compressed else "raw_indices"
        entry["isCompressed"] = geometry.compressed
        entry["compressionFormat"] = "rle" if geometry.compressed else None
    elif ann.tool == "classification":
        entry["data"] = {}
    elif ann.tool == "relation":
        entry["data"] = [raw.get("annotationId"), raw.get("targetAnnotationId")]
    else:
        entry["data"] = {k: v for k, v in raw.items() if k != "id"}
    return entry


def _from_v2_entry(
    tool: str, entry: Mapping[str, Any], media: str, known: Annotation | None
) -> Annotation:
    if not isinstance(entry, Mapping) or not isinstance(entry.get("id"), str):
        raise InvalidInputError(f"a DM v2 {tool} entry has no string id")
    attrs = {a["name"]: a["value"] for a in entry.get("attrs", []) if isinstance(a, Mapping)}
    value = entry.get("data")
    geometry: Geometry | None = None
    rotation = attrs.pop("rotation", None) if tool == "bounding_box" else None
    if tool == "bounding_box" and isinstance(value, list) and len(value) == 4:
        geometry = Box(value[0], value[1], value[2], value[3], rotation)
    elif tool in ("polygon", "polyline") and isinstance(value, list):
        old = known.geometry if known is not None else None
        ids: list[str | None] = [None] * len(value)
        if isinstance(old, (Polygon, Polyline)) and len(old.points) == len(value):
            ids = [p.id for p in old.points]
        points = [Point(x, y, ids[i] or new_id()) for i, (x, y) in enumerate(value)]
        geometry = Polygon(points) if tool == "polygon" else Polyline(points)
    elif tool == "keypoint" and isinstance(value, list) and len(value) == 2:
        geometry = Keypoint(value[0], value[1])
        unset = known is not None and "visibility" not in known.classification
        if (
            "visibility" in entry
            and "visibility" not in attrs
            and not (
                unset and entry["visibility"] == 2  # the default given to an unset one
            )
        ):
            visibility = entry["visibility"]
            stored = known.classification.get("visibility") if known is not None else None
            attrs["visibility"] = (
                stored
                if stored is not None and VISIBILITY.get(stored) == visibility
                else _VISIBILITY_NAMES.get(visibility, visibility)
            )
    elif tool == "segmentation" and isinstance(value, list):
        geometry = Mask(value, bool(entry.get("isCompressed")))
    if known is not None:
        known.geometry = geometry if geometry is not None else known.geometry
        label = entry.get("classification")
        if isinstance(label, str):
            known.meta["classification"] = {"class": label, **attrs}
        return known
    label = entry.get("classification")
    ann = Annotation.new(
        tool,
        geometry,
        media=media,
        label=label if isinstance(label, str) else None,
        attributes=attrs,
        id=entry["id"],
    )
    if tool == "relation" and isinstance(value, list) and len(value) == 2:
        ann.data = {"id": ann.id, "annotationId": value[0], "targetAnnotationId": value[1]}
        ann._read_geometry = None
    elif geometry is None and isinstance(value, Mapping):
        ann.data = {"id": ann.id, **value}
    return ann
