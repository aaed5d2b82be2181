"""Uploads and downloads against the local backend, with its faults, over real HTTP."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse import Client, InvalidInputError, Model
from synapse.downloads import convert_urls
from synapse.errors import ChecksumMismatchError
from synapse.local import LocalBackend
from synapse.uploads import ChunkedUploader
from tests.conftest import waits_with

KIB = 1024

pytestmark = pytest.mark.usefixtures("journal_in_tmp")


def make_file(path: Path, size: int, seed: int = 1) -> Path:
    path.write_bytes(bytes((i * 31 + seed) % 251 for i in range(size)))
    return path


def chunk_puts(backend: LocalBackend) -> list[str]:
    return [
        r.content_range or ""
        for r in backend.requests
        if r.method == "PUT" and r.path.startswith("/chunked_upload/")
    ]


def stored_bytes(client: Client, upload: dict[str, Any]) -> bytes:
    return requests.get(upload["file"], timeout=10).content


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_dropped_chunk_is_recovered_with_at_most_one_resend(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path, when: str
) -> None:
    source = make_file(tmp_path / "big.bin", 300 * KIB)
    synapse_backend.set_faults(drop_chunk=3, drop_when=when)
    waits_with(synapse_client)
    upload = synapse_client.chunked_upload(source, chunk_size=64 * KIB)
    assert upload["checksum"] == hashlib.md5(source.read_bytes()).hexdigest()
    assert hashlib.md5(stored_bytes(synapse_client, upload)).hexdigest() == upload["checksum"]
    puts = chunk_puts(synapse_backend)
    assert len(puts) == 5 + (1 if when == "before" else 0)  # 5 chunks, at most one resent
    assert len(puts) - len(set(puts)) <= 1
    dropped = [r for r in synapse_backend.requests if r.method == "PUT" and r.status is None]
    assert len(dropped) == 1
    assert any(
        r.method == "GET" and r.path.startswith("/chunked_upload/")
        for r in synapse_backend.requests
    )


def test_upload_survives_503s_and_429s(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "f.bin", 200 * KIB)
    synapse_backend.set_faults(error_rate=0.2, rate_limit_every=4, retry_after=0, seed=5)
    waits_with(synapse_client)
    client = Client(synapse_backend.url, synapse_backend.token, max_retries=10)
    waits_with(client)
    upload = client.chunked_upload(source, chunk_size=16 * KIB)
    synapse_backend.set_faults(error_rate=0.0, rate_limit_every=0)
    assert stored_bytes(client, upload) == source.read_bytes()


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(0, 3000), chunk=st.integers(1, 700))
def test_reassembled_bytes_equal_the_source(
    synapse_client: Client, tmp_path: Path, size: int, chunk: int
) -> None:
    source = make_file(tmp_path / f"h-{size}-{chunk}.bin", size, seed=size)
    upload = synapse_client.chunked_upload(source, chunk_size=chunk, resume=False)
    assert upload["size"] == size
    assert stored_bytes(synapse_client, upload) == source.read_bytes()


def test_progress_is_monotone_and_ends_at_total(synapse_client: Client, tmp_path: Path) -> None:
    source = make_file(tmp_path / "p.bin", 100 * KIB)
    seen: list[tuple[int, int]] = []
    synapse_client.chunked_upload(
        source, chunk_size=30 * KIB, on_progress=lambda d, t: seen.append((d, t))
    )
    assert [d for d, _ in seen] == sorted({d for d, _ in seen})
    assert seen[-1] == (100 * KIB, 100 * KIB)
    bar = synapse_client.chunked_upload(source, chunk_size=30 * KIB, progress=True)
    assert bar["size"] == 100 * KIB


def test_missing_file_fails_before_any_request(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="not found"):
        synapse_client.chunked_upload(tmp_path / "nope.bin")
    with pytest.raises(InvalidInputError, match="not found"):
        synapse_client.data_files.create(tmp_path / "nope.bin")
    with pytest.raises(InvalidInputError, match="not a regular file"):
        synapse_client.models.create(name="m", file=tmp_path)
    assert synapse_backend.requests == []


def test_empty_file(synapse_client: Client, tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    seen: list[tuple[int, int]] = []
    upload = synapse_client.chunked_upload(empty, on_progress=lambda d, t: seen.append((d, t)))
    assert upload["size"] == 0
    assert seen == [(0, 0)]
    assert synapse_client.data_files.create(empty, chunked=True).size == 0
    assert synapse_client.data_files.create(empty).size == 0


def test_md5_mismatch_is_a_typed_error(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "m.bin", 50 * KIB)
    uploads = synapse_backend.backend.files_dir / "uploads"

    def corrupt(done: int, total: int) -> None:
        if done == 20 * KIB:  # after the first chunk, flip a stored byte on the server
            part = max(uploads.iterdir(), key=lambda p: p.stat().st_mtime_ns)  # this upload's
            data = bytearray(part.read_bytes())
            data[0] ^= 0xFF
            part.write_bytes(bytes(data))

    with pytest.raises(ChecksumMismatchError) as info:
        synapse_client.chunked_upload(source, chunk_size=20 * KIB, on_progress=corrupt)
    assert info.value.status_code == 400


def test_a_killed_upload_resumes_without_resending_what_was_sent(
    synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "resume.bin", 500 * KIB)
    script = textwrap.dedent(
        f"""
        import os, signal
        from synapse import Client
        client = Client({synapse_backend.url!r}, {synapse_backend.token!r})
        def die(done, total):
            if done >= 3 * 100 * 1024:
                os.kill(os.getpid(), signal.SIGKILL)
        client.chunked_upload({str(source)!r}, chunk_size=100 * 1024, resume=True, on_progress=die)
        """
    )
    env = {**os.environ, "SYNAPSE_CACHE_DIR": str(tmp_path / "cache")}
    killed = subprocess.run([sys.executable, "-c", script], env=env, timeout=60, check=False)
    assert killed.returncode != 0
    journals = list((tmp_path / "cache" / "uploads").glob("*.json"))
    assert len(journals) == 1
    assert stat.S_IMODE(journals[0].stat().st_mode) == 0o600  # it names URL and path
    assert chunk_puts(synapse_backend) == [
        f"bytes {i * 100 * KIB}-{(i + 1) * 100 * KIB - 1}/{500 * KIB}" for i in range(3)
    ]
    synapse_backend.clear_requests()
    client = Client(synapse_backend.url, synapse_backend.token)
    upload = client.chunked_upload(source, chunk_size=100 * KIB, resume=True)
    assert chunk_puts(synapse_backend) == [
        f"bytes {i * 100 * KIB}-{(i + 1) * 100 * KIB - 1}/{500 * KIB}" for i in (3, 4)
    ]
    assert stored_bytes(client, upload) == source.read_bytes()
    assert not list((tmp_path / "cache" / "uploads").glob("*.json"))  # journal cleared


def test_a_changed_file_starts_a_fresh_upload(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "c.bin", 300 * KIB)
    uploader = ChunkedUploader(synapse_client.transport, chunk_size=100 * KIB)
    key = uploader.journal.key(synapse_client.base_url, source, 100 * KIB)
    uploader.journal.save(key, {"id": "gone", "url": f"{synapse_backend.url}/chunked_upload/gone/"})
    upload = uploader.upload(source, resume=True)  # unknown upload on the server: fresh start
    assert stored_bytes(synapse_client, upload) == source.read_bytes()
    first_key = uploader.journal.key(synapse_client.base_url, source, 100 * KIB)
    make_file(source, 300 * KIB, seed=9)
    os.utime(source, ns=(source.stat().st_atime_ns, source.stat().st_mtime_ns + 10**9))
    assert uploader.journal.key(synapse_client.base_url, source, 100 * KIB) != first_key


# ------------------------------------------------------------------ object API uploads


def test_data_files_choose_direct_or_chunked(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    small = make_file(tmp_path / "small.bin", 10 * KIB)
    direct = synapse_client.data_files.create(small)
    assert direct.checksum == hashlib.md5(small.read_bytes()).hexdigest()
    assert chunk_puts(synapse_backend) == []
    forced = synapse_client.data_files.create(
        make_file(tmp_path / "b.bin", 10 * KIB, 3), chunked=True
    )
    assert len(chunk_puts(synapse_backend)) == 1
    assert forced.size == 10 * KIB
    auto = synapse_client.data_files.create(
        make_file(tmp_path / "c.bin", 10 * KIB, 4), chunk_size=4 * KIB
    )
    assert len(chunk_puts(synapse_backend)) == 1 + 3
    assert auto.size == 10 * KIB


def test_models_create_with_a_file_and_download(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    archive = make_file(tmp_path / "model.zip", 70 * KIB)
    model = synapse_client.models.create(name="detector", file=archive, plugin="yolo-trainer")
    assert isinstance(model, Model)
    assert len(chunk_puts(synapse_backend)) == 1
    saved = model.download(tmp_path / "out")
    assert saved.read_bytes() == archive.read_bytes()
    saved_dir = tmp_path / "outdir"
    saved_dir.mkdir()
    assert model.download(saved_dir).parent == saved_dir


def test_a_destination_written_with_a_trailing_slash_is_a_folder(
    synapse_client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = make_file(tmp_path / "model.zip", 3 * KIB)
    model = synapse_client.models.create(name="detector", file=archive, plugin="yolo-trainer")
    monkeypatch.chdir(tmp_path)
    saved = model.download("models/")  # as docs/transfers.md writes it: made when missing
    assert (tmp_path / "models").is_dir()
    assert saved.parent.resolve() == (tmp_path / "models").resolve()
    assert saved.read_bytes() == archive.read_bytes()
    assert model.file is not None
    with pytest.raises(InvalidInputError, match="is a folder"):
        synapse_client.download(model.file, "copies/")  # a file path is needed here
    assert not (tmp_path / "copies").exists()
    (tmp_path / "taken").write_bytes(b"mine")
    for dest in ("taken/", "taken/sub/"):
        with pytest.raises(InvalidInputError, match="a file stands where the folder"):
            model.download(dest)
    assert (tmp_path / "taken").read_bytes() == b"mine"


def test_plugin_release_with_an_archive(
    synapse_client: Client, demo: dict[str, Any], tmp_path: Path
) -> None:
    archive = make_file(tmp_path / "plugin.zip", 5 * KIB)
    plugin = synapse_client.plugins.get(demo["plugins"]["coco-export"])
    release = plugin.create_release(
        "2.0.0", archive, config={"code": "coco-export"}, requirements=["numpy", "pillow"]
    )
    assert release.version == "2.0.0"
    assert release.requirements == ["numpy", "pillow"]
    assert release.config == {"code": "coco-export"}
    assert release.file is not None
    assert requests.get(release.file, timeout=10).content == archive.read_bytes()
    plain = plugin.create_release("2.0.1")
    assert plain.file is None


def test_collection_upload_checks_specs_first(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any], tmp_path: Path
) -> None:
    collection = synapse_client.data_collections.get(demo["data_collection"])
    image = make_file(tmp_path / "frame.png", 2 * KIB)
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="unknown file specification"):
        collection.upload({"image_1": image, "video": image})
    with pytest.raises(InvalidInputError, match="missing required"):
        collection.upload({"meta": image})
    with pytest.raises(InvalidInputError, match="not found"):
        collection.upload({"image_1": tmp_path / "nope.png"})
    assert synapse_backend.requests == []
    unit = collection.upload({"image_1": image}, meta={"frame": 99}, groups="city")
    assert unit.meta == {"frame": 99}
    assert unit.groups == ["city"]
    files = unit.download(tmp_path / "unit")
    assert files["image_1"].read_bytes() == image.read_bytes()
    assert files["image_1"].name == "frame.png"


def test_upload_many_reports_failures_and_completes_the_rest(
    synapse_client: Client, demo: dict[str, Any], tmp_path: Path
) -> None:
    collection = synapse_client.data_collections.get(demo["data_collection"])
    items: list[dict[str, Any]] = [
        {"files": {"image_1": make_file(tmp_path / f"i{n}.png", KIB, n)}, "meta": {"n": n}}
        for n in range(7)
    ]
    items[3] = {"files": {"image_1": tmp_path / "missing.png"}}
    before = synapse_client.tasks.filter(project=demo["project"]).count()
    report = collection.upload_many(items, project=demo["project"], batch_size=3, max_workers=3)
    assert [i.ok for i in report.items] == [True, True, True, False, True, True, True]
    assert "not found" in str(report.items[3].error)
    assert [i.data_unit.meta for i in report.succeeded if i.data_unit] == [
        {"n": n} for n in (0, 1, 2, 4, 5, 6)
    ]
    assert all(i.task is not None for i in report.succeeded)
    assert synapse_client.tasks.filter(project=demo["project"]).count() == before + 6


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"files": {}, "mta": {"frame": 9}}, "unknown key 'mta'; did you mean 'meta'"),
        ({"fils": {}}, "unknown key 'fils'; did you mean 'files'"),
        ({"files": {}, "group": ["city"]}, "unknown key 'group'; did you mean 'groups'"),
        (["files"], "item 1 is not a mapping"),
    ],
)
def test_upload_many_refuses_an_item_key_it_would_drop_before_sending(
    synapse_client: Client,
    synapse_backend: LocalBackend,
    demo: dict[str, Any],
    tmp_path: Path,
    item: Any,
    message: str,
) -> None:
    collection = synapse_client.data_collections.get(demo["data_collection"])
    good = {"files": {"image_1": make_file(tmp_path / "ok.png", KIB)}}
    units = synapse_client.data_units.count()
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match=message):
        collection.upload_many([good, item], project=demo["project"])
    assert synapse_backend.requests == []
    assert synapse_client.data_units.count() == units


# ------------------------------------------------------------------ downloads


def test_download_resumes_with_range_after_a_drop(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    source = make_file(tmp_path / "d.bin", 200 * KIB)
    data_file = synapse_client.data_files.create(source)
    assert data_file.file is not None
    synapse_backend.set_faults(drop_download_after=150 * KIB)
    waits_with(synapse_client)
    saved = synapse_client.download(data_file.file, tmp_path / "copy.bin")
    assert saved.read_bytes() == source.read_bytes()
    gets = [r for r in synapse_backend.requests if r.path.startswith("/media/")]
    assert [g.status for g in gets] == [None, 206]
    assert gets[0].range is None
    resumed_at = int((gets[1].range or "bytes=0-")[6:-1])
    assert 64 * KIB <= resumed_at <= 150 * KIB  # only what was lost is fetched again
    assert not list(tmp_path.glob("copy.bin.*.part"))


def test_no_credentials_reach_a_foreign_host(
    synapse_client: Client, synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    with LocalBackend() as storage:
        client = Client(storage.url, storage.token)
        stored = client.data_files.create(make_file(tmp_path / "s.bin", 3 * KIB))
        assert stored.file is not None
        storage.clear_requests()
        synapse_client.download(stored.file, tmp_path / "s-copy.bin")
        (record,) = storage.requests
        assert record.credentials == []
    own = synapse_client.data_files.create(make_file(tmp_path / "o.bin", KIB))
    assert own.file is not None
    synapse_client.download(own.file, tmp_path / "o-copy.bin")
    assert synapse_backend.requests[-1].credentials == ["synapse-access-token"]


def test_url_conversion_helper(
    synapse_client: Client, demo: dict[str, Any], tmp_path: Path
) -> None:
    page = synapse_client.request(
        "GET", "data_units/", params={"data_collection": demo["data_collection"], "page_size": 2}
    )
    converted = convert_urls(
        synapse_client.transport,
        page,
        {"files_fields": ["files"], "is_list": True, "coerce": Path},
    )
    entry = converted["results"][0]["files"]["image_1"]
    assert "url" not in entry
    assert isinstance(entry["path"], Path)
    assert entry["path"].read_bytes().startswith(b"PNG frame 1")
    again = synapse_client.request("GET", f"data_units/{converted['results'][0]['id']}/")
    cached = convert_urls(synapse_client.transport, again, {"files_fields": ["files"]})
    assert cached["files"]["image_1"]["path"] == str(entry["path"])
    model = synapse_client.request("GET", "models/1/")
    assert Path(
        convert_urls(synapse_client.transport, model, {"files_fields": ["file"]})["file"]
    ).exists()
