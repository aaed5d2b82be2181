"""The exact requests the async client sends, pinned with ``respx``; its retries, errors,
redaction and credentials are the sync client's (issue 22)."""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
import sys
from typing import Any

import httpx
import pytest
import respx

from synapse import (
    AuthenticationError,
    Client,
    ClientConnectionError,
    InvalidInputError,
    NotFoundError,
    ServerError,
    UnknownFilterError,
)
from synapse.aio import AsyncClient, AsyncMockTransport
from synapse.http import Request, Response
from synapse.retry import RetryPolicy
from tests.conftest import AGENT, BASE, TOKEN

pytestmark = pytest.mark.anyio

TASK = {"id": 5, "project": 1, "data_unit": 2, "data": {"a": 1}, "meta": {"m": 1}, "tags": []}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def make(sleeps: list[float] | None = None, **kwargs: Any) -> AsyncClient:
    client = AsyncClient(BASE, TOKEN, tenant="acme", agent_token=AGENT, **kwargs)
    record = sleeps.append if sleeps is not None else (lambda s: None)
    client.transport.policy = dataclasses.replace(client.transport.policy, sleep=record)
    return client


@respx.mock
async def test_get_sends_the_synapse_headers_and_the_detail_query() -> None:
    route = respx.get(f"{BASE}/storages/3/").respond(json={"id": 3, "name": "s"})
    async with make() as client:
        storage = await client.storages.aget(3)
    assert storage.name == "s"
    sent = route.calls.last.request
    assert sent.url.params["with_configuration"] == "true"
    assert sent.headers["Synapse-Access-Token"] == f"Token {TOKEN}"
    assert sent.headers["Synapse-Tenant"] == "Token acme"
    assert sent.headers["SYNAPSE-Agent"] == f"Token {AGENT}"
    assert sent.headers["User-Agent"].startswith("synapse-orm/")


@respx.mock
async def test_save_patches_only_the_changed_fields_and_delete() -> None:
    respx.get(f"{BASE}/tasks/5/").respond(json=TASK)
    patch = respx.patch(f"{BASE}/tasks/5/").respond(json={**TASK, "meta": {"m": 2}})
    delete = respx.delete(f"{BASE}/tasks/5/").respond(204)
    async with make() as client:
        task = await client.tasks.aget(5)
        task.meta = {"m": 2}
        await task.asave()
        await task.adelete()
    assert json.loads(patch.calls.last.request.content) == {"meta": {"m": 2}}
    assert patch.calls.last.request.headers["Content-Type"] == "application/json"
    assert delete.call_count == 1


@respx.mock
async def test_list_pages_carry_filters_ordering_and_page_numbers() -> None:
    route = respx.get(f"{BASE}/sdk/tasks/").respond(
        json={"count": 1, "next": None, "previous": None, "results": [TASK]}
    )
    async with make(page_size=50) as client:
        found = [t.id async for t in client.tasks.filter(project=1).order_by("-id")]
    assert found == [5]
    params = route.calls.last.request.url.params
    assert sorted(params.multi_items()) == sorted(
        [("project", "1"), ("ordering", "-id"), ("page_size", "50"), ("page", "1")]
    )


@respx.mock
async def test_values_and_tables_ask_for_their_fields_by_wire_name() -> None:
    """``values("project_id")`` sends ``fields=project`` (the wire's name) and the key;
    a table of ``columns`` asks for those; both read the sync side's wire."""
    route = respx.get(f"{BASE}/sdk/tasks/").respond(
        json={"count": 1, "next": None, "previous": None, "results": [TASK]}
    )
    async with make(page_size=50) as client:
        query = client.tasks.filter(project=1)
        rows = [r async for r in query.values_list("project_id", "data", named=True)[:1]]
        frame = await query.ato_pandas(["data_unit_id"])
    assert rows == [(1, {"a": 1})]
    assert (rows[0].project_id, rows[0].data) == (1, {"a": 1})
    assert list(frame["data_unit_id"]) == [2]
    values, table = (call.request.url.params for call in route.calls)
    assert sorted(values.multi_items()) == sorted(
        [("project", "1"), ("fields", "id"), ("fields", "project"), ("fields", "data"),
         ("page_size", "1"), ("page", "1")]
    )  # fmt: skip
    assert values.get_list("fields") == ["id", "project", "data"]
    assert table.get_list("fields") == ["id", "data_unit"]
    assert table["page_size"] == "50"


