"""Wire behaviour of the transport, pinned with ``responses``."""

from __future__ import annotations

import json
import logging
import random
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import pytest
import requests
import responses
from hypothesis import given
from hypothesis import strategies as st

from synapse import (
    AuthenticationError,
    AuthorizationError,
    Client,
    ClientConnectionError,
    ClientResponseIncompleteError,
    ClientTimeoutError,
    HTTPError,
    InvalidInputError,
    NotFoundError,
    RateLimitError,
    ServerError,
    ValidationError,
)
from synapse.retry import RetryPolicy, parse_retry_after
from synapse.transport import USER_AGENT
from synapse.urls import build_path, join_url
from tests.conftest import AGENT, BASE, TOKEN, waits_with

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


# ------------------------------------------------------------------ headers


@responses.activate
def test_every_auth_header_as_protocol_1_2(client: Client) -> None:
    responses.get(f"{BASE}/projects/1/", json={"id": 1})
    client.request("GET", "projects/1/")
    headers = responses.calls[0].request.headers
    assert headers["Synapse-Access-Token"] == f"Token {TOKEN}"
    assert headers["Synapse-Tenant"] == "Token acme"
    assert headers["SYNAPSE-Agent"] == f"Token {AGENT}"
    assert "Authorization" not in headers
    assert headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith("synapse-orm/0.")
    assert " python/3." in USER_AGENT
    assert "Content-Type" not in headers


@responses.activate
def test_authorization_header_and_absent_headers() -> None:
    c = Client(BASE, authorization_token="user-token-1234567890")
    responses.get(f"{BASE}/x/", json={})
    c.request("GET", "x/")
    headers = responses.calls[0].request.headers
    assert headers["Authorization"] == "Token user-token-1234567890"
    for name in ("Synapse-Access-Token", "Synapse-Tenant", "SYNAPSE-Agent"):
        assert name not in headers


@responses.activate
def test_json_content_type_even_without_a_body(client: Client) -> None:
    responses.post(f"{BASE}/agents/{AGENT}/connect/", json={"status": "connected"})
    client.request("POST", build_path("agents/{}/connect/", AGENT))
    request = responses.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert not request.body


# ------------------------------------------------------------------ URLs


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("https://h.test", "tasks/", "https://h.test/tasks/"),
        ("https://h.test/", "/tasks/", "https://h.test/tasks/"),
        ("https://h.test/api", "tasks/1/", "https://h.test/api/tasks/1/"),
        ("https://h.test", "https://other.test/x/?page=2", "https://other.test/x/?page=2"),
        ("https://h.test", "http://h.test/y/", "http://h.test/y/"),
    ],
)
def test_join_url(base: str, path: str, url: str) -> None:
    assert join_url(base, path) == url


@pytest.mark.parametrize(
    ("value", "segment"),
    [(5, "5"), ("abc", "abc"), ("my-plugin@1.0.2", "my-plugin@1.0.2"), ("a b?"[:1], "a")],
)
def test_path_params(value: object, segment: str) -> None:
    assert build_path("x/{}/", value) == f"x/{segment}/"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value", ["", "../admin", "a/b", "..", ".", "a b", "a\nb", "a\\b", True, 1.5, None]
)
@responses.activate
def test_bad_path_params_raise_before_any_request(client: Client, value: object) -> None:
    with pytest.raises(InvalidInputError):
        client.request("GET", build_path("tasks/{}/", value))  # type: ignore[arg-type]
    assert len(responses.calls) == 0


def test_percent_encoding_of_odd_characters() -> None:
    assert build_path("x/{}/", "a?b#c%d") == "x/a%3Fb%23c%25d/"


# ------------------------------------------------------------------ bodies


@responses.activate
def test_query_encoding(client: Client) -> None:
    responses.get(f"{BASE}/sdk/tasks/", json={})
    client.request(
        "GET",
        "sdk/tasks/",
        params={"expand": ["data_unit", "files"], "is_discarded": False, "skip": None, "p": 3},
    )
    assert responses.calls[0].request.url == (
        f"{BASE}/sdk/tasks/?expand=data_unit&expand=files&is_discarded=false&p=3"
    )


