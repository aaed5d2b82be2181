"""Untrusted answers over real HTTP: huge error bodies, lying resumes, redirect loops,
tokens in URL paths. A scripted loopback server plays the hostile side."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import responses

from synapse import (
    ChecksumMismatchError,
    Client,
    ClientConnectionError,
    ClientError,
    InvalidInputError,
    NotFoundError,
    TooManyRedirectsError,
    ValidationError,
)
from synapse.local import LocalBackend
from synapse.local.seed import DEMO_AGENT_TOKEN
from synapse.transport import MAX_ERROR_BODY
from tests.conftest import waits_with

Step = Callable[[BaseHTTPRequestHandler], None]


class Script:
    """A loopback server answering each request with the next scripted step."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = list(steps)
        self.seen: list[dict[str, Any]] = []
        self.bytes_sent = 0
        script = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                script.seen.append({"path": self.path, "range": self.headers.get("Range"),
                                    "if_range": self.headers.get("If-Range")})  # fmt: skip
                step = script.steps.pop(0) if script.steps else _status(500)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    step(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> Script:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def _status(code: int) -> Step:
    def step(h: BaseHTTPRequestHandler) -> None:
        h.send_response(code)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return step


def _body(code: int, data: bytes, headers: dict[str, str] | None = None, *,
          length: int | None = None, cut_after: int | None = None) -> Step:  # fmt: skip
    def step(h: BaseHTTPRequestHandler) -> None:
        h.send_response(code)
        h.send_header("Content-Length", str(len(data) if length is None else length))
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.end_headers()
        h.wfile.write(data if cut_after is None else data[:cut_after])
        h.wfile.flush()
        if cut_after is not None:
            h.close_connection = True

    return step


@pytest.fixture
def no_sleep() -> Callable[[Client], Client]:
    def quiet(client: Client) -> Client:
        waits_with(client)
        return client

    return quiet


# ------------------------------------------------------------------ bounded error bodies


def test_a_huge_error_body_is_read_only_up_to_the_bound() -> None:
    total = 200 * 1024 * 1024
    sent = {"bytes": 0}

    def flood(h: BaseHTTPRequestHandler) -> None:
        h.send_response(400)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(total))
        h.end_headers()
        block = b"x" * (1024 * 1024)
        while sent["bytes"] < total:
            h.wfile.write(block)
            sent["bytes"] += len(block)

    with Script([flood]) as server:
        client = Client(server.url, "t" * 20, max_retries=0)
        with pytest.raises(ValidationError) as caught:
            client.request("GET", "big/")
        client.close()
    error = caught.value
    assert error.body_truncated
    assert isinstance(error.response, str)
    assert len(error.response) == MAX_ERROR_BODY
    assert "cut at 64 KiB" in str(error)
    assert len(str(error)) < 500
    # The client closed the connection instead of reading the rest.
    assert sent["bytes"] < total // 4


@responses.activate
def test_a_small_json_error_body_is_whole_and_not_marked_cut() -> None:
    responses.get("https://api.example.com/x/", status=400, json={"name": ["required"]})
    with pytest.raises(ValidationError) as caught:
        Client("https://api.example.com", "t" * 20).request("GET", "x/")
    assert caught.value.response == {"name": ["required"]}
    assert not caught.value.body_truncated


@responses.activate
def test_a_deeply_nested_error_body_still_makes_a_clear_error() -> None:
    deep = b"[" * 50_000 + b"]" * 50_000
    responses.get("https://api.example.com/x/", status=422, body=deep)
    with pytest.raises(ValidationError) as caught:
        Client("https://api.example.com", "t" * 20).request("GET", "x/")
    assert caught.value.body_truncated  # 100 KB: cut, kept as text
    assert len(str(caught.value)) < 500


# ------------------------------------------------------------------ downloads


def test_a_resume_that_starts_elsewhere_restarts_from_zero(tmp_path: Path, no_sleep: Any) -> None:
    data = os.urandom(200_000)
    wrong_start = f"bytes 0-{len(data) - 1}/{len(data)}"
    steps = [
        _body(200, data, cut_after=100_000),  # breaks mid-body: one 64 KiB block kept
        _body(206, data, {"Content-Range": wrong_start}),  # "resumes" at 0, not 65,536
        _body(200, data),
    ]
    with Script(steps) as server:
        client = no_sleep(Client(server.url, "t" * 20))
        saved = client.download(f"{server.url}/media/f.bin", tmp_path / "f.bin")
        client.close()
    assert saved.read_bytes() == data  # not 265,536 bytes of spliced content
    assert [s["range"] for s in server.seen] == [None, "bytes=65536-", None]


