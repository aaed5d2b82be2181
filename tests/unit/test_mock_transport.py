"""The injectable transport: users test their own code without a server, and the SDK's
answers are its own types, never the HTTP library's."""

from __future__ import annotations

import json

import pytest

from synapse import (
    BackendClient,
    Client,
    ClientConnectionError,
    MockTransport,
    NotFoundError,
    Project,
    TransportError,
)
from synapse.http import Request, Response
from synapse.retry import RetryPolicy

BASE = "https://api.example.com"


def backend(request: Request) -> Response:
    if request.method == "GET" and request.url == f"{BASE}/projects/1/":
        return Response(200, json={"id": 1, "title": "Mocked", "extra_field": True})
    if request.method == "GET" and request.url == f"{BASE}/sdk/tasks/":
        rows = [{"id": n, "project": 1} for n in range(1, 4)]
        return Response(200, json={"count": 3, "next": None, "previous": None, "results": rows})
    if request.method == "PATCH" and request.url == f"{BASE}/projects/1/":
        return Response(200, json={"id": 1, **request.json()})
    return Response(404, json={"detail": "Not found."})


def test_a_mock_transport_serves_the_object_api() -> None:
    mock = MockTransport(backend)
    client = Client(BASE, "secret-token-1234567890", transport=mock)
    project = client.projects.get(1)
    assert isinstance(project, Project)
    assert project.title == "Mocked"
    assert [t.id for t in client.tasks.filter(project=1)] == [1, 2, 3]
    project.title = "Renamed"
    project.save()
    patch = mock.requests[-1]
    assert (patch.method, patch.json()) == ("PATCH", {"title": "Renamed"})
    assert patch.headers["Synapse-Access-Token"] == "Token secret-token-1234567890"
    assert patch.headers["User-Agent"].startswith("synapse-orm/")
    assert mock.requests[1].params == [("project", "1"), ("page_size", "100"), ("page", "1")]
    with pytest.raises(Project.DoesNotExist):
        client.projects.get(2)


def test_the_method_api_answers_plain_json_through_it() -> None:
    client = BackendClient(BASE, "t" * 20, transport=MockTransport(backend))
    assert client.get_project(1) == {"id": 1, "title": "Mocked", "extra_field": True}
    with pytest.raises(NotFoundError):
        client.get_task(9)


def test_answers_are_the_sdks_own_response_type() -> None:
    client = Client(BASE, "t" * 20, transport=MockTransport(backend))
    answer = client.transport.send("GET", "projects/1/")
    assert type(answer) is Response
    assert json.loads(answer.content)["title"] == "Mocked"
    assert answer.headers["CONTENT-TYPE"] == "application/json"


def test_a_handler_plays_network_failures_and_the_retry_policy_applies() -> None:
    calls: list[str] = []
    waits: list[float] = []

    def flaky(request: Request) -> Response:
        calls.append(request.method)
        if len(calls) < 3:
            raise TransportError("connect", "connection refused")
        return backend(request)

    client = Client(BASE, "t" * 20, transport=MockTransport(flaky),
                    retry=RetryPolicy(max_retries=3, sleep=waits.append))  # fmt: skip
    assert client.projects.get(1).title == "Mocked"
    assert len(calls) == 3
    assert len(waits) == 2

    def down(request: Request) -> Response:
        raise TransportError("broken", "reset by peer")

    broken = Client(BASE, "t" * 20, transport=MockTransport(down),
                    retry=RetryPolicy(max_retries=1, sleep=waits.append))  # fmt: skip
    with pytest.raises(ClientConnectionError, match="reset by peer"):
        broken.projects.get(1)
    with pytest.raises(ValueError, match="not both"):
        Client(BASE, "t" * 20, max_retries=2, retry=RetryPolicy(max_retries=5))


def test_a_requests_repr_shows_no_credential() -> None:
    from synapse.http import MockTransport, Response

    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response(200, json={"id": 1})

    agent = "agent-" + "7" * 30
    client = Client(
        "https://api.example.com", "acc-" + "8" * 20, agent_token=agent,
        transport=MockTransport(handler),
    )  # fmt: skip
    client.request("POST", f"agents/{agent}/connect/")
    shown = repr(seen[0])
    assert "8" * 20 not in shown
    assert "7" * 30 not in shown
    assert "Synapse-Access-Token" in shown  # named, with its value masked
