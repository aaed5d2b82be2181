"""Transfers against a hostile or failing server: one retry budget, and every number the
server sends about an upload checked before it is used."""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse import Client, ClientConnectionError, ClientError, ServerError
from synapse.aio import AsyncClient, AsyncMockTransport
from synapse.errors import TransportError
from synapse.http import MockTransport, Request, Response

BASE = "https://api.test"
STATE = f"{BASE}/chunked_upload/u1/"


def quiet(client: Any) -> Any:
    client.transport.policy = dataclasses.replace(client.transport.policy, sleep=lambda s: None)
    return client


@pytest.mark.parametrize("failure", ["refused", "503"])
def test_a_download_tries_max_retries_plus_one_times_in_all(tmp_path: Path, failure: str) -> None:
    sent: list[str] = []

    def handler(request: Request) -> Response:
        sent.append(request.url)
        if failure == "503":
            return Response(503)
        raise TransportError("connect", "refused")

    client = quiet(Client(BASE, "tok", transport=MockTransport(handler)))
    expected = ServerError if failure == "503" else ClientConnectionError
    with pytest.raises(expected):
        client.download("https://storage.test/x.bin", tmp_path / "x.bin")
    assert len(sent) == client.transport.policy.max_retries + 1  # not (n + 1) ** 2
    assert list(tmp_path.iterdir()) == []

    async def async_download() -> int:
        count = 0

        async def ahandler(request: Request) -> Response:
            nonlocal count
            count += 1
            return handler(request)

        async with quiet(AsyncClient(BASE, "tok", transport=AsyncMockTransport(ahandler))) as ac:
            with pytest.raises(expected):
                await ac.download("https://storage.test/x.bin", tmp_path / "y.bin")
        return count

    assert asyncio.run(async_download()) == client.transport.policy.max_retries + 1


def test_a_download_answered_404_is_not_retried(tmp_path: Path) -> None:
    sent: list[str] = []

    def handler(request: Request) -> Response:
        sent.append(request.url)
        return Response(404)

    client = quiet(Client(BASE, "tok", transport=MockTransport(handler)))
    with pytest.raises(ClientError):
        client.download("https://storage.test/x.bin", tmp_path / "x.bin")
    assert len(sent) == 1


def test_a_finalize_lost_in_transit_polls_within_one_budget(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    sent: list[str] = []

    def handler(request: Request) -> Response:
        sent.append(request.method)
        if request.method == "PUT":
            return Response(200, json={"id": "u1", "url": STATE, "offset": 10})
        raise TransportError("connect", "refused")  # the finalize and every state read

    client = quiet(Client(BASE, "tok", transport=MockTransport(handler)))
    with pytest.raises(ClientConnectionError):
        client.chunked_upload(path, chunk_size=16, resume=False)
    retries = client.transport.policy.max_retries
    assert sent.count("POST") + sent.count("GET") <= 2 * (retries + 1)


HOSTILE = st.one_of(
    st.none(),
    st.booleans(),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.integers(max_value=-1),
    st.integers(min_value=11),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=HOSTILE)
def test_a_hostile_upload_offset_is_a_typed_error(tmp_path: Path, offset: Any) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789")
    sent: list[tuple[str, str | None]] = []

    def handler(request: Request) -> Response:
        sent.append((request.method, request.headers.get("Content-Range")))
        if request.method == "PUT" and request.url.endswith("/chunked_upload/"):
            return Response(200, json={"id": "u1", "url": STATE, "offset": 4})
        if request.method == "PUT":
            raise TransportError("broken", "reset")
        if request.method == "GET":
            return Response(200, json={"id": "u1", "offset": offset})
        raise AssertionError("nothing is finalized after a hostile state")

    client = quiet(Client(BASE, "tok", transport=MockTransport(handler)))
    with pytest.raises(ClientError, match="unexpected chunked upload state"):
        client.chunked_upload(path, chunk_size=4, resume=False)
    assert sent[-1] == ("GET", None)  # nothing was sent from a made-up offset


QUERY = "X-Amz-Signature=deadbeefSECRET&X-Amz-Credential=AKIA123"
SIGNED = f"https://bucket.s3.example/w.bin?{QUERY}"


@pytest.mark.parametrize("failure", ["broken", "403", "body"])
@pytest.mark.parametrize("where", ["storage", "own"])  # a backend may sign its own URLs
def test_a_presigned_urls_signature_is_in_no_error_or_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: str, where: str
) -> None:
    signed = SIGNED if where == "storage" else f"{BASE}/media/w.bin?{QUERY}"
    named = "bucket.s3.example/w.bin" if where == "storage" else "/media/w.bin"

    def handler(request: Request) -> Response:
        if failure == "403":
            return Response(403, json={"detail": "expired"})
        if failure == "body":
            return Response(200, headers={"Content-Length": "10"}, content=b"12345")
        raise TransportError("broken", "reset")

    async def ahandler(request: Request) -> Response:
        return handler(request)

    client = quiet(Client(BASE, "tok", transport=MockTransport(handler)))
    caught: list[BaseException] = []
    with caplog.at_level("DEBUG"):
        with pytest.raises(ClientError) as sync_error:
            client.download(signed, tmp_path / "w.bin")
        caught.append(sync_error.value)

        async def run() -> None:
            async with quiet(
                AsyncClient(BASE, "tok", transport=AsyncMockTransport(ahandler))
            ) as ac:
                with pytest.raises(ClientError) as async_error:
                    await ac.download(signed, tmp_path / "a.bin")
                caught.append(async_error.value)

        asyncio.run(run())
    shown = [caplog.text]
    for error in caught:
        chain: BaseException | None = error
        while chain is not None:
            shown += [str(chain), repr(chain), str(vars(chain))]
            chain = chain.__cause__ or chain.__context__
    if failure != "body":  # (a short body's error names the bytes, not the URL)
        assert named in " ".join(shown)  # the URL is named...
    for text in shown:
        assert "deadbeefSECRET" not in text  # ...without its signature
        assert "AKIA123" not in text


@pytest.mark.parametrize("status", [503, 429])
def test_a_download_waits_what_the_servers_retry_after_says(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    answers = [Response(status, headers={"Retry-After": "7"}), Response(200, content=b"ok")]
    waits: list[float] = []

    def handler(request: Request) -> Response:
        return answers.pop(0)

    client = Client(BASE, "tok", transport=MockTransport(handler))
    client.transport.policy = dataclasses.replace(client.transport.policy, sleep=waits.append)
    with caplog.at_level("WARNING", logger="synapse"):
        saved = client.download(SIGNED, tmp_path / "w.bin")
    assert saved.read_bytes() == b"ok"
    assert waits == [7.0]
    assert "retrying the download of https://bucket.s3.example/w.bin" in caplog.text
    assert "deadbeefSECRET" not in caplog.text

    async def run() -> list[float]:
        again = [Response(status, headers={"Retry-After": "7"}), Response(200, content=b"ok")]
        awaited: list[float] = []

        async def ahandler(request: Request) -> Response:
            return again.pop(0)

        ac = AsyncClient(BASE, "tok", transport=AsyncMockTransport(ahandler))
        ac.transport.policy = dataclasses.replace(ac.transport.policy, sleep=awaited.append)
        async with ac:
            await ac.download(SIGNED, tmp_path / "a.bin")
        return awaited

    assert asyncio.run(run()) == [7.0]
