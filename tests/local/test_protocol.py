"""Pagination, filters, chunked upload and faults of the local backend."""

from __future__ import annotations

import ast
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse.local import LocalBackend
from synapse.local.kinds import KINDS
from tests.local.conftest import Api


def _seed_tasks(backend: LocalBackend, specs: list[tuple[int, bool]]) -> None:
    store = backend.backend.store
    store.insert_many(
        KINDS["tasks"],
        (
            {"project": project, "is_discarded": discarded, "data": {}, "tags": []}
            for project, discarded in specs
        ),
    )


def _walk(api: Api, path: str, params: dict[str, Any]) -> tuple[list[dict[str, Any]], list[int]]:
    page = api.get(path, params=params)
    assert page.status_code == 200, page.text
    body = page.json()
    items, counts = list(body["results"]), [body["count"]]
    while body["next"]:
        assert body["next"].startswith(api.backend.url)
        body = api.get(body["next"]).json()
        items.extend(body["results"])
        counts.append(body["count"])
    return items, counts


@settings(
    max_examples=40,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    specs=st.lists(st.tuples(st.integers(1, 3), st.booleans()), max_size=60),
    page_size=st.integers(1, 25),
    project=st.sampled_from([None, 1, 2]),
    discarded=st.sampled_from([None, True, False]),
    descending=st.booleans(),
)
def test_pagination_gives_every_match_once_in_order(
    api: Api,
    specs: list[tuple[int, bool]],
    page_size: int,
    project: int | None,
    discarded: bool | None,
    descending: bool,
) -> None:
    api.backend.reset()
    _seed_tasks(api.backend, specs)
    params: dict[str, Any] = {"page_size": page_size, "ordering": "-id" if descending else "id"}
    if project is not None:
        params["project"] = project
    if discarded is not None:
        params["is_discarded"] = str(discarded).lower()
    items, counts = _walk(api, "sdk/tasks/", params)
    expected = [
        pk
        for pk, (p, d) in enumerate(specs, start=1)
        if (project is None or p == project) and (discarded is None or d == discarded)
    ]
    if descending:
        expected.reverse()
    assert [t["id"] for t in items] == expected
    assert set(counts) == {len(expected)}


def test_page_links_keep_every_parameter(api: Api) -> None:
    _seed_tasks(api.backend, [(1, False)] * 5)
    body = api.get(
        "sdk/tasks/", params={"page_size": 2, "project": 1, "expand": ["a", "b"], "x": "y"}
    ).json()
    assert body["previous"] is None
    assert body["next"] == (
        f"{api.backend.url}/sdk/tasks/?page_size=2&project=1&expand=a&expand=b&x=y&page=2"
    )
    second = api.get(body["next"]).json()
    assert second["previous"].endswith("page=1")


def test_page_size_defaults_to_100_and_caps_at_1000(api: Api) -> None:
    _seed_tasks(api.backend, [(1, False)] * 1005)
    assert len(api.get("sdk/tasks/").json()["results"]) == 100
    assert len(api.get("sdk/tasks/", params={"page_size": 5000}).json()["results"]) == 1000


def test_a_page_past_the_end_is_404(api: Api) -> None:
    _seed_tasks(api.backend, [(1, False)] * 3)
    response = api.get("sdk/tasks/", params={"page": 3, "page_size": 2})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}
    empty = api.get("sdk/tasks/", params={"project": 99}).json()
    assert empty == {"count": 0, "next": None, "previous": None, "results": []}


@pytest.mark.parametrize(
    ("params", "ids"),
    [
        ({"id__in": "2,4,9"}, [2, 4]),
        ({"id__gt": "3"}, [4, 5]),
        ({"id__gte": "3"}, [3, 4, 5]),
        ({"id__lt": "3"}, [1, 2]),
        ({"id__lte": "3", "id__gt": "1"}, [2, 3]),
        ({"ids": "1,5"}, [1, 5]),
        ({"ids_ex": "1,5"}, [2, 3, 4]),
        ({"project": "2"}, [4, 5]),
        ({"ordering": "-project,id"}, [4, 5, 1, 2, 3]),
        ({"no_such_filter": "1"}, [1, 2, 3, 4, 5]),
        ({"workshopz": "1", "created_after": "2099-01-01"}, [1, 2, 3, 4, 5]),
    ],
)
def test_filters_ranges_and_unknown_names(api: Api, params: dict[str, str], ids: list[int]) -> None:
    _seed_tasks(api.backend, [(1, False), (1, False), (1, True), (2, False), (2, True)])
    body = api.get("sdk/tasks/", params=params).json()
    assert [t["id"] for t in body["results"]] == ids
    assert body["count"] == len(ids)


def test_a_bad_filter_value_is_a_400(api: Api) -> None:
    response = api.get("sdk/tasks/", params={"project": "abc"})
    assert response.status_code == 400
    assert response.json() == {"project": ["Enter a number."]}