@respx.mock
async def test_credentials_never_follow_a_redirect_to_another_host() -> None:
    respx.get(f"{BASE}/projects/1/").respond(302, headers={"Location": "https://cdn.test/p1"})
    foreign = respx.get("https://cdn.test/p1").respond(json={"id": 1, "title": "t"})
    async with make() as client:
        assert (await client.projects.aget(1)).title == "t"
    headers = foreign.calls.last.request.headers
    for name in ("Synapse-Access-Token", "Synapse-Tenant", "SYNAPSE-Agent", "Authorization"):
        assert name not in headers


@respx.mock
async def test_idempotent_requests_retry_posts_do_not(caplog: pytest.LogCaptureFixture) -> None:
    sleeps: list[float] = []
    respx.get(f"{BASE}/projects/1/").mock(
        side_effect=[
            httpx.Response(503, json={"detail": "busy"}),
            httpx.Response(429, headers={"Retry-After": "7"}, json={}),
            httpx.Response(200, json={"id": 1}),
        ]
    )
    post = respx.post(f"{BASE}/projects/").respond(503, json={"detail": "busy"})
    with caplog.at_level(logging.WARNING, logger="synapse"):
        async with make(sleeps) as client:
            assert (await client.projects.aget(1)).id == 1
            with pytest.raises(ServerError):
                await client.projects.acreate(title="x")
    assert len(sleeps) == 2
    assert sleeps[1] == 7.0  # Retry-After, through the one policy
    assert post.call_count == 1  # a POST that may have been applied is never resent
    assert "retrying GET" in caplog.text
    assert TOKEN not in caplog.text


@respx.mock
async def test_network_failures_map_to_the_error_tree() -> None:
    route = respx.get(f"{BASE}/projects/1/").mock(side_effect=httpx.ConnectError("refused"))
    async with make(max_retries=2) as client:
        with pytest.raises(ClientConnectionError):
            await client.projects.aget(1)
    assert route.call_count == 3


@respx.mock
async def test_errors_are_typed_and_redacted() -> None:
    respx.get(f"{BASE}/projects/1/").respond(404, json={"detail": "Not found."})
    respx.get(f"{BASE}/projects/2/").respond(401, json={"detail": f"bad token {TOKEN}"})
    client = make()
    with pytest.raises(NotFoundError) as missing:
        await client.projects.aget(1)
    assert missing.value.status_code == 404
    with pytest.raises(AuthenticationError) as denied:
        await client.projects.aget(2)
    assert TOKEN not in str(denied.value)
    assert TOKEN not in repr(denied.value.response)
    assert TOKEN not in repr(client)
    await client.aclose()


async def test_bad_input_raises_before_any_request() -> None:
    transport = AsyncMockTransport(lambda request: Response(200, json={}))
    async with AsyncClient(BASE, TOKEN, transport=transport) as client:
        with pytest.raises(UnknownFilterError):
            client.tasks.filter(projet=1)
        with pytest.raises(InvalidInputError):
            await client.tasks.aget("../../admin")
        with pytest.raises(InvalidInputError):
            await client.tasks.abulk_create([], batch_size=0)
        with pytest.raises(InvalidInputError):
            await client.chunked_upload_many([], concurrency=0)
    assert transport.requests == []
    with pytest.raises(InvalidInputError, match="not both"):
        AsyncClient(BASE, TOKEN, max_retries=2, retry=RetryPolicy(max_retries=3))


async def test_an_httpx_mock_transport_can_be_injected() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 9, "title": "mocked"})

    async with AsyncClient(BASE, TOKEN, transport=httpx.MockTransport(handler)) as client:
        assert (await client.projects.aget(9)).title == "mocked"
    assert str(seen[0].url) == f"{BASE}/projects/9/"


async def test_the_async_mock_transport_takes_coroutine_handlers() -> None:
    async def handler(request: Request) -> Response:
        return Response(200, json={"id": 1, "title": request.url})

    transport = AsyncMockTransport(handler)
    async with AsyncClient(BASE, TOKEN, transport=transport) as client:
        project = await client.projects.aget(1)
    assert project.title == f"{BASE}/projects/1/"
    assert [r.method for r in transport.requests] == ["GET"]


