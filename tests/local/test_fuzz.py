"""Fuzzing the local backend from its own OpenAPI document: never a 500, never a response
outside the declared shapes.

Requests are drawn by hypothesis from ``/openapi.json``: every declared operation, its
path parameters (ids from the seed, out-of-range integers, odd strings), its declared
query parameters with values of the right and the wrong type, and JSON bodies of any
shape. ``make test`` runs a bounded number of examples; ``make fuzz`` many more
(``SYNAPSE_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse.local import LocalBackend

EXAMPLES = int(os.environ.get("SYNAPSE_FUZZ_EXAMPLES", "150"))
SKIPPED = ("/_local/", "/media/", "/openapi.json", "/_storage/")
#: Streams, not JSON: an unfinished job's console tail stays open until the job ends.
STREAMS = ("/tail_console_logs/",)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[LocalBackend, requests.Session, dict[str, Any]]]:
    with LocalBackend(seed="demo") as backend:
        session = requests.Session()
        session.headers["Synapse-Access-Token"] = f"Token {backend.token}"
        document = requests.get(f"{backend.url}/openapi.json", timeout=10).json()
        yield backend, session, document
        session.close()


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    with LocalBackend() as backend:
        document = requests.get(f"{backend.url}/openapi.json", timeout=10).json()
    return [
        (path, method, operation)
        for path, methods in sorted(document["paths"].items())
        if not path.startswith(SKIPPED) and not path.endswith(STREAMS)
        for method, operation in sorted(methods.items())
    ]


OPERATIONS = _operations()
EDGES = [0, -1, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30]
# hypothesis favours small integers; the boundaries of 64 bits are where servers break
HUGE = st.one_of(st.sampled_from(EDGES), st.integers(-(2**70), 2**70))
JSON = st.recursive(
    st.none()
    | st.booleans()
    | HUGE
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=16,
)  # fmt: skip
PATH_VALUES = st.one_of(
    st.sampled_from(["1", "2", "3", "123", "456", "789", "999999", "doc-plugin@0.9.0",
                     "yolo-trainer", "agent-token-123", "-1", "0"]),
    HUGE.map(str),
    st.text(min_size=1, max_size=12),
)  # fmt: skip


def _value(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    kind = schema.get("type")
    right: st.SearchStrategy[str]
    if kind == "integer":
        right = st.one_of(st.integers(-3, 1000), HUGE).map(str)
    elif kind == "string" and "comma" in schema.get("description", ""):
        right = st.lists(st.one_of(st.integers(-3, 1000), HUGE), max_size=3).map(
            lambda values: ",".join(map(str, values))
        )
    elif kind == "boolean":
        right = st.sampled_from(["true", "false", "1", "0"])
    elif "enum" in schema:
        right = st.sampled_from(schema["enum"])
    else:
        right = st.text(max_size=16)
    return st.one_of(right, st.text(max_size=16))  # and values of the wrong type


@st.composite
def fuzzed_request(draw: st.DrawFn) -> dict[str, Any]:
    path, method, operation = draw(st.sampled_from(OPERATIONS))
    params: dict[str, str] = {}
    for parameter in operation["parameters"]:
        if parameter["in"] == "path":
            value = quote(draw(PATH_VALUES), safe="@")
            path = path.replace("{" + parameter["name"] + "}", value or "x")
        elif draw(st.booleans()):
            params[parameter["name"]] = draw(_value(parameter["schema"]))
    body = draw(JSON) if "requestBody" in operation else None
    return {"method": method.upper(), "path": path, "params": params, "body": body,
            "operation": operation}  # fmt: skip


@settings(
    max_examples=EXAMPLES,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fuzzed_request())
def test_no_500_and_only_declared_shapes(served: Any, request_: dict[str, Any]) -> None:
    backend, session, _ = served
    answer = session.request(
        request_["method"],
        f"{backend.url}{request_['path']}",
        params=request_["params"],
        json=request_["body"],
        timeout=30,
    )
    where = f"{request_['method']} {request_['path']} {request_['params']}"
    assert answer.status_code < 500, f"{where} -> {answer.status_code}: {answer.text[:300]}"
    if answer.status_code == 204 or not answer.content:
        return
    if answer.status_code == 404 and answer.headers["content-type"].startswith("text/html"):
        return  # a path no route serves (a path parameter holding "/"), as Django answers it
    assert answer.headers["content-type"].startswith("application/json"), where
    body = answer.json()
    if answer.status_code >= 400:
        assert isinstance(body, (dict, list)), where  # DRF-shaped
        assert body, where
        return
    declared = request_["operation"]["responses"]
    schema = next(
        (r["content"]["application/json"]["schema"] for code, r in declared.items()
         if code.startswith("2") and "content" in r),
        None,
    )  # fmt: skip
    assert schema is not None, where
    if schema.get("required") == ["results"]:  # a page
        assert isinstance(body, dict), where
        assert isinstance(body["results"], list), where
        assert all(isinstance(item, dict) for item in body["results"]), where
        assert body.get("next") is None or isinstance(body["next"], str), where
        assert body.get("count") is None or isinstance(body["count"], int), where


def test_the_document_covers_every_route(served: Any) -> None:
    _, _, document = served
    assert "/sdk/tasks/" in document["paths"]
    assert set(document["paths"]["/tasks/{pk}/"]) == {"get", "patch", "delete"}
    listed = {p["name"] for p in document["paths"]["/sdk/tasks/"]["get"]["parameters"]}
    assert {"project", "page", "page_size", "pagination", "id__gt"} <= listed
    assert len(OPERATIONS) >= 60