# ------------------------------------------------------------------ chunked upload


def _put(api: Api, url: str, data: bytes, start: int, total: int) -> requests.Response:
    return api.put(
        url,
        files={"file": ("file", data)},
        data={"filename": "big.bin"},
        headers={"Content-Range": f"bytes {start}-{start + len(data) - 1}/{total}"},
    )


def test_chunked_upload_checks_offsets_and_md5(api: Api) -> None:
    data = b"0123456789abcdef"
    first = _put(api, "chunked_upload/", data[:6], 0, len(data))
    assert first.status_code == 200
    state = first.json()
    assert state["offset"] == 6
    assert state["url"] == f"{api.backend.url}/chunked_upload/{state['id']}/"
    mismatch = _put(api, state["url"], data[8:12], 8, len(data))
    assert mismatch.status_code == 400
    assert mismatch.json()["offset"] == 6
    again = _put(api, state["url"], data[0:6], 0, len(data))
    assert again.status_code == 400
    assert _put(api, state["url"], data[6:], 6, len(data)).json()["offset"] == len(data)
    polled = api.get(state["url"]).json()
    assert polled["offset"] == len(data)
    assert polled["status"] == 1
    assert polled["completed_at"] is None
    wrong = api.post(state["url"], json={"md5": "0" * 32})
    assert wrong.status_code == 400
    assert "md5" in wrong.text
    right = api.post(state["url"], json={"md5": hashlib.md5(data).hexdigest()})
    assert right.status_code == 200
    assert right.json()["status"] == 2
    assert right.json()["completed_at"]
    assert api.get(right.json()["file"]).content == data
    assert api.post(state["url"], json={"md5": hashlib.md5(data).hexdigest()}).status_code == 200


def test_chunked_upload_rejects_bad_ranges(api: Api) -> None:
    assert _put(api, "chunked_upload/", b"abc", 2, 10).status_code == 400
    no_range = api.put("chunked_upload/", files={"file": ("file", b"x")})
    assert no_range.status_code == 400
    size_mismatch = api.put(
        "chunked_upload/",
        files={"file": ("file", b"abc")},
        headers={"Content-Range": "bytes 0-9/10"},
    )
    assert size_mismatch.status_code == 400
    assert api.get("chunked_upload/nope/").status_code == 404


def test_empty_file_upload_finalizes_without_chunks(api: Api) -> None:
    done = api.post("chunked_upload/", json={"md5": hashlib.md5(b"").hexdigest()})
    assert done.status_code == 200
    assert done.json()["status"] == 2
    assert done.json()["size"] == 0


def test_finalize_before_all_bytes_is_a_400(api: Api) -> None:
    state = _put(api, "chunked_upload/", b"abc", 0, 10).json()
    response = api.post(state["url"], json={"md5": hashlib.md5(b"abc").hexdigest()})
    assert response.status_code == 400
    assert response.json()["offset"] == 3


# ------------------------------------------------------------------ faults


def test_latency(api: Api) -> None:
    api.backend.set_faults(latency=0.05)
    assert api.get("projects/").status_code == 200
    api.backend.set_faults(latency=0.0)
    api.get("projects/")
    assert [r.latency for r in api.backend.requests] == [0.05, 0.0]


def test_error_rate(api: Api) -> None:
    api.backend.set_faults(error_rate=0.5, seed=3)
    statuses = [api.get("projects/").status_code for _ in range(40)]
    assert set(statuses) == {200, 503}
    api.backend.set_faults(error_rate=1.0)
    assert api.get("projects/").status_code == 503


def test_every_nth_request_is_rate_limited(api: Api) -> None:
    api.backend.set_faults(rate_limit_every=3, retry_after=2)
    answers = [api.get("projects/") for _ in range(6)]
    assert [r.status_code for r in answers] == [200, 200, 429, 200, 200, 429]
    assert answers[2].headers["Retry-After"] == "2"


def test_one_shot_status(api: Api) -> None:
    api.backend.fail_next("/projects/", 502)
    assert api.get("projects/").status_code == 502
    assert api.get("projects/").status_code == 200


@pytest.mark.parametrize("when", ["before", "after"])
def test_drop_a_chunk_connection(api: Api, when: str) -> None:
    api.backend.set_faults(drop_chunk=2, drop_when=when)
    state = _put(api, "chunked_upload/", b"aaaa", 0, 8).json()
    with pytest.raises(requests.exceptions.ConnectionError):
        _put(api, state["url"], b"bbbb", 4, 8)
    stored = api.get(state["url"]).json()["offset"]
    assert stored == (4 if when == "before" else 8)
    assert api.backend.requests[-2].status is None  # the dropped PUT, logged unanswered