async def test_the_sync_client_works_inside_a_running_loop() -> None:
    """No event loop inside sync code: a notebook's running loop does not get in the way."""
    sync = Client(BASE, TOKEN, transport=_sync_mock())
    assert sync.projects.get(1).id == 1
    sync.close()


def _sync_mock() -> Any:
    from synapse.http import MockTransport

    return MockTransport(lambda request: Response(200, json={"id": 1}))


def test_import_synapse_does_not_import_httpx() -> None:
    probe = (
        "import sys, synapse; synapse.Client('https://api.synapse.test', 't' * 20); "
        "before = 'httpx' in sys.modules; synapse.AsyncClient; "
        "print(before, 'httpx' in sys.modules, 'synapse.aio' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True", "True"]


def test_settings_come_from_the_same_environment_as_the_sync_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SYNAPSE_BASE_URL", BASE)
    monkeypatch.setenv("SYNAPSE_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("SYNAPSE_TENANT", "acme")
    monkeypatch.setenv("SYNAPSE_PAGES_IN_FLIGHT", "7")
    client, sync = AsyncClient(timeout=(2, 9)), Client(timeout=(2, 9))
    assert client.config == sync.config
    assert client.apage_fetcher.in_flight == 7
    assert TOKEN not in repr(client)
    assert TOKEN not in repr(client.config)


async def test_tls_verification_stays_on_and_one_context_is_shared() -> None:
    import ssl

    first, second = AsyncClient(BASE, TOKEN), AsyncClient(BASE, TOKEN)
    pools = [c.atransport.http.sender(httpx.URL(BASE)) for c in (first, second)]  # type: ignore[attr-defined]
    contexts = [p._pool._ssl_context for p in pools]  # type: ignore[attr-defined]
    assert contexts[0] is contexts[1]  # the certificates load once per process
    assert contexts[0].verify_mode == ssl.CERT_REQUIRED
    assert contexts[0].check_hostname
    for client in (first, second):
        await client.aclose()


@respx.mock
async def test_path_tokens_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    respx.post(f"{BASE}/agents/{AGENT}/connect/").respond(json={"ok": True})
    with caplog.at_level(logging.DEBUG):
        async with make() as client:
            assert await client.request("POST", f"agents/{AGENT}/connect/") == {"ok": True}
    assert "HTTP Request: POST" in caplog.text  # httpx logged the request...
    assert AGENT not in caplog.text  # ...with the token in its path masked
    assert TOKEN not in caplog.text


def test_without_the_extra_the_error_says_what_to_install() -> None:
    probe = (
        "import sys; sys.modules['httpx'] = None; import synapse\n"
        "try:\n    synapse.AsyncClient\nexcept ModuleNotFoundError as exc:\n    print(exc)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert "pip install 'synapse-orm[async]'" in out.stdout


def no_worker_threads(client: AsyncClient) -> AsyncClient:
    """``client`` whose sync bridge fails: what it sends must be sent natively."""

    async def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("bridged to a worker thread")

    client.run_sync = refuse  # type: ignore[method-assign]
    return client


@respx.mock
async def test_plugin_arun_posts_the_run_body_natively_and_builds_the_job() -> None:
    respx.get(f"{BASE}/plugins/7/").respond(json={"id": 7, "code": "hello"})
    route = respx.post(f"{BASE}/plugins/7/run/").respond(
        json={"id": 31, "status": "pending", "action": "train"}
    )
    by_code = respx.post(f"{BASE}/plugins/hello/run/").respond(json={"id": 32})
    async with no_worker_threads(make()) as client:
        plugin = await client.plugins.aget(7)
        job = await plugin.arun("train", {"epochs": 2}, agent=4, debug=True)
        assert (job.id, job.action) == (31, "train")
        assert await client.plugins._build({"code": "hello"}).arun() is not None
        with pytest.raises(InvalidInputError, match="agent must be an int id"):
            await plugin.arun("train", agent="4")  # type: ignore[arg-type]
    assert route.call_count == 1  # the refused one sent nothing
    sent = route.calls.last.request
    assert json.loads(sent.content) == {
        "agent": 4, "action": "train", "params": {"epochs": 2}, "debug": True, "language": "ko"
    }  # fmt: skip
    assert sent.headers["Synapse-Access-Token"] == f"Token {TOKEN}"
    assert json.loads(by_code.calls.last.request.content) == {"language": "ko"}


@respx.mock
async def test_job_alogs_reads_the_console_log_natively() -> None:
    route = respx.get(f"{BASE}/jobs/9/console_logs/").mock(
        side_effect=[
            httpx.Response(200, json={"logs": ["started", 2]}),
            httpx.Response(200, json=["only", "lines"]),
            httpx.Response(503, json={"detail": "busy"}),
            httpx.Response(200, json={"results": []}),
        ]
    )
    async with no_worker_threads(make()) as client:
        job = client.jobs._build({"id": 9, "status": "running"})
        assert await job.alogs() == ["started", "2"]
        assert await job.alogs() == ["only", "lines"]
        assert await job.alogs() == []  # after the 503, retried by the one policy
    assert route.call_count == 4
    with Client(BASE, TOKEN) as sync_client:
        loaded_sync = sync_client.jobs._build({"id": 9})
        with pytest.raises(InvalidInputError, match="loaded by an AsyncClient"):
            await loaded_sync.alogs()


@respx.mock
async def test_task_aannotate_puts_the_data_natively_and_reloads_the_task() -> None:
    route = respx.put(f"{BASE}/tasks/5/annotate_task_data/").respond(
        json={**TASK, "data": {"a": 2}, "status": "submitted"}
    )
    async with no_worker_threads(make()) as client:
        task = client.tasks._build(TASK)
        await task.aannotate({"boxes": [1]}, action="save", schema="v2")
        assert task.data == {"a": 2}  # reloaded from the answer
        with pytest.raises(InvalidInputError, match="action"):
            await task.aannotate({}, action="publish")
        with pytest.raises(InvalidInputError, match="no id yet"):
            await client.tasks._build({"project": 1}).aannotate({})
    assert route.call_count == 1  # the refused ones sent nothing
    sent = route.calls.last.request
    assert sent.url.params["schema"] == "v2"
    assert json.loads(sent.content) == {"action": "save", "data": {"boxes": [1]}}


@respx.mock(assert_all_called=False)
async def test_a_notebook_shows_an_async_query_without_a_request() -> None:
    """A display hook cannot await: showing the query itself describes it and sends
    nothing (it raised from inside the HTML formatter)."""
    route = respx.get(f"{BASE}/sdk/tasks/").respond(200, json={"count": 0, "results": []})
    async with AsyncClient(BASE, TOKEN) as client:
        query = client.tasks.filter(project=3).order_by("-id")
        shown = query._repr_html_()
    assert "AsyncQuerySet Task filter(project=3) order_by(-id)" in shown
    assert "ato_pandas" in shown
    assert not route.called


@respx.mock
async def test_the_awaited_twins_send_the_documented_requests() -> None:
    """Issue 22 item 2: each twin's request is its sync method's (path, method, body)."""
    tags = respx.post(f"{BASE}/assignments/set_tags/").respond(json={"updated": 2})
    connect = respx.post(f"{BASE}/agents/{AGENT}/connect/").respond(json={"status": "ok"})
    checks = respx.post(f"{BASE}/data_files/verify_checksums/").respond(
        json={"existing_checksums": ["c1"]}
    )
    logs = respx.post(f"{BASE}/logs/").respond(201, json={"id": 1})
    respx.get(f"{BASE}/plugins/7/").respond(json={"id": 7, "code": "p", "name": "P"})
    put = respx.put(f"{BASE}/plugins/7/").respond(json={"id": 7, "code": "p", "name": "Q"})
    async with make() as client:
        assert await client.assignments.aset_tags([1, 2], 3, "remove") == {"updated": 2}
        assert await client.agents.ahealth_check(AGENT) == {"status": "ok"}
        assert await client.data_files.averify_checksums(iter(["c1", "c2"])) == ["c1"]
        await client.jobs.acreate_logs([{"event": "message"}])
        plugin = await client.plugins.aget(7)
        await plugin.aupdate(name="Q")
        with pytest.raises(InvalidInputError, match="not usable as a URL path segment"):
            await client.agents.ahealth_check("a/b")
    assert json.loads(tags.calls.last.request.content) == {
        "ids": [1, 2],
        "tags": [3],
        "action": "remove",
    }
    assert connect.call_count == 1
    assert json.loads(checks.calls.last.request.content) == {"checksums": ["c1", "c2"]}
    assert json.loads(logs.calls.last.request.content) == [{"event": "message"}]
    assert json.loads(put.calls.last.request.content)["name"] == "Q"  # updated whole: a PUT
    assert plugin.name == "Q"