def test_a_416_that_does_not_confirm_completion_restarts_from_zero(
    tmp_path: Path, no_sleep: Any
) -> None:
    data = os.urandom(150_000)
    steps = [
        _body(200, data, cut_after=100_000),
        _body(416, b"", {"Content-Range": "bytes */999999"}),  # the object changed
        _body(200, data),
    ]
    with Script(steps) as server:
        client = no_sleep(Client(server.url, "t" * 20))
        saved = client.download(f"{server.url}/media/g.bin", tmp_path / "g.bin")
        client.close()
    assert saved.read_bytes() == data
    assert [s["range"] for s in server.seen] == [None, "bytes=65536-", None]


def test_a_download_that_never_completes_fails_and_leaves_nothing(
    tmp_path: Path, no_sleep: Any
) -> None:
    data = os.urandom(10_000)
    with Script([_body(200, data, cut_after=100)] * 10) as server:
        client = no_sleep(Client(server.url, "t" * 20, max_retries=2))
        with pytest.raises(ClientConnectionError):
            client.download(f"{server.url}/media/h.bin", tmp_path / "h.bin")
        client.close()
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ small leaks, mappings


@responses.activate
def test_a_redirect_loop_is_reported_once_without_retry() -> None:
    responses.get("https://api.example.com/loop/", status=302,
                  headers={"Location": "https://api.example.com/loop/"})  # fmt: skip
    client = Client("https://api.example.com", "t" * 20, max_retries=1)
    with pytest.raises(TooManyRedirectsError, match="redirects"):
        client.request("GET", "loop/")
    assert len(responses.calls) == 11  # the first request and 10 redirects, once


@pytest.mark.parametrize(
    "url",
    ["http://[::1", "http://host\r\nX-Injected: 1", "http://host\x00.example", "http://ho st"],
)
def test_malformed_base_urls_are_typed_errors(url: str) -> None:
    with pytest.raises(InvalidInputError):
        Client(url, "t" * 20)


