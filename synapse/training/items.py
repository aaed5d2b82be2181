"""One image of a task, as the exporters see it, and the geometry they share: clipping,
polygon areas, COCO's run-length encoding, Person-17 poses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from synapse.annotations import PERSON_17, Annotation, Box, Keypoint
from synapse.training.report import Note

__all__ = ["Item", "Pose", "Spool", "coco_rle", "decode_coco_rle", "polygon_area", "poses"]

#: COCO's Person-17 skeleton, 1-based joint numbers.
SKELETON = [
    [16, 14],
    [14, 12],
    [17, 15],
    [15, 13],
    [12, 13],
    [6, 12],
    [7, 13],
    [6, 7],
    [6, 8],
    [7, 9],
    [8, 10],
    [9, 11],
    [2, 3],
    [1, 2],
    [1, 3],
    [2, 4],
    [3, 5],
    [4, 6],
    [5, 7],
]
FLIP_IDX = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


@dataclass
class Item:
    """One image of a task: where it goes, its size, and its annotations."""

    task: int
    media: str
    split: str
    name: str  # output file name, unique in the export: <task>_<media><suffix>
    width: int | None
    height: int | None
    url: str | None
    checksum: str | None
    annotations: list[Annotation]
    groups: dict[str, list[str]] = field(default_factory=dict)
    relations: int = 0
    notes: list[Note] = field(default_factory=list)

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def note(self, kind: str, reason: str, ann: Annotation | None = None, detail: str = "") -> None:
        self.notes.append(
            Note(
                kind,
                reason,
                self.task,
                self.media,
                ann.id if ann else None,
                ann.tool if ann else None,
                detail,
            )
        )

    def sized(self) -> bool:
        return bool(self.width) and bool(self.height)


@dataclass
class Pose:
    """A Person-17 pose made of a group's keypoints: 17 ``[x, y, v]`` (0,0,0 if absent)."""

    group: str
    label: str
    keypoints: list[list[float]]

    def box(self) -> tuple[float, float, float, float] | None:
        """The tight box ``x0, y0, x1, y1`` of the joints with v > 0."""
        seen = [(x, y) for x, y, v in self.keypoints if v > 0]
        if not seen:
            return None
        xs, ys = [p[0] for p in seen], [p[1] for p in seen]
        return min(xs), min(ys), max(xs), max(ys)

    @property
    def visible(self) -> int:
        return sum(1 for _, _, v in self.keypoints if v > 0)


def poses(item: Item) -> Iterator[Pose]:
    """The item's Person-17 poses; keypoints that make none are noted as skipped."""
    keypoints = {a.id: a for a in item.annotations if a.tool == "keypoint"}
    grouped: set[str] = set()
    for group, members in item.groups.items():
        points = [keypoints[m] for m in members if m in keypoints]
        if not points:
            continue
        grouped.update(a.id for a in points)
        slots: list[list[float]] = [[0.0, 0.0, 0.0] for _ in PERSON_17]
        problem = ""
        for ann in points:
            joint = ann.label
            if joint not in PERSON_17:
                problem = f"joint {joint!r} is not a Person-17 joint"
            elif slots[PERSON_17.index(joint)][2]:
                problem = f"joint {joint!r} appears twice"
            elif not isinstance(ann.geometry, Keypoint):
                problem = "a keypoint has no coordinate"
            else:
                visibility = ann.visibility if ann.visibility is not None else 2
                if visibility:
                    slot = [float(ann.geometry.x), float(ann.geometry.y), float(visibility)]
                    slots[PERSON_17.index(joint)] = slot
        if problem:
            for ann in points:
                item.note("skipped", "KEYPOINT_PROFILE_UNSUPPORTED", ann, problem)
            continue
        yield Pose(group, "person", slots)
    for ann in keypoints.values():
        if ann.id not in grouped:
            item.note("skipped", "KEYPOINT_UNGROUPED", ann, "a keypoint outside any pose group")


def clip_box(
    item: Item, ann: Annotation, x0: float, y0: float, x1: float, y1: float
) -> tuple[float, float, float, float] | None:
    """The box clipped to the image (noted when clipped); None (noted) when nothing is left."""
    if not item.sized():
        return x0, y0, x1, y1
    assert item.width is not None
    assert item.height is not None
    cx0, cy0 = min(max(x0, 0.0), item.width), min(max(y0, 0.0), item.height)
    cx1, cy1 = min(max(x1, 0.0), item.width), min(max(y1, 0.0), item.height)
    if cx1 <= cx0 or cy1 <= cy0:
        item.note("skipped", "OUTSIDE_IMAGE", ann, "no part of the box is inside the image")
        return None
    if (cx0, cy0, cx1, cy1) != (x0, y0, x1, y1):
        item.note("lossy", "CLIPPED_TO_IMAGE", ann, f"box {x0},{y0},{x1},{y1} clipped")
    return cx0, cy0, cx1, cy1


def box_corners(box: Box) -> tuple[float, float, float, float]:
    """The axis-aligned extent ``x0, y0, x1, y1`` of a (possibly rotated) box."""
    if not box.rotated:
        return box.x, box.y, box.x + box.width, box.y + box.height
    corners = box.corners()
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    return min(xs), min(ys), max(xs), max(ys)


def valid_box(item: Item, ann: Annotation, box: Box) -> bool:
    if box.width > 0 and box.height > 0:
        return True
    item.note("skipped", "INVALID_GEOMETRY", ann, "a box needs a positive width and height")
    return False