@responses.activate
def test_json_body(client: Client) -> None:
    responses.post(f"{BASE}/tasks/", json=[{"id": 1}], status=201)
    result = client.request("POST", "tasks/", data={"project": 1, "data": [{"data_unit": "é"}]})
    request = responses.calls[0].request
    assert request.headers["Content-Type"] == "application/json"
    assert request.body == b'{"project": 1, "data": [{"data_unit": "\\u00e9"}]}'
    assert result == [{"id": 1}]


@responses.activate
def test_multipart_body(client: Client, tmp_path: Path) -> None:
    archive = tmp_path / "release.zip"
    archive.write_bytes(b"PK-bytes")
    responses.post(f"{BASE}/plugin_releases/", json={"id": 3}, status=201)
    client.request(
        "POST",
        "plugin_releases/",
        data={"plugin": "p", "config": {"a": 1}, "requirements": ["x", "y"], "debug": False},
        files={"file": archive},
    )
    request = responses.calls[0].request
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    body = request.body
    assert isinstance(body, bytes)
    assert b'name="config"\r\n\r\n{"a": 1}\r\n' in body
    assert body.count(b'name="requirements"') == 2
    assert b'name="debug"\r\n\r\nFalse\r\n' in body
    assert b'name="file"; filename="release.zip"\r\n\r\nPK-bytes' in body


@responses.activate
def test_missing_file_raises_before_any_request(client: Client, tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="not found"):
        client.request("POST", "data_files/", files={"file": tmp_path / "nope.bin"})
    assert len(responses.calls) == 0


@responses.activate
def test_response_decoding(client: Client) -> None:
    responses.delete(f"{BASE}/a/", status=204)
    responses.get(f"{BASE}/b/", body="plain text", content_type="text/plain")
    responses.get(f"{BASE}/c/", json={"ok": True})
    assert client.request("DELETE", "a/") is None
    assert client.request("GET", "b/") == "plain text"
    assert client.request("GET", "c/") == {"ok": True}


# ------------------------------------------------------------------ retries


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "HEAD", "OPTIONS"])
@pytest.mark.parametrize("status", [408, 425, 500, 502, 503, 504])
@responses.activate
def test_idempotent_methods_retry_transient_statuses(
    client: Client, sleeps: list[float], method: str, status: int
) -> None:
    responses.add(method, f"{BASE}/r/", status=status)
    responses.add(method, f"{BASE}/r/", body="")
    client.request(method, "r/")
    assert len(responses.calls) == 2
    assert len(sleeps) == 1


@pytest.mark.parametrize("method", ["POST", "PATCH"])
@pytest.mark.parametrize("status", [408, 425, 500, 502, 503, 504])
@responses.activate
def test_post_and_patch_never_retry_transient_statuses(
    client: Client, method: str, status: int
) -> None:
    responses.add(method, f"{BASE}/r/", status=status)
    with pytest.raises(HTTPError) as info:
        client.request(method, "r/", data={})
    assert info.value.status_code == status
    assert len(responses.calls) == 1


@pytest.mark.parametrize("method", ["GET", "POST", "PATCH"])
@responses.activate
def test_429_is_retried_for_every_method(client: Client, sleeps: list[float], method: str) -> None:
    responses.add(method, f"{BASE}/r/", status=429, headers={"Retry-After": "2"})
    responses.add(method, f"{BASE}/r/", json={})
    client.request(method, "r/")
    assert len(responses.calls) == 2
    assert sleeps == [2.0]


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 418])
@responses.activate
def test_client_errors_are_not_retried(client: Client, status: int) -> None:
    responses.get(f"{BASE}/r/", status=status)
    with pytest.raises(HTTPError):
        client.request("GET", "r/")
    assert len(responses.calls) == 1


@responses.activate
def test_retry_after_http_date(client: Client, sleeps: list[float]) -> None:
    when = format_datetime(datetime.now(timezone.utc) + timedelta(seconds=30), usegmt=True)
    responses.get(f"{BASE}/r/", status=503, headers={"Retry-After": when})
    responses.get(f"{BASE}/r/", json={})
    client.request("GET", "r/")
    assert 25 <= sleeps[0] <= 30


@responses.activate
def test_retry_after_is_capped(client: Client, sleeps: list[float]) -> None:
    responses.get(f"{BASE}/r/", status=429, headers={"Retry-After": "3600"})
    responses.get(f"{BASE}/r/", json={})
    client.request("GET", "r/")
    assert sleeps == [60.0]