def test_the_agent_token_never_reaches_a_log_line(
    synapse_backend: LocalBackend, demo: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    client = Client(synapse_backend.url, synapse_backend.token)
    waits_with(client)
    with caplog.at_level(logging.DEBUG), client:
        client.agents.health_check(DEMO_AGENT_TOKEN)
        synapse_backend.fail_next(f"/agents/{DEMO_AGENT_TOKEN}/connect/", 429)
        client.agents.health_check(DEMO_AGENT_TOKEN)  # the retry logs a warning too
    urllib3_lines = [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")]
    assert any("agents/****" in line for line in urllib3_lines)
    retry_lines = [r.getMessage() for r in caplog.records if "retrying POST" in r.getMessage()]
    assert len(retry_lines) == 1
    assert "agents/****" in retry_lines[0]
    assert DEMO_AGENT_TOKEN not in caplog.text
    assert synapse_backend.token not in caplog.text


# ------------------------------------------------------------------ complete downloads only


def test_a_resume_whose_total_changed_starts_over(tmp_path: Path, no_sleep: Any) -> None:
    """The first answer announces 300,000 bytes and breaks; the resume claims the file is
    now 400,000 bytes long: the bytes we have belong to another file."""
    old, new = os.urandom(300_000), os.urandom(400_000)
    steps = [
        _body(200, old, cut_after=200_000),
        _body(206, new[196_608:196_618], {"Content-Range": "bytes 196608-196617/400000"}),
        _body(200, new),
    ]
    with Script(steps) as server:
        client = no_sleep(Client(server.url, "t" * 20))
        saved = client.download(f"{server.url}/media/f.bin", tmp_path / "f.bin")
        client.close()
    assert saved.read_bytes() == new  # not 196,618 bytes of two files spliced
    assert [s["range"] for s in server.seen] == [None, "bytes=196608-", None]


def test_a_resume_that_ends_short_of_its_range_resumes_again(tmp_path: Path, no_sleep: Any) -> None:
    data = os.urandom(300_000)
    steps = [
        _body(200, data, cut_after=200_000),
        # Claims the rest but ends 10 bytes in, the connection then closed cleanly.
        _body(206, data[196_608:196_618], {"Content-Range": "bytes 196608-299999/300000"}),
        _body(206, data[196_618:], {"Content-Range": "bytes 196618-299999/300000"}),
    ]
    with Script(steps) as server:
        client = no_sleep(Client(server.url, "t" * 20))
        saved = client.download(f"{server.url}/media/f.bin", tmp_path / "f.bin")
        client.close()
    assert saved.read_bytes() == data
    assert [s["range"] for s in server.seen] == [None, "bytes=196608-", "bytes=196618-"]


def test_a_partial_answer_to_a_whole_request_is_completed_not_kept(
    tmp_path: Path, no_sleep: Any
) -> None:
    data = os.urandom(300_000)
    steps = [
        _body(206, data[:100_000], {"Content-Range": "bytes 0-99999/300000"}),
        _body(206, data[100_000:], {"Content-Range": "bytes 100000-299999/300000"}),
    ]
    with Script(steps) as server:
        client = no_sleep(Client(server.url, "t" * 20))
        saved = client.download(f"{server.url}/media/p.bin", tmp_path / "p.bin")
        client.close()
    assert saved.read_bytes() == data
    assert [s["range"] for s in server.seen] == [None, "bytes=100000-"]


def test_a_whole_answer_shorter_than_the_known_size_is_not_complete(
    tmp_path: Path, no_sleep: Any
) -> None:
    data = os.urandom(5_000)
    with Script([_body(200, data[:4_000])] * 3) as server:
        client = no_sleep(Client(server.url, "t" * 20, max_retries=2))
        with pytest.raises(ClientConnectionError, match="4000-byte file where 5000 bytes"):
            client.download(f"{server.url}/media/s.bin", tmp_path / "s.bin", size=5_000)
        client.close()
    assert list(tmp_path.iterdir()) == []


def test_an_empty_file_answered_416_is_saved_empty(tmp_path: Path, no_sleep: Any) -> None:
    with Script([_body(416, b"", {"Content-Range": "bytes */0"})]) as server:
        client = no_sleep(Client(server.url, "t" * 20))
        saved = client.download(f"{server.url}/media/empty.bin", tmp_path / "empty.bin")
        client.close()
    assert saved.read_bytes() == b""


def test_a_checksum_that_differs_keeps_nothing(tmp_path: Path, no_sleep: Any) -> None:
    import hashlib

    data = os.urandom(3_000)
    good = hashlib.md5(data).hexdigest()
    with Script([_body(200, data), _body(200, data)]) as server:
        client = no_sleep(Client(server.url, "t" * 20))
        url = f"{server.url}/media/c.bin"
        assert client.download(url, tmp_path / "ok.bin", checksum=good).read_bytes() == data
        with pytest.raises(ChecksumMismatchError, match="md5"):
            client.download(url, tmp_path / "bad.bin", checksum="0" * 32)
        client.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.bin"]


def test_a_malformed_content_length_is_a_typed_error(tmp_path: Path, no_sleep: Any) -> None:
    def lying(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "abc")
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(b"payload")
        h.close_connection = True

    with Script([lying] * 4) as server:
        client = no_sleep(Client(server.url, "t" * 20, max_retries=1))
        with pytest.raises(ClientError, match="invalid Content-Length 'abc'"):
            client.download(f"{server.url}/media/l.bin", tmp_path / "l.bin")
        client.close()
    assert list(tmp_path.iterdir()) == []


def test_no_exception_in_the_chain_shows_a_path_token(no_sleep: Any) -> None:
    """The agent token stands in the URL path; the HTTP library's own exceptions quote
    that URL ("Max retries exceeded with url: /agents/<token>/connect/"), so they are
    left out of the chain and only masked text remains."""
    import socket
    import traceback

    with socket.socket() as probe:  # a port nobody listens on: connection refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = no_sleep(Client(f"http://127.0.0.1:{port}", "acc-" + "9" * 20, max_retries=1))
    text = ""
    try:
        client.agents.health_check(DEMO_AGENT_TOKEN)
    except ClientConnectionError:
        text = traceback.format_exc()
    client.close()
    assert "ClientConnectionError" in text
    assert "TransportError" in text  # the cause is still there, masked
    assert DEMO_AGENT_TOKEN not in text
    assert "acc-" + "9" * 20 not in text


def test_a_wrong_base_path_is_not_an_object_that_does_not_exist(
    synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    client = Client(synapse_backend.url, synapse_backend.token)
    wrong = Client(f"{synapse_backend.url}/api/v9", synapse_backend.token)
    with pytest.raises(client.projects.resource.DoesNotExist, match="does not exist"):
        client.projects.get(999_999)
    with pytest.raises(NotFoundError, match=r"no such API path.*check base_url") as caught:
        wrong.projects.get(demo["project"])
    client.close()
    wrong.close()
    assert not isinstance(caught.value, wrong.projects.resource.DoesNotExist)


def test_https_to_a_plain_http_server_says_tls_and_that_nothing_was_sent(
    synapse_backend: LocalBackend,
) -> None:
    client = Client(synapse_backend.url.replace("http://", "https://"), "t" * 20, max_retries=0)
    with pytest.raises(ClientConnectionError, match=r"TLS handshake failed.*http://") as caught:
        client.projects.count()
    client.close()
    assert "after the request was sent" not in str(caught.value)


def test_a_collection_created_with_specifications_reads_back(synapse_client: Client) -> None:
    made = synapse_client.data_collections.create(
        name="x", file_specifications=[{"name": "img", "file_type": "image"}]
    )
    again = synapse_client.data_collections.get(made.id)
    assert [s.name for s in again.file_specifications or []] == ["img"]
    named = [c for c in synapse_client.data_collections.all() if c.name == "x"]
    assert len(named) == 1  # made once, no error and no retry after it was made


def test_a_part_of_unknown_size_is_never_saved_as_the_whole(tmp_path: Path, no_sleep: Any) -> None:
    steps = [_body(206, b"x" * 100, {"Content-Range": "bytes 0-99/*"})]
    with Script(steps) as server:
        client = no_sleep(Client(server.url, "t" * 20))
        with pytest.raises(ClientError, match="without the file's size"):
            client.download(f"{server.url}/media/u.bin", tmp_path / "u.bin")
        client.close()
    assert list(tmp_path.iterdir()) == []


def test_a_content_length_of_non_ascii_digits_is_a_typed_error(
    tmp_path: Path, no_sleep: Any
) -> None:
    def superscript(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "\u00b2")  # isdigit() says yes, int() says no
        h.send_header("Connection", "close")
        h.end_headers()
        h.wfile.write(b"ab")
        h.close_connection = True

    with Script([superscript] * 4) as server:
        client = no_sleep(Client(server.url, "t" * 20, max_retries=1))
        with pytest.raises(ClientError, match="invalid Content-Length"):
            client.download(f"{server.url}/media/s.bin", tmp_path / "s.bin")
        client.close()


def test_a_resume_is_asked_for_the_same_version_and_never_splices_another(
    tmp_path: Path, no_sleep: Any
) -> None:
    """Same size, new bytes: the ETag tells the versions apart. The resume sends
    If-Range; a server that answers a part of the new version anyway is not spliced."""
    old, new = os.urandom(300_000), os.urandom(300_000)
    steps = [
        _body(200, old, {"ETag": '"v1"'}, cut_after=200_000),
        _body(206, new[196_608:], {"ETag": '"v2"', "Content-Range": "bytes 196608-299999/300000"}),
        _body(200, new, {"ETag": '"v2"'}),
    ]
    with Script(steps) as server:
        client = no_sleep(Client(server.url, "t" * 20))
        saved = client.download(f"{server.url}/media/v.bin", tmp_path / "v.bin")
        client.close()
    assert saved.read_bytes() == new
    assert [s["if_range"] for s in server.seen] == [None, '"v1"', None]


def test_a_signed_url_on_the_backends_own_host_leaves_its_signature_out_of_every_log(
    synapse_backend: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """urllib3's DEBUG line and httpx's INFO line name each request's URL: a presigned
    URL's signature is masked there too, over real HTTP, from both clients."""
    import asyncio

    from synapse.aio import AsyncClient

    signed = f"{synapse_backend.url}/_storage/none/w.bin?expires=1&signature=deadbeefSECRET"
    with caplog.at_level("DEBUG"):
        with (
            Client(synapse_backend.url, synapse_backend.token, max_retries=0) as client,
            pytest.raises(ClientError),
        ):
            client.download(signed, tmp_path / "w.bin")

        async def run() -> None:
            async with AsyncClient(synapse_backend.url, synapse_backend.token, max_retries=0) as ac:
                with pytest.raises(ClientError):
                    await ac.download(signed, tmp_path / "a.bin")

        asyncio.run(run())
    lines = [r.getMessage() for r in caplog.records]
    assert any("/_storage/none/w.bin" in line for line in lines)  # the requests are logged...
    assert all("deadbeefSECRET" not in line for line in lines)  # ...without the signature
    assert "signature=***" in caplog.text
