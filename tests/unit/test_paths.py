"""Paths built from server data: properties of the reduction, and the wire of downloads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import responses
from hypothesis import given
from hypothesis import strategies as st

from synapse import Client, UnsafePathError
from synapse.paths import MAX_COMPONENT_BYTES, path_inside, safe_component, url_basename
from tests.conftest import BASE

hostile_text = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(["..", ".", "/", "\\", "C:", "\x00", " ", "a", "é", "CON"]),
             max_size=12).map("".join),
)  # fmt: skip


@given(hostile_text)
def test_a_safe_component_is_one_plain_name(name: str) -> None:
    part = safe_component(name)
    assert part not in ("", ".", "..")
    assert "/" not in part
    assert "\\" not in part
    assert "\x00" not in part
    assert not part.startswith(".")
    assert len(part.encode("utf-8")) <= MAX_COMPONENT_BYTES
    assert Path(part).name == part  # exactly one component, on this platform too


@given(st.lists(hostile_text, min_size=1, max_size=3))
def test_joined_safe_components_stay_inside(tmp_path_factory: pytest.TempPathFactory,
                                             names: list[str]) -> None:  # fmt: skip
    dest = tmp_path_factory.getbasetemp() / "dest"
    target = path_inside(dest, *(safe_component(n) for n in names))
    assert dest.resolve() in target.resolve().parents


def test_plain_names_are_kept_and_long_names_keep_their_suffix() -> None:
    assert safe_component("frame_001.png") == "frame_001.png"
    assert safe_component("../../etc/passwd") == "_.._etc_passwd"
    assert safe_component("..", "spec") == "spec"
    long = safe_component("x" * 500 + ".jpeg")
    assert long.endswith(".jpeg")
    assert len(long.encode()) <= MAX_COMPONENT_BYTES
    assert url_basename("https://h/media/a/%2E%2E?sig=1") == ".."


def test_an_unsafe_component_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError):
        path_inside(tmp_path, "..", "x")
    with pytest.raises(UnsafePathError):
        path_inside(tmp_path, "/etc/passwd")


@responses.activate
def test_model_download_into_a_folder_names_the_file_safely(client: Client, tmp_path: Path) -> None:
    hostile = f"{BASE}/media/abc/%2E%2E"  # the last segment decodes to ".."
    responses.get(f"{BASE}/models/9/", json={"id": 9, "name": "m", "file": hostile})
    responses.get(re.compile(rf"{BASE}/media/abc/.*"), body=b"weights")
    folder = tmp_path / "a" / "models"
    folder.mkdir(parents=True)
    saved = client.models.get(9).download(folder)
    assert saved == folder / "model-9"
    assert saved.read_bytes() == b"weights"
    assert list((tmp_path / "a").iterdir()) == [folder]