def test_parse_retry_after_forms() -> None:
    assert parse_retry_after("5") == 5.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=lambda: 1445412470.0) == 10.0


def test_backoff_is_full_jitter_within_bounds() -> None:
    waited: list[float] = []
    policy = RetryPolicy(rng=random.Random(7), sleep=waited.append)
    for attempt in range(12):
        ceiling = min(30.0, 0.5 * 2**attempt)
        delays = [policy.wait(attempt) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling * 0.8  # really spread over the whole window
    assert policy.wait(0, 12.0) == 12.0
    assert policy.wait(0, 600.0) == 60.0  # Retry-After is capped
    assert waited[-2:] == [12.0, 60.0]


class _Highest(random.Random):
    """Draws the top of every range: the longest wait the policy allows."""

    def uniform(self, a: float, b: float) -> float:
        return b


@given(
    attempt=st.integers(min_value=0, max_value=40),
    method=st.sampled_from(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"]),
    retry_after=st.none() | st.floats(min_value=0, max_value=1e6),
    status=st.sampled_from([None, 408, 429, 500, 502, 503, 504]),
)
def test_first_retry_of_a_read_is_quick_later_ones_back_off(
    attempt: int, method: str, retry_after: float | None, status: int | None
) -> None:
    policy = RetryPolicy(rng=_Highest())
    delay = policy.delay(attempt, retry_after, method, status)
    if retry_after is not None:
        assert delay == min(retry_after, 60.0)  # the server's word, capped
    elif attempt == 0 and method in {"GET", "HEAD", "OPTIONS"} and status != 429:
        assert delay == 0.05
    else:
        assert delay == min(30.0, 0.5 * 2**attempt)


@pytest.mark.parametrize(
    ("method", "status", "waits"),
    [("GET", 503, [0.05, 1.0]), ("PUT", 503, [0.5, 1.0]), ("GET", 429, [0.5, 1.0])],
)
@responses.activate
def test_a_read_retries_at_once_then_backs_off_on_the_wire(
    sleeps: list[float], method: str, status: int, waits: list[float]
) -> None:
    """A 429 without Retry-After asks to slow down: even a read backs off at once."""
    c = Client(BASE, TOKEN)
    c.transport.policy = RetryPolicy(rng=_Highest(), sleep=sleeps.append)
    for _ in range(2):
        responses.add(method, f"{BASE}/r/", status=status)
    responses.add(method, f"{BASE}/r/", body="")
    c.request(method, "r/")
    assert len(responses.calls) == 3
    assert sleeps == waits


def test_the_policy_fields_keep_their_positions() -> None:
    """Code that builds a policy by position keeps its meaning (the quick first wait of
    a read is keyword only)."""
    policy = RetryPolicy(3, 0.5, 10.0, 5.0)
    assert (policy.backoff_cap, policy.retry_after_cap) == (10.0, 5.0)
    assert policy.delay(0, 30.0) == 5.0


@responses.activate
def test_giving_up_raises_the_real_last_status(client: Client, sleeps: list[float]) -> None:
    for status in (503, 503, 503, 502):
        responses.get(f"{BASE}/r/", status=status, json={"detail": f"down {status}"})
    with pytest.raises(ServerError) as info:
        client.request("GET", "r/")
    assert info.value.status_code == 502
    assert "down 502" in str(info.value)
    assert len(responses.calls) == 4
    assert len(sleeps) == 3


@responses.activate
def test_max_retries_per_client_and_per_call(sleeps: list[float]) -> None:
    c = Client(BASE, max_retries=1)
    waits_with(c, sleeps.append)
    responses.get(f"{BASE}/r/", status=503)
    with pytest.raises(ServerError):
        c.request("GET", "r/")
    assert len(responses.calls) == 2
    with pytest.raises(ServerError):
        c.request("GET", "r/", max_retries=0)
    assert len(responses.calls) == 3


@responses.activate
def test_connect_errors_are_retried_even_for_post(client: Client, sleeps: list[float]) -> None:
    responses.post(f"{BASE}/r/", body=requests.exceptions.ConnectTimeout("connect timed out"))
    responses.post(f"{BASE}/r/", json={"id": 1}, status=201)
    assert client.request("POST", "r/", data={}) == {"id": 1}
    assert len(responses.calls) == 2


@responses.activate
def test_post_is_never_resent_after_it_was_sent(client: Client) -> None:
    responses.post(f"{BASE}/r/", body=requests.exceptions.ConnectionError("Connection aborted."))
    responses.post(f"{BASE}/r/", json={"id": 1}, status=201)
    with pytest.raises(ClientResponseIncompleteError, match="may have applied"):
        client.request("POST", "r/", data={})
    assert len(responses.calls) == 1


@responses.activate
def test_read_timeout_post_is_incomplete_and_get_retries(
    client: Client, sleeps: list[float]
) -> None:
    responses.post(f"{BASE}/r/", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(ClientResponseIncompleteError):
        client.request("POST", "r/", data={})
    assert len(responses.calls) == 1
    for _ in range(4):
        responses.get(f"{BASE}/g/", body=requests.exceptions.ReadTimeout("read timed out"))
    with pytest.raises(ClientTimeoutError, match="read timeout") as info:
        client.request("GET", "g/")
    assert info.value.status_code == 408
    assert len(responses.calls) == 5


def test_refused_connection_maps_to_connection_error(sleeps: list[float]) -> None:
    c = Client("http://127.0.0.1:9", max_retries=1)
    waits_with(c, sleeps.append)
    with pytest.raises(ClientConnectionError, match=r"refused|unreachable") as info:
        c.request("GET", "x/")
    assert not isinstance(info.value, ClientResponseIncompleteError)
    assert len(sleeps) == 1


@responses.activate
def test_one_log_line_per_retry_without_secrets(
    caplog: pytest.LogCaptureFixture, sleeps: list[float]
) -> None:
    c = Client(BASE, TOKEN, agent_token=AGENT)
    waits_with(c, sleeps.append)
    url = f"{BASE}/agents/{AGENT}/connect/"
    responses.get(url, status=503)
    responses.get(url, status=503)
    responses.get(url, json={})
    with caplog.at_level(logging.DEBUG, logger="synapse"):
        c.request("GET", build_path("agents/{}/connect/", AGENT))
    lines = [r.getMessage() for r in caplog.records if r.name == "synapse"]
    assert len(lines) == 2
    assert all("retrying GET" in line for line in lines)
    for line in lines:
        assert AGENT not in line
        assert TOKEN not in line


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, ValidationError),
        (401, AuthenticationError),
        (403, AuthorizationError),
        (404, NotFoundError),
        (405, HTTPError),
        (409, HTTPError),
        (422, ValidationError),
        (429, RateLimitError),
        (500, ServerError),
        (501, ServerError),
        (520, ServerError),
    ],
)
@responses.activate
def test_status_mapping(status: int, cls: type[HTTPError]) -> None:
    c = Client(BASE, max_retries=0)
    responses.get(f"{BASE}/r/", status=status, json={"detail": "nope"})
    with pytest.raises(cls) as info:
        c.request("GET", "r/")
    assert type(info.value) is cls
    assert info.value.status_code == status
    assert info.value.response == {"detail": "nope"}
    assert info.value.detail == "nope"
    assert str(info.value) == f"{status} GET {BASE}/r/: nope"