def test_request_log_and_control_endpoints(api: Api) -> None:
    api.get("projects/")
    api.get("projects/1/")
    log = api.get("_local/requests").json()
    assert [(r["method"], r["path"], r["status"]) for r in log] == [
        ("GET", "/projects/", 200),
        ("GET", "/projects/1/", 404),
    ]
    assert api.get("_local/counter").json()["requests"] == 2
    set_faults = api.post("_local/faults", json={"latency": 0.01})
    assert set_faults.json()["latency"] == 0.01
    bad = api.post("_local/faults", json={"nope": 1})
    assert bad.status_code == 400
    assert api.post("_local/reset", json={}).status_code == 204
    assert api.get("_local/requests").json() == []


def test_control_routes_refuse_what_a_web_page_could_send(api: Api, demo: dict[str, Any]) -> None:
    """A page on another site can make a browser POST text/plain to localhost: refused."""
    drive_by = {"Origin": "http://evil.example", "Content-Type": "text/plain"}
    for path, body in (("_local/reset", ""), ("_local/faults", '{"error_rate": 1}')):
        without_token = requests.post(api.url(path), data=body, headers=drive_by, timeout=5)
        assert without_token.status_code == 401
        with_token = api.post(path, data=body, headers=drive_by)
        assert with_token.status_code == 403
        plain_text = api.post(path, data=body, headers={"Content-Type": "text/plain"})
        assert plain_text.status_code == 415
    assert requests.get(api.url("_local/requests"), timeout=5).status_code == 401
    # Nothing was reset or faulted: the seeded project is still there and requests succeed.
    assert api.get(f"projects/{demo['project']}/").status_code == 200
    assert api.get("_local/faults").json()["error_rate"] == 0.0
    same_origin = api.post("_local/faults", json={"latency": 0}, headers={"Origin": api.url("")})
    assert same_origin.status_code == 200


# ------------------------------------------------------------------ running it


def test_state_persists_across_a_restart(tmp_path: Path) -> None:
    with LocalBackend(data_dir=tmp_path, token="t") as first:
        headers = {"Synapse-Access-Token": "Token t"}
        requests.post(f"{first.url}/projects/", json={"title": "kept"}, headers=headers, timeout=5)
        data_file = requests.post(
            f"{first.url}/data_files/",
            files={"file": ("f.txt", b"bytes")},
            headers=headers,
            timeout=5,
        ).json()
    assert (tmp_path / "synapse-local.sqlite3").exists()
    with LocalBackend(data_dir=tmp_path, token="t") as second:
        got = requests.get(f"{second.url}/projects/1/", headers=headers, timeout=5).json()
        assert got["title"] == "kept"
        path = data_file["file"].split("/media/", 1)[1]
        assert requests.get(f"{second.url}/media/{path}", timeout=5).content == b"bytes"


def test_big_seed(tmp_path: Path) -> None:
    with LocalBackend(tasks=20_000, token="t") as backend:
        body = requests.get(
            f"{backend.url}/sdk/tasks/",
            params={"project": backend.big_project, "page_size": 1, "page": 20_000},
            headers={"Synapse-Access-Token": "Token t"},
            timeout=10,
        ).json()
        assert body["count"] == 20_000
        assert body["next"] is None


def test_cli_serve_prints_url_and_token(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "synapse.local.cli",
            "serve",
            "--token",
            "cli-token",
            "--seed",
            "demo",
            "--data-dir",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        url = lines[1].strip().split("=", 1)[1]
        assert lines[2].strip() == "export SYNAPSE_ACCESS_TOKEN=cli-token"  # pasted as is
        # the lines come once the server answers: no polling for it
        answer = requests.get(
            f"{url}/projects/", headers={"Authorization": "Token cli-token"}, timeout=10
        )
        assert answer.json()["results"][0]["title"] == "Street scene labeling"
    finally:
        proc.terminate()
        proc.wait(10)


def test_cli_run_passes_url_and_token_to_the_command() -> None:
    code = (
        "import os, requests;"
        "r = requests.get(os.environ['SYNAPSE_BASE_URL'] + '/projects/', headers="
        "{'Synapse-Access-Token': 'Token ' + os.environ['SYNAPSE_ACCESS_TOKEN']}, timeout=5);"
        "print('COUNT', r.json()['count'])"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "synapse.local.cli",
            "run",
            "--seed",
            "demo",
            "--",
            sys.executable,
            "-c",
            code,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "COUNT 2" in out  # the demo project and the documentation's project 123


def test_server_never_imports_the_client_side() -> None:
    """The server shares only the protocol: no module of synapse.local imports the client."""
    root = Path(__file__).parents[2] / "synapse" / "local"
    modules = sorted(root.glob("*.py"))
    assert len(modules) >= 6
    for module in modules:
        for node in ast.walk(ast.parse(module.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            for name in names:
                if name == "synapse" or name.startswith("synapse."):
                    shared = name.startswith(("synapse.local", "synapse.protocol"))
                    assert shared, f"{module.name} imports {name}"