def polygon_area(points: list[tuple[float, float]]) -> float:
    """The shoelace area of a closed ring."""
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        total += x0 * y1 - x1 * y0
    return abs(total) / 2


def mask_pixels(item: Item, ann: Annotation, pixels: list[int]) -> bool:
    """The mask's pixels fit the image (noted and False otherwise)."""
    if not item.sized():
        item.note("skipped", "MASK_WITHOUT_IMAGE_SIZE", ann, "the image size is unknown")
        return False
    assert item.width is not None
    assert item.height is not None
    if not pixels:
        item.note("skipped", "INVALID_GEOMETRY", ann, "an empty mask")
        return False
    if pixels[0] < 0 or pixels[-1] >= item.width * item.height:
        item.note("skipped", "INVALID_GEOMETRY", ann, "mask pixels outside the image")
        return False
    return True


def mask_outlines(pixels: list[int], width: int) -> list[list[tuple[int, int]]]:
    """The outlines of a mask (row-major pixel indices) along the pixels' edges, as
    closed rings of corner points: outer rings have a positive shoelace area (clockwise
    on screen), holes a negative one; the areas add up to the pixel count exactly."""
    on = set(pixels)
    edges: dict[tuple[int, int], list[tuple[int, int]]] = {}

    def edge(a: tuple[int, int], b: tuple[int, int]) -> None:
        edges.setdefault(a, []).append(b)

    for p in pixels:
        x, y = p % width, p // width
        if p - width not in on:
            edge((x, y), (x + 1, y))
        if x == width - 1 or p + 1 not in on:
            edge((x + 1, y), (x + 1, y + 1))
        if p + width not in on:
            edge((x + 1, y + 1), (x, y + 1))
        if x == 0 or p - 1 not in on:
            edge((x, y + 1), (x, y))
    rings: list[list[tuple[int, int]]] = []
    for start in sorted(edges):
        while edges.get(start):
            ring = [start]
            point = edges[start].pop()
            while point != start:
                ring.append(point)
                point = edges[point].pop()
            rings.append(_without_collinear(ring))
    return rings


def _without_collinear(ring: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out = []
    for i, (x, y) in enumerate(ring):
        (px, py), (nx, ny) = ring[i - 1], ring[(i + 1) % len(ring)]
        if (x - px) * (ny - y) != (y - py) * (nx - x):
            out.append((x, y))
    return out


def signed_area(points: list[tuple[int, int]]) -> float:
    total = 0.0
    for (x0, y0), (x1, y1) in zip(points, points[1:] + points[:1], strict=True):
        total += x0 * y1 - x1 * y0
    return total / 2


def coco_rle(pixels: list[int], width: int, height: int) -> dict[str, Any]:
    """COCO's compressed RLE of a mask given as sorted row-major pixel indices: runs over
    the column-major order, starting with a run of background, as a LEB128-like string."""
    column_major = sorted((p % width) * height + p // width for p in pixels)
    counts: list[int] = []
    position = 0
    for p in column_major:
        if counts and len(counts) % 2 == 0 and p == position:
            counts[-1] += 1  # extends the current foreground run
            position += 1
            continue
        counts.append(p - position)  # background before this pixel
        counts.append(1)
        position = p + 1
    counts.append(width * height - position)
    while len(counts) > 1 and counts[-1] == 0:
        counts.pop()
    return {"size": [height, width], "counts": _rle_string(counts)}


def _rle_string(counts: list[int]) -> str:
    out = []
    for i, count in enumerate(counts):
        value = count - counts[i - 2] if i > 2 else count
        while True:
            chunk = value & 0x1F
            value >>= 5
            more = value != -1 if chunk & 0x10 else value != 0
            out.append(chr(48 + (chunk | 0x20 if more else chunk)))
            if not more:
                break
    return "".join(out)


def decode_coco_rle(rle: dict[str, Any]) -> list[int]:
    """Row-major pixel indices of a COCO RLE (compressed string or count list)."""
    height, width = rle["size"]
    raw = rle["counts"]
    counts = _rle_counts(raw) if isinstance(raw, str) else [int(c) for c in raw]
    pixels: list[int] = []
    position = 0
    for i, count in enumerate(counts):
        if i % 2:
            pixels.extend(
                (p % height) * width + p // height for p in range(position, position + count)
            )
        position += count
    return sorted(pixels)


def _rle_counts(text: str) -> list[int]:
    counts: list[int] = []
    i = 0
    while i < len(text):
        value, shift, more = 0, 0, True
        while more:
            chunk = ord(text[i]) - 48
            value |= (chunk & 0x1F) << (5 * shift)
            more = bool(chunk & 0x20)
            i += 1
            shift += 1
            if not more and chunk & 0x10:
                value |= -1 << (5 * shift)
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
    return counts


class Spool:
    """Per-image records on disk (one JSON line each) until class ids are known at the
    end of the export: memory stays bounded whatever the number of images."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out = path.open("w", encoding="utf-8")

    def add(self, record: dict[str, Any]) -> None:
        self._out.write(json.dumps(record, separators=(",", ":")) + "\n")

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._out.flush()
        with self.path.open(encoding="utf-8") as source:
            for line in source:
                yield json.loads(line)

    def take(self, path: Path) -> None:
        """Append another spool's file (a shard's) and remove it."""
        with path.open(encoding="utf-8") as source:
            for line in source:
                self._out.write(line)
        path.unlink()

    def finish(self) -> None:
        """Close the file and keep it (a shard's, for the caller to take)."""
        self._out.close()

    def close(self) -> None:
        self._out.close()
        self.path.unlink(missing_ok=True)