@responses.activate
def test_error_carries_request_id_and_retry_after() -> None:
    c = Client(BASE, max_retries=0)
    responses.get(
        f"{BASE}/r/", status=429, json={}, headers={"X-Request-Id": "rq-1", "Retry-After": "7"}
    )
    with pytest.raises(RateLimitError) as info:
        c.request("GET", "r/")
    assert info.value.request_id == "rq-1"
    assert info.value.retry_after == 7.0
    assert "(request id rq-1)" in str(info.value)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"body": "<html><body><h1>Bad Gateway</h1></body></html>"}, "Bad Gateway"),
        ({"body": ""}, "Bad Request"),
        ({"json": ["first problem", "second problem"]}, "first problem; second problem"),
        ({"json": {"name": ["This field is required."]}}, "name: This field is required."),
        ({"json": {"files": {"image": ["bad checksum"]}}}, "files: image: bad checksum"),
        ({"json": {"detail": [{"loc": ["body", "x"], "msg": "field required"}]}}, "x: field"),
        ({"json": {"error": {"code": "V", "message": "Nope"}}}, "Nope"),
    ],
)
@responses.activate
def test_odd_bodies_give_one_readable_line(kwargs: dict[str, object], text: str) -> None:
    c = Client(BASE, max_retries=0)
    responses.get(f"{BASE}/r/", status=400, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValidationError) as info:
        c.request("GET", "r/")
    message = str(info.value)
    assert text in message
    assert "\n" not in message


