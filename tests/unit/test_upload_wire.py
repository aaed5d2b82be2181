"""The chunked upload's requests, pinned with ``responses`` (protocol 4.1)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st

from synapse import Client, ClientConnectionError, ClientResponseIncompleteError
from synapse.uploads import _ChunkBody
from tests.conftest import BASE

UPLOAD = f"{BASE}/chunked_upload/"
STATE = f"{BASE}/chunked_upload/u1/"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"0123456789")
    return path


@responses.activate
def test_chunks_and_finalize(client: Client, source: Path) -> None:
    responses.put(UPLOAD, json={"id": "u1", "url": STATE, "offset": 4})
    responses.put(STATE, json={"id": "u1", "url": STATE, "offset": 8})
    responses.put(STATE, json={"id": "u1", "url": STATE, "offset": 10})
    responses.post(STATE, json={"id": "u1", "checksum": "x", "completed_at": "now"})
    result = client.chunked_upload(source, chunk_size=4, resume=False)
    assert result["id"] == "u1"
    puts = [c.request for c in responses.calls[:3]]
    assert [p.headers["Content-Range"] for p in puts] == [
        "bytes 0-3/10",
        "bytes 4-7/10",
        "bytes 8-9/10",
    ]
    first = puts[0]
    assert first.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert first.headers["Synapse-Access-Token"].startswith("Token ")
    body = first.body if isinstance(first.body, bytes) else first.body.read()
    assert b'name="filename"\r\n\r\nweights.bin\r\n' in body
    assert b'name="file"; filename="file"\r\n\r\n0123\r\n' in body
    finalize = responses.calls[3].request
    assert json.loads(finalize.body) == {"md5": hashlib.md5(b"0123456789").hexdigest()}
    assert finalize.headers["Content-Type"] == "application/json"


@responses.activate
def test_ambiguous_chunk_asks_the_server_where_it_stands(
    client: Client, source: Path, sleeps: list[float]
) -> None:
    responses.put(UPLOAD, json={"id": "u1", "url": STATE, "offset": 4})
    responses.put(STATE, body=requests.exceptions.ConnectionError("Connection aborted."))
    responses.get(STATE, json={"id": "u1", "offset": 8})  # the chunk had been stored
    responses.put(STATE, json={"id": "u1", "url": STATE, "offset": 10})
    responses.post(STATE, json={"id": "u1"})
    client.chunked_upload(source, chunk_size=4, resume=False)
    sent = [(c.request.method, c.request.headers.get("Content-Range")) for c in responses.calls]
    assert sent == [
        ("PUT", "bytes 0-3/10"),
        ("PUT", "bytes 4-7/10"),
        ("GET", None),
        ("PUT", "bytes 8-9/10"),
        ("POST", None),
    ]
    assert json.loads(responses.calls[4].request.body) == {
        "md5": hashlib.md5(b"0123456789").hexdigest()
    }
    assert len(sleeps) == 1


@responses.activate
def test_offset_mismatch_continues_from_the_servers_offset(client: Client, source: Path) -> None:
    responses.put(UPLOAD, json={"id": "u1", "url": STATE, "offset": 4})
    responses.put(STATE, status=400, json={"detail": "Offsets do not match", "offset": 8})
    responses.get(STATE, json={"id": "u1", "offset": 8})
    responses.put(STATE, json={"id": "u1", "url": STATE, "offset": 10})
    responses.post(STATE, json={"id": "u1"})
    client.chunked_upload(source, chunk_size=4, resume=False)
    assert responses.calls[3].request.headers["Content-Range"] == "bytes 8-9/10"


@responses.activate
def test_a_lost_finalize_answer_is_settled_by_the_upload_state(
    client: Client, source: Path
) -> None:
    responses.put(UPLOAD, json={"id": "u1", "url": STATE, "offset": 10})
    responses.post(STATE, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.get(STATE, json={"id": "u1", "offset": 10, "completed_at": "t", "status": 2})
    result = client.chunked_upload(source, chunk_size=16, resume=False)
    assert result["completed_at"] == "t"
    assert [c.request.method for c in responses.calls] == ["PUT", "POST", "GET"]


@responses.activate
def test_a_delivered_finalize_is_never_sent_twice(
    client: Client, source: Path, sleeps: list[float]
) -> None:
    """The answer to a finalize is lost and the server has not finished: the state is
    asked (with waits) until the budget is spent, and the finalize is not sent again
    (a second one would make a duplicate)."""
    responses.put(UPLOAD, json={"id": "u1", "url": STATE, "offset": 10})
    responses.post(STATE, body=requests.exceptions.ReadTimeout("read timed out"))
    responses.get(STATE, json={"id": "u1", "offset": 10, "completed_at": None, "status": 1})
    with pytest.raises(ClientResponseIncompleteError, match="may have applied"):
        client.chunked_upload(source, chunk_size=16, resume=False)
    methods = [c.request.method for c in responses.calls]
    retries = client.transport.policy.max_retries
    assert methods == ["PUT", "POST"] + ["GET"] * (1 + retries)
    assert len(sleeps) == retries


@responses.activate
def test_a_finalize_that_never_left_is_sent_again(client: Client, source: Path) -> None:
    """A finalize that could not connect never reached the server: sending it again is
    safe, after the state says the upload is not complete."""
    responses.put(UPLOAD, json={"id": "u1", "url": STATE, "offset": 10})
    responses.post(STATE, body=requests.exceptions.ConnectTimeout("connect timed out"))
    responses.post(STATE, json={"id": "u1", "completed_at": "t"})
    responses.get(STATE, json={"id": "u1", "offset": 10, "completed_at": None})
    result = client.chunked_upload(source, chunk_size=16, resume=False)
    assert result["completed_at"] == "t"
    assert [c.request.method for c in responses.calls] == ["PUT", "POST", "GET", "POST"]


@responses.activate
def test_gives_up_after_the_retry_budget(client: Client, source: Path) -> None:
    responses.put(UPLOAD, json={"id": "u1", "url": STATE, "offset": 4})
    responses.put(STATE, body=requests.exceptions.ConnectionError("Connection aborted."))
    responses.get(STATE, json={"id": "u1", "offset": 4})
    with pytest.raises(ClientConnectionError):
        client.chunked_upload(source, chunk_size=4, resume=False)
    puts = [c for c in responses.calls if c.request.method == "PUT"]
    assert len(puts) == 1 + 4  # the first chunk, then the second tried 1 + 3 retries


@responses.activate
def test_empty_file_wire(client: Client, tmp_path: Path) -> None:
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    responses.post(UPLOAD, json={"id": "u0", "size": 0, "completed_at": "t"})
    client.chunked_upload(empty)
    assert json.loads(responses.calls[0].request.body) == {
        "md5": hashlib.md5(b"").hexdigest(),
        "filename": "empty.bin",
    }


@given(sizes=st.lists(st.integers(1, 50), min_size=1, max_size=30), length=st.integers(0, 200))
def test_a_streamed_chunk_body_reads_the_same_in_any_sizes(
    tmp_path_factory: pytest.TempPathFactory, sizes: list[int], length: int
) -> None:
    path = tmp_path_factory.mktemp("body") / "f.bin"
    path.write_bytes(bytes(range(256)) * 2)
    whole = _ChunkBody(path, 3, length, "f.bin", hashlib.md5())
    expected = whole.read()
    assert len(expected) == len(whole)
    body = _ChunkBody(path, 3, length, "f.bin", hashlib.md5())
    pieces = []
    for size in sizes * 20:
        piece = body.read(size)
        if not piece:
            break
        pieces.append(piece)
    rest = body.read()
    streamed = (b"".join(pieces) + rest).replace(body.boundary.encode(), whole.boundary.encode())
    assert streamed == expected
    assert body.hasher.hexdigest() == hashlib.md5(path.read_bytes()[3 : 3 + length]).hexdigest()


@responses.activate
def test_an_http_upload_url_for_our_host_is_moved_onto_our_origin(
    client: Client, source: Path
) -> None:
    insecure = "http://api.synapse.test/chunked_upload/u1/"  # as a backend behind TLS says
    responses.put(UPLOAD, json={"id": "u1", "url": insecure, "offset": 10})
    responses.post(STATE, json={"id": "u1"})
    client.chunked_upload(source, chunk_size=16, resume=False)
    finalize = responses.calls[1].request
    assert finalize.url == STATE
    assert finalize.headers["Synapse-Access-Token"].startswith("Token ")


def test_foreign_upload_urls_are_left_alone(client: Client) -> None:
    assert (
        client.transport.on_own_origin("https://cdn.example.com/u/") == "https://cdn.example.com/u/"
    )
    assert client.transport.on_own_origin(STATE) == STATE
