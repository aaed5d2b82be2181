"""A kind's own creations are one description (a generator of steps) driven by both
clients: the plugin release's multipart POST pinned on the wire of each (``responses``
for the sync client, ``respx`` for the async one), and no code of the SDK left that
hands work to a worker thread (issue 22, item 4)."""

from __future__ import annotations

import ast
import asyncio
import json
from email.parser import BytesParser
from email.policy import default
from pathlib import Path
from typing import Any

import pytest
import responses
import respx

import synapse
import synapse.protocol as protocol
from synapse import Client
from synapse.aio import AsyncClient
from synapse.managers import CreateMixin, manager_class
from tests.conftest import BASE, TOKEN

pytestmark = pytest.mark.anyio

ROOT = Path(synapse.__file__).parent
RELEASE = {"id": 9, "plugin": 7, "version": "2.0.0", "file": None}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def form_of(content_type: str, body: bytes) -> list[tuple[str, str | None, bytes]]:
    """A multipart body's parts: (field name, file name, content), sorted."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = BytesParser(policy=default).parsebytes(head + body)
    parts = [
        (
            str(part.get_param("name", header="content-disposition")),
            part.get_filename(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()  # type: ignore[attr-defined]
    ]
    return sorted(parts)


def expected_form(archive: Path) -> list[tuple[str, str | None, bytes]]:
    return sorted(
        [
            ("plugin", None, b"hello"),  # the wire names the plugin by its code
            ("version", None, b"2.0.0"),
            ("debug", None, b"False"),
            ("config", None, json.dumps({"a": 1}).encode()),
            ("requirements", None, b"numpy"),
            ("requirements", None, b"pillow"),
            ("file", archive.name, archive.read_bytes()),
        ]
    )


def release_options(archive: Path) -> dict[str, Any]:
    return {
        "plugin": 7,
        "version": "2.0.0",
        "file": archive,
        "config": {"a": 1},
        "requirements": ["numpy", "pillow"],
    }


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "release.zip"
    path.write_bytes(b"PK\x03\x04 plugin bytes")
    return path


@responses.activate
def test_the_sync_release_post_is_multipart_after_looking_up_the_code(archive: Path) -> None:
    responses.get(f"{BASE}/plugins/7/", json={"id": 7, "code": "hello"})
    responses.post(f"{BASE}/plugin_releases/", json=RELEASE, status=201)
    with Client(BASE, TOKEN) as client:
        release = client.plugin_releases.create(**release_options(archive))
    assert release.id == 9
    get, post = (call.request for call in responses.calls)
    assert (get.method, post.method) == ("GET", "POST")
    assert post.headers["Synapse-Access-Token"] == f"Token {TOKEN}"
    content_type = post.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert isinstance(post.body, bytes)
    assert form_of(content_type, post.body) == expected_form(archive)


def refuse(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("handed to a worker thread")


@respx.mock
async def test_the_async_release_post_is_the_same_multipart_natively(
    archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(asyncio, "to_thread", refuse)  # on the loop, or not at all
    lookup = respx.get(f"{BASE}/plugins/7/").respond(json={"id": 7, "code": "hello"})
    route = respx.post(f"{BASE}/plugin_releases/").respond(201, json=RELEASE)
    async with AsyncClient(BASE, TOKEN) as client:
        release = await client.plugin_releases.acreate(**release_options(archive))
    assert release.id == 9
    assert lookup.call_count == 1
    sent = route.calls.last.request
    assert sent.headers["Synapse-Access-Token"] == f"Token {TOKEN}"
    content_type = sent.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    assert form_of(content_type, sent.content) == expected_form(archive)


@respx.mock
async def test_a_refused_release_sends_nothing(archive: Path) -> None:
    route = respx.route().respond(200, json={})
    async with AsyncClient(BASE, TOKEN) as client:
        for fields in ({"plugin": 7}, {"plugin": "", "version": "1"}, {"version": "1"}):
            with pytest.raises(synapse.InvalidInputError):
                await client.plugin_releases.acreate(file=archive, **fields)
    assert route.call_count == 0


def test_every_kind_with_its_own_create_describes_it_as_steps() -> None:
    """``acreate``/``abulk_create`` await a kind's ``_create_steps``/``_bulk_create_steps``
    where its sync method is its own: each such kind has them."""
    for name in protocol.KINDS:
        kind = manager_class(name)
        if not issubclass(kind, CreateMixin):
            continue
        if kind.create is not CreateMixin.create:
            assert callable(getattr(kind, "_create_steps", None)), name
        if kind.bulk_create is not CreateMixin.bulk_create:
            assert callable(getattr(kind, "_bulk_create_steps", None)), name


def test_no_code_of_the_sdk_hands_work_to_a_worker_thread() -> None:
    """``AsyncClient.run_sync`` is the users' escape hatch only: nothing in synapse/
    calls it, nor ``asyncio.to_thread``."""
    callers = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("run_sync", "to_thread")
                and not (path.name == "client.py" and path.parent.name == "aio")
            ):
                callers.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert callers == []
    definition = (ROOT / "aio" / "client.py").read_text()
    assert definition.count("asyncio.to_thread(") == 1  # run_sync's own body
