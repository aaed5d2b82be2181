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
from unittest import mock

import pytest
import responses
import respx
from hypothesis import given, settings
from hypothesis import strategies as st

import synapse
import synapse.protocol as protocol
from synapse import Client, InvalidInputError
from synapse.aio import AsyncClient, AsyncMockTransport
from synapse.http import MockTransport, Request, Response
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
    parts = []
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        assert isinstance(payload, bytes)
        name = str(part.get_param("name", header="content-disposition"))
        parts.append((name, part.get_filename(), payload))
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


class Server:
    """A backend's batch endpoints: a batch holding a row marked bad is refused whole
    (400, nothing applied); any other batch is created and answered."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.created: list[int] = []

    def __call__(self, request: Request) -> Response:
        rows = request.json()
        if request.url.endswith("/tasks/"):
            rows = rows["data"]
        marks = [row["meta"]["n"] for row in rows]
        self.batches.append(marks)
        if any(row["meta"].get("bad") for row in rows):
            return Response(400, json={"meta": ["bad row"]})
        self.created.extend(marks)
        return Response(
            201, json=[{"id": n + 1, **row} for n, row in zip(marks, rows, strict=True)]
        )


def rows_for(kind: str, bad: list[bool]) -> list[dict[str, Any]]:
    def meta(n: int, flag: bool) -> dict[str, Any]:
        return {"n": n, "bad": True} if flag else {"n": n}

    if kind == "tasks":
        return [{"project": 1, "data_unit": 3, "meta": meta(n, b)} for n, b in enumerate(bad)]
    return [{"data_collection": 1, "meta": meta(n, b)} for n, b in enumerate(bad)]


@settings(max_examples=40, deadline=None)
@given(
    kind=st.sampled_from(["tasks", "data_units"]),
    bad=st.lists(st.booleans(), max_size=12),
    batch_size=st.integers(1, 5),
)
def test_both_clients_drive_a_bulk_create_to_the_same_report_and_requests(
    kind: str, bad: list[bool], batch_size: int
) -> None:
    """The one description, blocking and awaited: the same batches on the wire (a
    refused batch resent row by row), the same per-item outcomes, the bad rows never
    created."""
    synced, awaited = Server(), Server()
    with Client(BASE, TOKEN, transport=MockTransport(synced)) as client:
        sync_report = getattr(client, kind).bulk_create(rows_for(kind, bad), batch_size=batch_size)

    async def run() -> Any:
        async with AsyncClient(BASE, TOKEN, transport=AsyncMockTransport(awaited)) as aclient:
            manager = getattr(aclient, kind)
            return await manager.abulk_create(rows_for(kind, bad), batch_size=batch_size)

    with mock.patch.object(asyncio, "to_thread", refuse):  # awaited on the loop itself
        async_report = asyncio.run(run())
    for report in (sync_report, async_report):
        assert [item.ok for item in report.items] == [not flag for flag in bad]
        assert [obj.meta["n"] for obj in report.created] == [
            n for n, flag in enumerate(bad) if not flag
        ]
    expected: list[list[int]] = []
    for start in range(0, len(bad), batch_size):
        batch = list(range(start, min(start + batch_size, len(bad))))
        expected.append(batch)
        if len(batch) > 1 and any(bad[n] for n in batch):
            expected.extend([n] for n in batch)  # refused whole: each row alone
    assert synced.batches == awaited.batches == expected
    assert synced.created == awaited.created == [n for n, flag in enumerate(bad) if not flag]


@pytest.mark.parametrize(("kind", "default"), [("tasks", 500), ("data_units", 1000)])
def test_without_a_batch_size_both_clients_send_the_kinds_own_batches(
    kind: str, default: int
) -> None:
    synced, awaited = Server(), Server()
    rows = rows_for(kind, [False] * (default + 1))
    with Client(BASE, TOKEN, transport=MockTransport(synced)) as client:
        getattr(client, kind).bulk_create(rows)

    async def run() -> None:
        async with AsyncClient(BASE, TOKEN, transport=AsyncMockTransport(awaited)) as aclient:
            await getattr(aclient, kind).abulk_create(rows)

    asyncio.run(run())
    assert [len(batch) for batch in synced.batches] == [default, 1]
    assert awaited.batches == synced.batches


@respx.mock
async def test_aget_maps_a_404_as_get_does() -> None:
    """``aget`` runs ``get``'s steps: the API's 404 (a JSON object) is the kind's
    DoesNotExist; a 404 of an unknown path (not the API's) stays a NotFoundError."""
    respx.get(f"{BASE}/projects/1/").respond(404, json={"detail": "Not found."})
    respx.get(f"{BASE}/projects/2/").respond(404, text="<html>no such path</html>")
    async with AsyncClient(BASE, TOKEN) as client:
        missing = client.projects.resource.DoesNotExist
        with pytest.raises(missing):
            await client.projects.aget(1)
        with pytest.raises(synapse.NotFoundError) as raised:
            await client.projects.aget(2)
        assert not isinstance(raised.value, missing)


@pytest.mark.parametrize("bad", [0, -1, 2.5, "2", True, None])
@pytest.mark.parametrize("kind", ["tasks", "data_units", "projects"])
def test_a_batch_size_that_is_not_a_count_is_refused_before_sending(kind: str, bad: Any) -> None:
    """Every bulk path checks its batch size the one way (a float or ``True`` was a raw
    TypeError, or taken as 1)."""
    sent: list[Request] = []

    def record(request: Request) -> Response:
        sent.append(request)
        return Response(201, json=[])

    rows = rows_for(kind, [False]) if kind != "projects" else [{"title": "x"}]
    with (
        Client(BASE, TOKEN, transport=MockTransport(record)) as client,
        pytest.raises(InvalidInputError, match="batch_size must be an int >= 1"),
    ):
        getattr(client, kind).bulk_create(rows, batch_size=bad)
    if bad is not None:  # (None is the async default: the kind's own size)

        async def run() -> None:
            async with AsyncClient(BASE, TOKEN, transport=AsyncMockTransport(record)) as ac:
                await getattr(ac, kind).abulk_create(rows, batch_size=bad)

        with pytest.raises(InvalidInputError, match="batch_size must be an int >= 1"):
            asyncio.run(run())
    assert sent == []
