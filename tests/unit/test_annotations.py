"""DM v1 read and written back without loss, v1 <-> v2, by hypothesis; the format's
worked example as the spec gives it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse.annotations import Annotation, Box, Document, Keypoint, Mask, Polygon
from synapse.errors import InvalidInputError
from synapse.local.seed import dm_v1_payload

ids = st.text(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=4, max_size=10
)
coords = st.one_of(st.integers(-50, 700), st.floats(-50, 700, allow_nan=False))
unknown = st.dictionaries(
    st.sampled_from(["zOrder", "createdBy", "note", "_x"]),
    st.one_of(st.integers(), st.text(max_size=5), st.none()),
    max_size=2,
)
classification = st.fixed_dictionaries(
    {"class": st.sampled_from(["car", "road", "nose", "left_eye", "daytime"])},
    optional={
        "color": st.sampled_from(["red", "blue"]),
        "tags": st.lists(st.text(max_size=3), max_size=2),
        "visibility": st.sampled_from(["visible", "occluded", "missing", 2]),
    },
)


@st.composite
def geometry(draw: st.DrawFn, tool: str) -> dict[str, Any]:
    if tool == "bounding_box":
        box = {"x": draw(coords), "y": draw(coords), "width": draw(coords), "height": draw(coords)}
        if draw(st.booleans()):
            box["rotation"] = draw(st.floats(-3.2, 3.2, allow_nan=False))
        return {"coordinate": box}
    if tool in ("polygon", "polyline"):
        n = draw(st.integers(0, 4))
        return {
            "coordinate": [
                {"x": draw(coords), "y": draw(coords), "id": draw(ids)} for _ in range(n)
            ]
        }
    if tool == "keypoint":
        return {"coordinate": {"x": draw(coords), "y": draw(coords)}}
    if tool == "segmentation":
        if draw(st.booleans()):
            runs = draw(st.lists(st.lists(st.integers(0, 999), min_size=2, max_size=2), max_size=4))
            return {"pixel_indices": runs, "isCompressed": True, "compressionFormat": "rle"}
        pixels = draw(st.lists(st.integers(0, 9999), max_size=8))
        return {"pixel_indices": pixels, "isCompressed": False, "compressionFormat": None}
    if tool == "relation":
        return {"annotationId": draw(ids), "targetAnnotationId": draw(ids)}
    if tool == "named_entity":
        return {"ranges": [{"start": 1}], "content": draw(st.text(max_size=4))}
    return {}


TOOLS = [
    "bounding_box",
    "polygon",
    "polyline",
    "keypoint",
    "segmentation",
    "classification",
    "relation",
    "named_entity",
    "some_future_tool",
]


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    media_ids = draw(
        st.lists(
            st.sampled_from(["image_1", "image_2", "image_10", "text_1"]), unique=True, max_size=3
        )
    )
    metas: dict[str, list[Any]] = {}
    datas: dict[str, list[Any]] = {}
    for media in media_ids:
        annotation_ids = draw(st.lists(ids, unique=True, max_size=4))
        metas[media], datas[media] = [], []
        for ann_id in annotation_ids:
            tool = draw(st.sampled_from(TOOLS))
            meta = {
                "id": ann_id,
                "tool": tool,
                "isLocked": draw(st.booleans()),
                "isVisible": True,
                "label": [],
                **draw(unknown),
            }
            if draw(st.booleans()):
                meta["classification"] = draw(classification)
            metas[media].append(meta)
            datas[media].append({"id": ann_id, **draw(geometry(tool)), **draw(unknown)})
        datas[media] = draw(st.permutations(datas[media]))  # data order is kept as read
        if draw(st.booleans()):
            datas[media].append({"note": "a data record without id"})
    doc: dict[str, Any] = {"annotations": metas, "annotationsData": datas}
    doc.update(
        draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "assignmentId": st.one_of(st.none(), st.integers(1, 9)),
                    "extra": st.just({"image_1": {"width": 64, "height": 48}}),
                    "relations": st.just({"image_1": []}),
                    "somethingNew": st.integers(),
                },
            )
        )
    )
    return doc


@given(documents())
@settings(max_examples=150)
def test_any_v1_document_is_written_back_exactly_as_read(doc: dict[str, Any]) -> None:
    original = copy.deepcopy(doc)
    assert Document.from_v1(doc).to_v1() == original
    assert doc == original  # reading does not touch the caller's data


@given(documents())
@settings(max_examples=100)
def test_v1_to_v2_and_back_with_the_meta_is_the_same_document(doc: dict[str, Any]) -> None:
    parsed = Document.from_v1(doc)
    v2 = parsed.to_v2()
    assert set(v2["annotation_data"]) - {"classification"} <= {"images", "texts"}
    assert Document.from_v2(v2).to_v1() == doc


@given(documents(), st.floats(0, 100, allow_nan=False), st.sampled_from(["bus", "truck"]))
def test_a_change_is_written_back_and_the_rest_kept(
    doc: dict[str, Any], shift: float, label: str
) -> None:
    parsed = Document.from_v1(doc)
    boxes = [a for a in parsed if isinstance(a.geometry, Box)]
    for ann in boxes:
        assert isinstance(ann.geometry, Box)
        ann.geometry.x += shift
        ann.label = label
    written = Document.from_v1(parsed.to_v1())
    for ann in boxes:
        again = next(a for a in written.annotations[ann.media] if a.id == ann.id)
        assert again.geometry == ann.geometry
        assert again.label == label
        assert again.meta == ann.meta  # flags and unknown keys kept
        kept = {k: v for k, v in (ann.data or {}).items() if k != "coordinate"}
        assert {k: v for k, v in (again.data or {}).items() if k != "coordinate"} == kept


def test_the_worked_example_converts_to_the_v2_the_format_describes() -> None:
    doc = Document.from_v1(dm_v1_payload(0))
    data = doc.to_v2()["annotation_data"]
    assert data["classification"]["keypoint"] == ["left_eye", "left_shoulder", "nose", "right_eye"]
    first, second = data["images"]
    (car, truck) = first["bounding_box"]
    assert car == {
        "id": "Bx00000001",
        "classification": "car",
        "attrs": [{"name": "color", "value": "red"}],
        "data": [4, 6, 20, 12],
    }
    assert truck["attrs"] == [{"name": "rotation", "value": 0.3}]
    assert first["polygon"][0]["data"][0] == [0, 36]
    nose = first["keypoint"][0]
    assert (nose["visibility"], nose["group_id"], nose["data"]) == (2, "Gp00000001", [40, 10])
    assert first["keypoint"][2]["visibility"] == 1  # occluded
    raw, rle = first["segmentation"]
    assert (raw["encoding"], rle["encoding"]) == ("raw_indices", "dm_rle")
    assert first["classification"][0]["data"] == {}
    assert first["relation"][0]["data"] == ["Bx00000001", "Bx00000002"]
    assert second["bounding_box"][0]["data"] == [2.5, 3.25, 10, 14.5]


def test_typed_views_of_every_image_tool() -> None:
    doc = Document.from_v1(dm_v1_payload(3))
    tools = {a.tool: a for a in doc.annotations["image_1"]}
    assert isinstance(tools["bounding_box"].geometry, Box)
    assert isinstance(tools["polygon"].geometry, Polygon)
    assert isinstance(tools["keypoint"].geometry, Keypoint)
    mask = tools["segmentation"].geometry
    assert isinstance(mask, Mask)
    assert tools["classification"].attributes == {"weather": "sunny", "tags": ["urban", "clear"]}
    assert doc.groups("image_1") == {"Gp00030001": [f"Kp0003000{i}" for i in range(1, 5)]}
    compressed = next(a for a in doc if isinstance(a.geometry, Mask) and a.geometry.compressed)
    assert isinstance(compressed.geometry, Mask)
    assert compressed.geometry.pixels()[:2] == [30 * 64 + 10, 30 * 64 + 11]
    new = Annotation.new("bounding_box", Box(1, 2, 3, 4), media="image_2", label="car")
    doc.add(new)
    assert doc.to_v1()["annotationsData"]["image_2"][-1] == {
        "id": new.id,
        "coordinate": {"x": 1, "y": 2, "width": 3, "height": 4},
    }


def test_the_other_group_shape_is_read_too() -> None:
    doc = Document.from_v1(
        {
            "annotations": {},
            "annotationsData": {},
            "annotationGroups": {
                "image_1": [
                    {
                        "id": "G1",
                        "tool": "annotationGroup",
                        "annotationList": [
                            {
                                "annotationId": "a",
                                "children": [{"annotationId": "b", "children": []}],
                            }
                        ],
                    }
                ]
            },
        }
    )
    assert doc.group_of("image_1") == {"a": "G1", "b": "G1"}


@pytest.mark.parametrize(
    "bad",
    [
        {"annotations": [], "annotationsData": {}},
        {"annotations": {"image_1": [{"tool": "polygon"}]}, "annotationsData": {}},
        {"annotations": {"image_1": [{"id": "a"}]}, "annotationsData": {}},
        {"annotations": {}, "annotationsData": {"image_1": {}}},
    ],
)
def test_data_that_is_not_dm_v1_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        Document.from_v1(bad)


def test_v2_without_the_meta_numbers_media_and_rebuilds_groups() -> None:
    v2 = Document.from_v1(dm_v1_payload(1)).to_v2()["annotation_data"]
    doc = Document.from_v2(v2)
    assert doc.media() == ["image_1", "image_2"]
    assert len(doc.groups("image_1")["Gp00010001"]) == 4
    box = next(a for a in doc if a.id == "Bx00010002")
    assert isinstance(box.geometry, Box)
    assert box.geometry.rotation == 0.3
    assert box.meta["isLocked"] is False  # defaults: the flags were only in the meta
