"""The per-call options are declared once (`synapse.transport.Call`): the transports'
keyword signatures are derived from it, the layers between hand a `Call` down whole,
and an option added to the declaration reaches the wire with no layer edited."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path
from typing import Any

import httpx
import pytest
import responses
import respx

import synapse
from synapse import Client
from synapse.aio import AsyncClient, AsyncMockTransport
from synapse.aio.transport import AsyncTransport
from synapse.http import MockTransport, Request, Response
from synapse.transport import Call, Prepared, Transport, _keywords_of
from tests.conftest import BASE, TOKEN

OPTIONS = [f.name for f in dataclasses.fields(Call) if f.name not in ("method", "path")]
SOURCES = Path(synapse.__file__).parent


def test_the_options_are_the_declared_fields() -> None:
    assert {"params", "data", "files", "body", "headers", "timeout", "max_retries"} <= set(OPTIONS)
    assert {"stream", "ok_statuses", "complete", "cancelled"} <= set(OPTIONS)


@pytest.mark.parametrize(
    "method",
    [Transport.send, Transport.request, AsyncTransport.send, AsyncTransport.request],
    ids=lambda m: m.__qualname__,
)
def test_the_transports_take_exactly_the_declared_options(method: Any) -> None:
    parameters = inspect.signature(method).parameters
    assert list(parameters) == ["self", "method", "path", *OPTIONS]
    for name in OPTIONS:
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY
        assert parameters[name].default == Call.__dataclass_fields__[name].default


@pytest.mark.parametrize("client", [Client, AsyncClient], ids=lambda c: c.__name__)
def test_the_public_request_takes_declared_options_only(client: type) -> None:
    keywords = list(inspect.signature(client.request).parameters)[3:]  # type: ignore[attr-defined]
    assert keywords, "the public signature stays explicit, for editors"
    assert set(keywords) <= set(OPTIONS)


def _forwarding(path: Path, names: set[str]) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    tree = ast.parse(path.read_text())
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names
    ]


def test_no_layer_between_the_edge_and_prepare_names_an_option() -> None:
    """The forwarding layers pass the `Call` on; only ``prepare`` (and the retry loop's
    helpers) read its fields."""
    layers = {"request", "send", "answer", "perform"}
    found = [
        *_forwarding(SOURCES / "transport.py", layers),
        *_forwarding(SOURCES / "aio" / "transport.py", layers),
    ]
    assert len(found) == 8
    for function in found:
        named = {
            kw.arg
            for node in ast.walk(function)
            if isinstance(node, ast.Call)
            for kw in node.keywords
        } | {
            node.attr
            for node in ast.walk(function)
            if isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "call"
        }
        assert named.isdisjoint(OPTIONS), function.name


# ------------------------------------------------------------ a new option, end to end


@dataclasses.dataclass(frozen=True)
class TracedCall(Call):
    """The declaration with one option more (what adding a field to `Call` does)."""

    trace: str | None = None


class TracingTransport(Transport):
    """Reads the new option where every option is read: in ``prepare``."""

    def prepare(self, call: Call) -> Prepared:
        if isinstance(call, TracedCall) and call.trace:
            call = dataclasses.replace(
                call, headers={**(call.headers or {}), "X-Trace": call.trace}
            )
        return super().prepare(call)


# What `takes_call` is made of, over the extended declaration; the layers are Transport's
# own, unedited.
traced = _keywords_of(TracedCall)
send_traced = traced(Transport.perform)
asend_traced = traced(AsyncTransport.perform)


def test_a_new_option_reaches_the_wire_through_the_unedited_layers() -> None:
    sent: list[Request] = []

    def handler(request: Request) -> Response:
        sent.append(request)
        return Response(200, json={"ok": True})

    client = Client(BASE, TOKEN, transport=MockTransport(handler))
    transport = TracingTransport(client.config, http=client.transport.http)
    response = send_traced(transport, "GET", "projects/", params={"a": 1}, trace="t-1")
    assert response.status_code == 200
    assert sent[0].headers["X-Trace"] == "t-1"
    assert sent[0].params == [("a", "1")]
    assert "trace" in inspect.signature(send_traced).parameters


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_a_new_option_reaches_the_wire_of_the_async_transport() -> None:
    sent: list[Request] = []

    def handler(request: Request) -> Response:
        sent.append(request)
        return Response(200, json={"ok": True})

    async with AsyncClient(BASE, TOKEN, transport=AsyncMockTransport(handler)) as client:
        client.atransport.sync = TracingTransport(client.config, http=client.transport.http)
        response = await asend_traced(
            client.atransport, "POST", "logs/", data={"x": 1}, trace="t-2"
        )
    assert response.status_code == 200
    assert sent[0].headers["X-Trace"] == "t-2"
    assert sent[0].json() == {"x": 1}


# ------------------------------------------------------------ the wire, both transports


@responses.activate
def test_every_request_option_of_the_sync_transport_reaches_the_wire() -> None:
    responses.put(f"{BASE}/things/1/", status=409, json={"detail": "busy"})
    client = Client(BASE, TOKEN)
    response = client.transport.send(
        "put",
        "things/1/",
        params=[("a", "1"), ("a", "2")],
        data={"name": "n"},
        headers={"X-Extra": "yes"},
        timeout=(1, 2),
        max_retries=0,
        ok_statuses=(409,),
    )
    assert response.status_code == 409  # an accepted error status is answered, not raised
    sent = responses.calls[0].request
    assert sent.method == "PUT"
    assert sent.url == f"{BASE}/things/1/?a=1&a=2"
    assert sent.headers["X-Extra"] == "yes"
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.body == b'{"name": "n"}'
    assert len(responses.calls) == 1


@pytest.mark.anyio
@respx.mock
async def test_every_request_option_of_the_async_transport_reaches_the_wire() -> None:
    route = respx.put(f"{BASE}/things/1/").mock(return_value=httpx.Response(409, json={}))
    async with AsyncClient(BASE, TOKEN) as client:
        response = await client.atransport.send(
            "put",
            "things/1/",
            params=[("a", "1"), ("a", "2")],
            body=b"raw",
            headers={"X-Extra": "yes"},
            timeout=(1, 2),
            max_retries=0,
            ok_statuses=(409,),
        )
    assert response.status_code == 409
    sent = route.calls.last.request
    assert str(sent.url) == f"{BASE}/things/1/?a=1&a=2"
    assert sent.headers["X-Extra"] == "yes"
    assert "Content-Type" not in sent.headers  # a raw body carries its own type
    assert sent.content == b"raw"
    assert route.call_count == 1
