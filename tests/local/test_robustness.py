"""Input that used to make the local backend answer 500 now gets a DRF-shaped 4xx."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from synapse.local import LocalBackend
from synapse.local.cli import main as cli_main
from tests.local.conftest import Api

HUGE = str(2**70)


def assert_drf_error(response: requests.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:200]
    body = response.json()
    assert isinstance(body, dict)
    assert body  # {"detail": ...} or {"field": [...]}
    return body


def test_integers_past_64_bits_are_client_errors(api: Api, demo: dict[str, Any]) -> None:
    assert_drf_error(api.get("sdk/tasks/", params={"project": HUGE}), 400)
    assert_drf_error(api.get("sdk/tasks/", params={"id__gt": HUGE}), 400)
    assert_drf_error(api.get("sdk/tasks/", params={"ids": f"1,{HUGE}"}), 400)
    assert_drf_error(api.get(f"tasks/{HUGE}/"), 404)
    assert_drf_error(api.post("projects/", data=f'{{"title": "t", "n": {HUGE}}}',
                              headers={"Content-Type": "application/json"}), 400)  # fmt: skip
    assert all(r.status is not None and r.status < 500 for r in api.backend.requests)


def test_nan_and_deep_nesting_are_refused_not_stored(api: Api) -> None:
    nan = api.post("projects/", data='{"title": NaN}', headers={"Content-Type": "application/json"})
    assert "NaN" in str(assert_drf_error(nan, 400))
    deep = "[" * 100_000 + "]" * 100_000
    assert_drf_error(api.post("projects/", data=deep,
                              headers={"Content-Type": "application/json"}), 400)  # fmt: skip
    assert api.get("projects/").json()["count"] == 0


@pytest.mark.parametrize("name", ["..", ".", "", "../../escape.bin", "a\\..\\b.bin"])
def test_an_upload_filename_never_escapes_the_media_folder(
    api: Api, name: str, synapse_backend: LocalBackend
) -> None:
    answer = api.post("data_files/", files={"file": (name, b"payload " + name.encode())})
    assert answer.status_code == 201, answer.text
    media = synapse_backend.backend.files_dir / "media"
    stored = requests.get(answer.json()["file"], timeout=5)
    assert stored.content == b"payload " + name.encode()
    for path in synapse_backend.backend.files_dir.rglob("*"):
        assert path.resolve().is_relative_to(synapse_backend.backend.files_dir.resolve())
    assert media.is_dir()


@pytest.fixture
def small_limits() -> Iterator[Api]:
    with LocalBackend(max_json_body=2000, max_upload_body=5000) as backend:
        api = Api(backend)
        yield api
        api.session.close()


def test_bodies_over_the_limit_get_413_before_being_read(small_limits: Api) -> None:
    api = small_limits
    big = json.dumps({"title": "x" * 3000})
    assert_drf_error(api.post("projects/", data=big,
                              headers={"Content-Type": "application/json"}), 413)  # fmt: skip

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while it arrives
        yield b'{"title": "'
        for _ in range(30):
            yield b"y" * 100
        yield b'"}'

    streamed = api.post("projects/", data=chunks(), headers={"Content-Type": "application/json"})
    assert_drf_error(streamed, 413)
    upload = api.post("data_files/", files={"file": ("f.bin", b"z" * 6000)})
    assert_drf_error(upload, 413)
    assert api.post("projects/", json={"title": "fits"}).status_code == 201
    assert api.get("projects/").json()["count"] == 1


def test_a_second_server_on_one_data_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with LocalBackend(data_dir=tmp_path) as first:
        with pytest.raises(RuntimeError, match="in use by another local backend"):
            LocalBackend(data_dir=tmp_path)
        assert cli_main(["serve", "--data-dir", str(tmp_path)]) == 2
        assert "in use" in capsys.readouterr().err
        assert requests.get(f"{first.url}/projects/", timeout=5).status_code == 401
    with LocalBackend(data_dir=tmp_path) as again:  # the lock went with the first server
        assert again.url


def test_listed_rows_show_writes_to_their_table_and_their_expanded_relations(
    api: Api, demo: dict[str, Any]
) -> None:
    def first_row() -> dict[str, Any]:
        rows = api.get("sdk/tasks/", params={"project": demo["project"], "page_size": 3})
        return rows.json()["results"][0]  # type: ignore[no-any-return]

    before = first_row()  # rendered and cached
    assert first_row() == before
    api.patch(f"tasks/{before['id']}/", json={"meta": {"edited": 1}})
    assert first_row()["meta"] == {"edited": 1}
    unit = before["data_unit"]["id"]
    api.patch(f"data_units/{unit}/", json={"meta": {"unit_edited": 2}})
    assert first_row()["data_unit"]["meta"] == {"unit_edited": 2}
    narrow = api.get("sdk/tasks/", params={"project": demo["project"], "fields": "id,meta"})
    assert set(narrow.json()["results"][0]) == {"id", "meta"}


def test_a_port_in_use_is_one_clear_line_before_any_url_or_token(
    capsys: pytest.CaptureFixture[str],
) -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert cli_main(["serve", "--port", str(port), "--token", "T" * 20]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # no URL and no token printed as if serving
    assert err.count("\n") == 1
    assert f"cannot listen on 127.0.0.1:{port}" in err


def test_running_a_missing_command_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["run", "--", "synapse-no-such-command-here"]) == 127
    err = capsys.readouterr().err
    assert "cannot run 'synapse-no-such-command-here'" in err
    assert "Traceback" not in err


POISON = [
    ("projects/", '{"title": "x", "m": 1e400}', "projects/?title=x"),
    ("tasks/", '{"project": 1, "meta": {"m": -1e999}}', "sdk/tasks/?project=1"),
    ("plugins/", '{"name": "p", "code": "p", "meta": {"m": 1e309}}', "plugins/"),
    ("data_collections/", '{"name": "c", "file_specifications": [1, "x", null]}',
     "data_collections/"),
    ("data_collections/", '{"name": "c", "file_specifications": [{"file_type": "image"}]}',
     "data_collections/"),
    ("data_collections/", '{"name": "c", "file_specifications": "img"}', "data_collections/"),
    ("data_collections/", '{"name": "c", "file_specifications": [{"name": "a"}, {"name": "a"}]}',
     "data_collections/"),
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "listing"), POISON)
def test_a_bad_write_is_refused_and_never_poisons_the_table(
    api: Api, demo: dict[str, Any], path: str, body: str, listing: str
) -> None:
    assert_drf_error(api.post(path, data=body, headers={"Content-Type": "application/json"}), 400)
    for _ in range(2):
        assert api.get(listing).status_code == 200


@pytest.mark.parametrize("checksum", [[1], {}, 7, ""])
def test_a_data_unit_with_a_checksum_that_is_not_text_is_refused(
    api: Api, demo: dict[str, Any], checksum: Any
) -> None:
    unit = {"data_collection": demo["data_collection"],
            "files": {"image_1": {"checksum": checksum, "path": "a.png"}}}  # fmt: skip
    body = assert_drf_error(api.post("data_units/", json=unit), 400)
    assert "checksum" in json.dumps(body)


def test_file_specifications_get_ids(api: Api, demo: dict[str, Any]) -> None:
    specs = [{"name": "img", "file_type": "image"}, {"name": "depth", "file_type": "image"}]
    made = api.post("data_collections/", json={"name": "x", "file_specifications": specs})
    assert made.status_code == 201, made.text
    ids = made.json()["file_specifications"]
    assert all(isinstance(i, int) for i in ids)
    assert len(set(ids)) == 2
    expanded = api.get(f"data_collections/{made.json()['id']}/",
                       params={"expand": "file_specifications"}).json()  # fmt: skip
    assert [s["name"] for s in expanded["file_specifications"]] == ["img", "depth"]
    assert [s["id"] for s in expanded["file_specifications"]] == ids


def test_fields_asked_twice_answer_the_same(api: Api, demo: dict[str, Any]) -> None:
    first = api.get("projects/", params={"fields": "title"})
    second = api.get("projects/", params={"fields": "title"})
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert all(set(p) == {"title"} for p in first.json()["results"])


@pytest.mark.parametrize(
    "partial",
    [
        "GET /projects/ HTTP/1.1\r\nHost: x\r\n",  # headers never finished
        "POST /projects/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Synapse-Access-Token: Token {token}\r\nContent-Length: 100\r\n\r\n"
        '{{"title": ',  # a body that never ends
    ],
)
def test_a_client_that_stalls_is_disconnected_not_held(
    partial: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """The server cuts a request that does not arrive whole by its deadline: the test
    only waits for the server to close the connection, never on a timer of its own."""
    import socket

    def read_to_end(conn: socket.socket) -> bytes:
        received = b""
        while chunk := conn.recv(4096):
            received += chunk
        return received

    with LocalBackend(request_timeout=0.2) as backend:
        stalled = [socket.create_connection((backend.host, backend.port)) for _ in range(3)]
        try:
            for conn in stalled:
                conn.sendall(partial.format(token=backend.token).encode())
                conn.settimeout(30)  # a bound against a hang only: recv raises past it
            answers = [read_to_end(conn) for conn in stalled]  # closed by the server
            assert all(b"201" not in answer for answer in answers)  # nothing was created
            assert requests.get(f"{backend.url}/projects/", timeout=30).status_code == 401
        finally:
            for conn in stalled:
                conn.close()
    # A cut body is no crash of the server (no traceback in its log).
    assert "Exception in ASGI application" not in capfd.readouterr().err


@pytest.mark.parametrize("name", [[None, None], {"a": 1}, 7])
def test_a_model_whose_name_is_not_text_is_refused(api: Api, name: Any) -> None:
    """Found by schemathesis (make fuzz): a list where a name belongs answered 500."""
    body = assert_drf_error(api.post("models/", json={"name": name}), 400)
    assert "name" in body


def test_a_lone_surrogate_in_a_looked_up_name_is_no_500(api: Api) -> None:
    """Found by the adversarial pass: JSON allows "\\ud800", UTF-8 SQL bindings do not."""
    made = api.post(
        "models/", data='{"name": "\\ud800"}', headers={"Content-Type": "application/json"}
    )
    assert made.status_code < 500, made.text[:200]
    assert api.get("models/").status_code == 200
