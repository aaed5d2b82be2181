"""The method API's plain list/get wrappers come from the kinds' declarations: each
has the old package's signature, its typed stub on ``BackendClient`` names the same
shape, and it sends the request the old method sent."""

from __future__ import annotations

import inspect

import pytest
import responses
from responses import matchers

from synapse import protocol
from synapse.methods import LIST_SHAPES, BackendClient, derived_methods

BASE = "https://api.synapse.test"
TOKEN = "tok-" + "x" * 20
DERIVED = derived_methods(protocol.KINDS.values())


def test_every_declared_wrapper_is_on_the_class_with_its_stub() -> None:
    declared = {f"get_{k.methods.get}" for k in protocol.KINDS.values() if k.methods.get}
    declared |= {f"list_{k.methods.list}" for k in protocol.KINDS.values() if k.methods.list}
    assert set(DERIVED) == declared
    assert len(declared) == 20
    stubs = {n for n, a in BackendClient.__annotations__.items() if a in _stub_names()}
    assert stubs == declared  # a typed stub for each, and none for a kind that has none
    for kind in protocol.KINDS.values():
        if kind.methods.list:
            shape = LIST_SHAPES[kind.methods.list_shape].__name__
            assert BackendClient.__annotations__[f"list_{kind.methods.list}"] == shape
        if kind.methods.get:
            assert BackendClient.__annotations__[f"get_{kind.methods.get}"] == "Getter"


def _stub_names() -> set[str]:
    return {"Getter", *(shape.__name__ for shape in LIST_SHAPES.values())}


@pytest.mark.parametrize("name", sorted(DERIVED))
def test_each_wrapper_shows_its_real_parameters(name: str) -> None:
    method = getattr(BackendClient, name)
    assert method.__name__ == name
    parameters = list(inspect.signature(method).parameters)
    assert parameters[0] == "self"
    if name.startswith("get_"):
        assert parameters[1].endswith("_id")
        assert parameters[-1] == "pk"
    else:
        assert parameters[1] == "params"
        assert "unknown_filters" in parameters


def test_a_wrong_call_is_a_type_error_before_sending() -> None:
    client = BackendClient(BASE, TOKEN, max_retries=0)
    with pytest.raises(TypeError):
        client.list_jobs({}, None)  # page lists take params only, positionally
    with pytest.raises(TypeError):
        client.get_project(1, 2)  # no params on get_project
    with pytest.raises(TypeError):
        client.get_task(nope=1)


@responses.activate
def test_derived_wrappers_send_what_the_old_methods_sent() -> None:
    client = BackendClient(BASE, TOKEN, max_retries=0)
    responses.get(f"{BASE}/task_tags/3/", json={"id": 3})
    responses.get(
        f"{BASE}/tasks/5/",
        json={"id": 5},
        match=[matchers.query_param_matcher({"expand": "data_unit"})],
    )
    responses.get(
        f"{BASE}/data_units/",
        json={"count": 0, "results": []},
        match=[matchers.query_param_matcher({"data_collection": "2", "page_size": "7"})],
    )
    responses.get(
        f"{BASE}/jobs/",
        json={"count": 0, "results": []},
        match=[matchers.query_param_matcher({"status": "FAILED"})],
    )
    assert client.get_task_tag(tag_id=3) == {"id": 3}
    assert client.get_task(pk=5, params={"expand": "data_unit"}) == {"id": 5}
    assert client.list_data_units({"data_collection": 2}, page_size=7)["count"] == 0
    assert client.list_jobs(params={"status": "failed"}) == {"count": 0, "results": []}
    assert len(responses.calls) == 4


def test_timed_lists_send_their_timeout_as_the_read_timeout() -> None:
    from synapse.http import MockTransport, Request, Response

    def handler(request: Request) -> Response:
        return Response(200, json={"count": 0, "results": []})

    transport = MockTransport(handler)
    client = BackendClient(BASE, TOKEN, max_retries=0, transport=transport)
    client.list_ground_truths(timeout=7)
    client.list_data_units({"data_collection": 1})  # the declared default: 60 s
    client.list_tasks(timeout=3)  # a full list passes its timeout as given
    reads = [request.timeout.read for request in transport.requests]
    assert reads == [7, 60, 3]
    connect = client.config.timeout.connect
    assert [r.timeout.connect for r in transport.requests[:2]] == [connect, connect]


@pytest.mark.parametrize("pages_in_flight", [1, 3])
def test_every_page_of_list_all_carries_the_timeout(pages_in_flight: int) -> None:
    """``list_all=True`` walks several pages: each request, not only the first, has the
    caller's read timeout (protocol.md 2.3)."""
    from synapse.http import MockTransport, Request, Response

    rows = [{"id": i, "data": {}} for i in range(1, 8)]

    def handler(request: Request) -> Response:
        query = dict(request.params)
        size, page = int(query.get("page_size", 100)), int(query.get("page", 1))
        chunk = rows[(page - 1) * size : page * size]
        more = page * size < len(rows)
        after = f"{BASE}/data_units/?page={page + 1}&page_size={size}" if more else None
        return Response(200, json={"count": len(rows), "results": chunk, "next": after})

    transport = MockTransport(handler)
    client = BackendClient(
        BASE, TOKEN, max_retries=0, transport=transport, pages_in_flight=pages_in_flight
    )
    items, count = client.list_data_units({"page_size": 2}, list_all=True, timeout=9)
    assert [row["id"] for row in items] == [row["id"] for row in rows]
    assert count == len(rows)
    assert len(transport.requests) == 4
    assert {request.timeout.read for request in transport.requests} == {9}
