"""Properties of the exporters' pieces, with no server: COCO RLE equals pycocotools',
splits are deterministic, disjoint and covering, and DM -> COCO/YOLO -> DM keeps every
annotation the format can hold."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools import mask as mask_utils

from synapse.annotations import Annotation, Box, Mask, Point, Polygon
from synapse.errors import InvalidInputError
from synapse.training.classes import ClassRegistry, configured_classes
from synapse.training.formats import WRITERS
from synapse.training.importing import read_labels
from synapse.training.items import Item, coco_rle, decode_coco_rle
from synapse.training.splits import Split


@given(st.integers(1, 12), st.integers(1, 12), st.data())
def test_coco_rle_is_the_same_string_pycocotools_makes(
    width: int, height: int, data: st.DataObject
) -> None:
    pixels = sorted(data.draw(st.sets(st.integers(0, width * height - 1))))
    rle = coco_rle(pixels, width, height)
    grid = np.zeros((height, width), dtype=np.uint8)
    grid.reshape(-1)[pixels] = 1
    reference = mask_utils.encode(np.asfortranarray(grid))
    assert rle["counts"] == reference["counts"].decode()
    assert decode_coco_rle(rle) == pixels


@given(
    st.lists(st.integers(1, 10**6), unique=True, max_size=200),
    st.dictionaries(st.sampled_from(["train", "val", "test"]), st.floats(0.01, 5), min_size=1),
    st.integers(),
)
def test_ratio_splits_are_deterministic_disjoint_and_covering(
    keys: list[int], ratios: dict[str, float], seed: int
) -> None:
    split = Split.ratios(seed=seed, **ratios)
    assigned = {k: split.of(k) for k in keys}
    assert set(assigned.values()) <= set(ratios)
    assert {k: split.of(k) for k in reversed(keys)} == assigned  # order does not matter
    assert Split.ratios(seed=seed, **ratios).of(keys[0] if keys else 1) == split.of(
        keys[0] if keys else 1
    )


def test_ratio_splits_follow_the_ratios() -> None:
    split = Split.ratios(train=0.8, val=0.2, seed=7)
    share = sum(split.of(k) == "train" for k in range(10_000)) / 10_000
    assert 0.78 < share < 0.82
    assert Split.ratios(train=0.8, val=0.2, seed=8).of(5) in ("train", "val")


@pytest.mark.parametrize("bad", [{"train": -1}, {"Train": 1}, {"train": "x"}, {"a": 0}, 3])
def test_bad_splits_are_refused(bad: object) -> None:
    with pytest.raises(InvalidInputError):
        Split.coerce(bad)  # type: ignore[arg-type]


def test_configured_classes_read_every_configuration_shape() -> None:
    schema = {
        "classification": {
            "bounding_box": {"classification_schema": [{"code": "car"}, {"code": " truck "}]},
            "polygon": {"classification_schema": [{"code": "road"}, {"code": "car"}]},
        }
    }
    assert configured_classes(schema) == ["car", "truck", "road"]
    assert configured_classes(schema, ["polygon"]) == ["road", "car"]
    assert configured_classes({"classification": {"bounding_box": ["a", "b"]}}) == ["a", "b"]
    assert configured_classes({"classes": [{"code": "x", "tool": "polygon"}]}) == ["x"]
    registry = ClassRegistry(["car", "truck"])
    registry.see("zebra")
    registry.see("apple")
    registry.see("car")
    assert registry.ids() == {"car": 0, "truck": 1, "apple": 2, "zebra": 3}


sizes = st.tuples(st.integers(8, 200), st.integers(8, 200))


@st.composite
def images(draw: st.DrawFn) -> tuple[int, int, list[Annotation]]:
    width, height = draw(sizes)
    anns = []
    for _ in range(draw(st.integers(0, 5))):
        kind = draw(st.sampled_from(["box", "polygon", "mask"]))
        label = draw(st.sampled_from(["car", "road", "bus"]))
        if kind == "box":
            x = draw(st.floats(0, width - 2))
            y = draw(st.floats(0, height - 2))
            box = Box(x, y, draw(st.floats(0.5, width - x)), draw(st.floats(0.5, height - y)))
            anns.append(Annotation.new("bounding_box", box, label=label))
        elif kind == "polygon":
            x, y = draw(st.integers(0, width - 4)), draw(st.integers(0, height - 4))
            points = [Point(x, y), Point(x + 3, y), Point(x + 3, y + 3)]
            anns.append(Annotation.new("polygon", Polygon(points), label=label))
        else:
            pixels = sorted(
                draw(st.sets(st.integers(0, width * height - 1), min_size=1, max_size=30))
            )
            anns.append(Annotation.new("segmentation", Mask(pixels), label=label))
    return width, height, anns


def _write(fmt: str, dest: Path, scenes: list[tuple[int, int, list[Annotation]]]) -> None:
    writer = WRITERS[fmt](dest, ("all",), ClassRegistry(["road"]))
    for n, (width, height, anns) in enumerate(scenes):
        writer.add(Item(n, "image_1", "all", f"{n}_image_1.png", width, height, None, None, anns))
    writer.close()


@given(st.lists(images(), min_size=1, max_size=4))
@settings(max_examples=40)
def test_dm_to_coco_to_dm_keeps_boxes_polygons_and_masks(
    scenes: list[tuple[int, int, list[Annotation]]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "coco"
        _write("coco", dest, scenes)
        records = {r.file: r for r in read_labels(dest, "coco")}
    for n, (_, _, anns) in enumerate(scenes):
        back = records[f"all/{n}_image_1.png"].annotations
        assert sorted((a.tool, a.label) for a in back) == sorted((a.tool, a.label) for a in anns)
        for tool in ("bounding_box", "segmentation"):
            want = sorted(((a.label, _shape(a)) for a in anns if a.tool == tool), key=_key)
            got = sorted(((a.label, _shape(a)) for a in back if a.tool == tool), key=_key)
            assert [g[0] for g in got] == [w[0] for w in want]
            for (_, g), (_, w) in zip(got, want, strict=True):
                assert g == pytest.approx(w, abs=1e-9)


@given(st.lists(images(), min_size=1, max_size=4))
@settings(max_examples=40)
def test_dm_to_yolo_to_dm_keeps_boxes_to_1e_6(
    scenes: list[tuple[int, int, list[Annotation]]],
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "yolo"
        _write("yolo", dest, scenes)
        records = {r.file: r for r in read_labels(dest, "yolo")}
    for n, (width, height, anns) in enumerate(scenes):
        back = records[f"{n}_image_1"].scaled(width, height)
        want = sorted(((a.label, _shape(a)) for a in anns if a.tool == "bounding_box"), key=_key)
        got = sorted(((a.label, _shape(a)) for a in back), key=_key)
        assert [g[0] for g in got] == [w[0] for w in want]
        for (_, g), (_, w) in zip(got, want, strict=True):
            assert g == pytest.approx(w, abs=1e-6)


def _key(entry: tuple[str | None, tuple[float, ...]]) -> tuple[str, tuple[float, ...]]:
    """Sorts a read-back shape with its source even when the two differ by 1e-15."""
    return entry[0] or "", tuple(round(v, 3) for v in entry[1])


def _shape(ann: Annotation) -> tuple[float, ...]:
    g = ann.geometry
    if isinstance(g, Box):
        return (g.x, g.y, g.width, g.height)
    assert isinstance(g, Mask)
    return tuple(g.pixels())


def _inside(x: float, y: float, rings: list[list[tuple[int, int]]]) -> bool:
    """Even-odd rule over every ring."""
    crossings = 0
    for ring in rings:
        for (x0, y0), (x1, y1) in zip(ring, ring[1:] + ring[:1], strict=True):
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                crossings += 1
    return crossings % 2 == 1


@given(st.integers(1, 9), st.integers(1, 9), st.data())
def test_mask_outlines_enclose_exactly_the_mask(
    width: int, height: int, data: st.DataObject
) -> None:
    from synapse.training.items import mask_outlines, signed_area

    pixels = sorted(data.draw(st.sets(st.integers(0, width * height - 1), min_size=1)))
    rings = mask_outlines(pixels, width)
    assert sum(signed_area(r) for r in rings) == len(pixels)
    inside = [p for p in range(width * height)
              if _inside(p % width + 0.5, p // width + 0.5, rings)]  # fmt: skip
    assert inside == pixels


def test_yolo_segment_writes_a_mask_as_its_outline_and_notes_its_holes(tmp_path: Path) -> None:
    ring = [y * 5 + x for y in range(5) for x in range(5) if (x, y) != (2, 2)]  # a hole
    mask = Annotation.new("segmentation", Mask(ring), label="road")
    writer = WRITERS["yolo-segment"](tmp_path / "seg", ("all",), ClassRegistry([]))
    item = Item(0, "image_1", "all", "0_image_1.png", 5, 5, None, None, [mask])
    assert writer.add(item) == 1
    writer.close()
    assert [(n.kind, n.reason) for n in item.notes] == [("lossy", "MASK_HOLE_DROPPED")]
    (line,) = (tmp_path / "seg" / "labels" / "all" / "0_image_1.txt").read_text().splitlines()
    values = [float(v) for v in line.split()[1:]]
    corners = {(values[i] * 5, values[i + 1] * 5) for i in range(0, len(values), 2)}
    assert corners == {(0, 0), (5, 0), (5, 5), (0, 5)}


@pytest.mark.parametrize(
    ("fmt", "row", "message"),
    [
        ("yolo-pose", "0 0.5 0.5", "2 values is not a YOLO row"),
        ("yolo", "0 0.5 0.5 0.1", "3 values is not a YOLO row"),
        ("yolo", "x 0.5", "not a YOLO line"),
    ],
)
def test_a_short_or_bad_yolo_row_is_a_typed_error(
    tmp_path: Path, fmt: str, row: str, message: str
) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "classes.txt").write_text("cat\n")
    (tmp_path / "labels" / "a.txt").write_text(row + "\n")
    with pytest.raises(InvalidInputError, match=message):
        read_labels(tmp_path, fmt)


def test_a_yolo_pose_row_gives_its_visible_keypoints_grouped(tmp_path: Path) -> None:
    (tmp_path / "labels").mkdir()
    (tmp_path / "classes.txt").write_text("person\n")
    joints = "0.1 0.2 2 0.3 0.4 0 0.5 0.6 1"
    (tmp_path / "labels" / "a.txt").write_text(f"0 0.5 0.5 0.2 0.2 {joints}\n")
    (record,) = read_labels(tmp_path, "yolo-pose")
    assert [a.label for a in record.annotations] == ["nose", "right_eye"]
    assert [a.attributes["visibility"] for a in record.annotations] == ["visible", "occluded"]
    assert list(record.groups.values()) == [[a.id for a in record.annotations]]