@responses.activate
def test_field_errors() -> None:
    c = Client(BASE, max_retries=0)
    responses.post(f"{BASE}/r/", status=400, json={"name": ["required"], "code": "taken"})
    with pytest.raises(ValidationError) as info:
        c.request("POST", "r/", data={})
    assert info.value.field_errors == {"name": ["required"], "code": ["taken"]}


@responses.activate
def test_errors_never_carry_tokens() -> None:
    c = Client(BASE, TOKEN, agent_token=AGENT, max_retries=0)
    responses.post(
        f"{BASE}/agents/{AGENT}/connect/", status=404, body=f"no agent {AGENT} for {TOKEN}"
    )
    with pytest.raises(NotFoundError) as info:
        c.request("POST", build_path("agents/{}/connect/", AGENT))
    for text in (str(info.value), repr(info.value), str(info.value.url), str(info.value.response)):
        assert AGENT not in text
        assert TOKEN not in text


# ------------------------------------------------------------------ credentials and origins


@responses.activate
def test_no_credentials_to_a_foreign_absolute_url(client: Client) -> None:
    responses.get("https://storage.example.com/file?sig=1", body=b"data")
    responses.get(f"{BASE}/tasks/?page=2", json={})
    client.request("GET", "https://storage.example.com/file?sig=1")
    client.request("GET", f"{BASE}/tasks/?page=2")
    foreign, own = (c.request.headers for c in responses.calls)
    for name in ("Synapse-Access-Token", "Authorization", "Synapse-Tenant", "SYNAPSE-Agent"):
        assert name not in foreign
    assert own["Synapse-Access-Token"] == f"Token {TOKEN}"


@pytest.mark.parametrize(
    "url",
    [
        "http://api.synapse.test/x/",  # other scheme
        "https://api.synapse.test:8443/x/",  # other port
        "https://evil.test/x/",  # other host
    ],
)
@responses.activate
def test_other_scheme_host_or_port_is_foreign(client: Client, url: str) -> None:
    responses.get(url, json={})
    client.request("GET", url)
    assert "Synapse-Access-Token" not in responses.calls[0].request.headers


@responses.activate
def test_cross_origin_redirect_drops_every_credential() -> None:
    c = Client(BASE, TOKEN, authorization_token="user-token-1234567890", agent_token=AGENT)
    responses.get(f"{BASE}/r/", status=302, headers={"Location": "https://evil.test/steal/"})
    responses.get("https://evil.test/steal/", json={"ok": 1})
    assert c.request("GET", "r/") == {"ok": 1}
    first, second = (call.request.headers for call in responses.calls)
    assert first["Synapse-Access-Token"] == f"Token {TOKEN}"
    for name in ("Synapse-Access-Token", "Authorization", "Synapse-Tenant", "SYNAPSE-Agent"):
        assert name not in second


@responses.activate
def test_same_origin_redirect_keeps_credentials(client: Client) -> None:
    responses.get(f"{BASE}/r/", status=301, headers={"Location": f"{BASE}/r2/"})
    responses.get(f"{BASE}/r2/", json={})
    client.request("GET", "r/")
    assert responses.calls[1].request.headers["Synapse-Access-Token"] == f"Token {TOKEN}"


def test_pickled_client_recreates_its_session_lazily(client: Client) -> None:
    import pickle

    client.transport.session  # noqa: B018 - open the session
    copy = pickle.loads(pickle.dumps(client))
    assert copy.transport.http._session is None  # type: ignore[attr-defined]
    assert copy.transport.session is not client.transport.session
    assert json.dumps(copy.transport.auth_headers()) == json.dumps(client.transport.auth_headers())


@responses.activate
def test_credentials_are_masked_inside_json_error_bodies() -> None:
    c = Client(BASE, TOKEN, max_retries=0)
    responses.get(f"{BASE}/r/", status=400, json={"token": [f"bad {TOKEN}"], "n": 1})
    with pytest.raises(ValidationError) as info:
        c.request("GET", "r/")
    assert TOKEN not in str(info.value.response)
    assert TOKEN not in str(info.value)
    assert info.value.response["n"] == 1
