"""Downloads treat every name the server sends as untrusted: nothing lands outside ``dest``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from synapse import Client, InvalidInputError, UnsafePathError
from synapse.local import LocalBackend

HOSTILE_SPECS = ["../../escaped", "/tmp/absolute-spec", "..", ".", "a/../../b", "C:\\win", "ok"]


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def hostile_unit(synapse_client: Client, tmp_path: Path) -> Any:
    """A data unit whose specification names and original file names try to escape."""
    collection = synapse_client.request(
        "POST",
        "data_collections/",
        data={
            "name": "hostile",
            "file_specifications": [
                {"name": n, "file_type": "image", "is_required": False} for n in HOSTILE_SPECS
            ],
        },
    )
    source = tmp_path / "payload.bin"
    source.write_bytes(b"payload-bytes")
    data_file = synapse_client.data_files.create(source)
    originals = ["../../../../etc/passwd-like", "..", "/abs/name.png", "x", "", "..\\..", "n"]
    unit = synapse_client.request(
        "POST",
        "data_units/",
        data={
            "data_collection": collection["id"],
            "files": {
                spec: {"checksum": data_file.checksum, "path": original}
                for spec, original in zip(HOSTILE_SPECS, originals, strict=True)
            },
        },
    )
    return synapse_client.data_units.get(unit["id"])


def test_hostile_names_never_leave_the_destination(
    hostile_unit: Any, tmp_path: Path, synapse_backend: LocalBackend
) -> None:
    outside = tmp_path / "outside"
    dest = outside / "inside" / "dest"
    dest.mkdir(parents=True)
    saved = hostile_unit.download(dest)
    assert set(saved) == set(HOSTILE_SPECS)  # every file downloaded, none silently dropped
    root = dest.resolve()
    for path in saved.values():
        assert root in path.resolve().parents
        assert path.read_bytes() == b"payload-bytes"
    assert len(set(saved.values())) == len(HOSTILE_SPECS)  # no file overwrote another
    assert files_under(outside) == files_under(dest)  # nothing written beside dest
    assert not Path("/tmp/absolute-spec").exists()


def test_a_symlink_planted_in_the_destination_is_refused(hostile_unit: Any, tmp_path: Path) -> None:
    dest = tmp_path / "dest"
    dest.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    os.symlink(elsewhere, dest / "ok")  # the spec "ok" would write through this link
    with pytest.raises(UnsafePathError, match="outside the destination"):
        hostile_unit.download(dest)
    assert list(elsewhere.iterdir()) == []


def test_a_folder_as_dest_is_refused_before_any_request(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    source = tmp_path / "f.bin"
    source.write_bytes(b"x" * 1000)
    data_file = synapse_client.data_files.create(source)
    assert data_file.file is not None
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="is a folder"):
        synapse_client.download(data_file.file, tmp_path)
    blocker = tmp_path / "blocker"
    blocker.write_bytes(b"")
    with pytest.raises(InvalidInputError, match="a file stands where its folder"):
        synapse_client.download(data_file.file, blocker / "copy.bin")
    assert synapse_backend.requests == []
