"""The old package's own ``BackendClient`` (``synapse-sdk==2026.2.17``) against the local
backend: each of its 60 endpoint methods is called as its users call it, and must answer
without an error and with the shape the real backend gives (``make compat`` runs this in
its Python 3.12 virtualenv, where both packages are installed).
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from synapse.local import LocalBackend


def main() -> int:
    from synapse_sdk.clients.backend import BackendClient  # the old package

    tmp = Path(tempfile.mkdtemp(prefix="synapse-conformance-"))
    image = tmp / "frame.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    other = tmp / "other.png"
    other.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(255, -1, -1)) * 4)
    archive = tmp / "plugin.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("config.yaml", "code: conf\n")
    md5 = hashlib.md5(image.read_bytes()).hexdigest()

    results: list[tuple[str, str]] = []

    def check(name: str, call: Callable[[], Any], ok: Callable[[Any], bool]) -> Any:
        try:
            value = call()
            good = ok(value)
            results.append((name, "ok" if good else f"unexpected answer: {value!r:.150}"))
            return value
        except Exception as exc:  # every method is reported
            results.append((name, f"{type(exc).__name__}: {exc!s:.150}"))
            return None

    with LocalBackend(seed="demo") as backend:
        c = BackendClient(backend.url, access_token=backend.token)
        page = c.list_tasks(params={"page_size": 1})
        task = page["results"][0]
        pid, tid, uid = task["project"], task["id"], task["data_unit"]["id"]
        cid = c.get_project(pid)["data_collection"]
        is_page = lambda r: isinstance(r, dict) and "results" in r  # noqa: E731

        def pair(r: Any) -> bool:
            return isinstance(r, tuple) and len(r) == 2 and len(list(r[0])) == r[1]

        check("get_project", lambda: c.get_project(pid), lambda r: r["id"] == pid)
        check(
            "get_task",
            lambda: c.get_task(tid, params={"expand": "data_unit"}),
            lambda r: r["id"] == tid,
        )
        check(
            "annotate_task_data",
            lambda: c.annotate_task_data(tid, {"action": "save", "data": {"boxes": [1]}}),
            lambda r: r["data"] == {"boxes": [1]},
        )
        check(
            "annotate_task_data_batch",
            lambda: c.annotate_task_data_batch(
                [{"task_id": tid, "data": {"action": "submit", "data": {"boxes": [2]}}}]
            ),
            lambda r: r[tid]["success"],
        )
        tags = check("list_task_tags", lambda: c.list_task_tags(), is_page)
        tag = tags["results"][0]["id"] if tags else 1
        check("get_task_tag", lambda: c.get_task_tag(tag), lambda r: r["id"] == tag)
        check("list_tasks", lambda: c.list_tasks(params={"project": pid}, list_all=True), pair)
        check(
            "list_tasks_data",
            lambda: c.list_tasks_data(params={"project": pid}),
            lambda r: set(r["results"][0]) == {"id", "data"},
        )
        check(
            "list_tasks_files",
            lambda: c.list_tasks_files(params={"project": pid}, list_all=True, url_conversion={}),
            lambda r: isinstance(next(iter(r[0]))["files"], list),
        )
        check(
            "create_tasks",
            lambda: c.create_tasks({"project": pid, "data": [{"data_unit": uid}]}),
            lambda r: r is not None,
        )
        check(
            "set_tags_tasks",
            lambda: c.set_tags_tasks({"ids": [tid], "tags": [tag]}),
            lambda r: r is not None,
        )
        upload = check(
            "create_chunked_upload", lambda: c.create_chunked_upload(image), lambda r: bool(r["id"])
        )
        check(
            "get_chunked_upload",
            lambda: c.get_chunked_upload(upload["id"]),
            lambda r: bool(r.get("completed_at")),
        )
        check("list_data_collections", lambda: c.list_data_collections(), is_page)
        check(
            "get_data_collection",
            lambda: c.get_data_collection(cid),
            lambda r: isinstance(r["file_specifications"], list),
        )
        check("create_data_file", lambda: c.create_data_file(image), lambda r: r["checksum"])
        check("get_data_unit", lambda: c.get_data_unit(uid), lambda r: r["id"] == uid)
        payload = check(
            "upload_data_file",
            lambda: c.upload_data_file({"files": {"image_1": other}}, cid),
            lambda r: r["data_collection"] == cid,
        )
        check("create_data_units", lambda: c.create_data_units(payload), lambda r: r is not None)
        check(
            "list_data_units", lambda: c.list_data_units(params={"data_collection": cid}), is_page
        )
        check(
            "verify_data_files_checksums",
            lambda: c.verify_data_files_checksums([md5]),
            lambda r: md5 in r["existing_checksums"],
        )
        # The old method reads the data_units answer as a dict ({"results": [...]}); the
        # backend answers a list POST with a list (protocol 4.5), so it fails there.
        check(
            "upload_data_collection",
            lambda: c.upload_data_collection(cid, [{"files": {"image_1": image}}], project_id=pid),
            lambda r: r is None,
        )
        assignments = check(
            "list_assignments", lambda: c.list_assignments(params={"project": pid}), is_page
        )
        aid = assignments["results"][0]["id"] if assignments else 1
        check("get_assignment", lambda: c.get_assignment(aid), lambda r: r["id"] == aid)
        check("list_assignments_data", lambda: c.list_assignments_data(), is_page)
        check(
            "list_assignments_files", lambda: c.list_assignments_files(url_conversion={}), is_page
        )
        check(
            "set_tags_assignments",
            lambda: c.set_tags_assignments({"ids": [aid], "tags": [tag]}),
            lambda r: r is not None,
        )
        agents = check("list_agents", lambda: c.list_agents(), lambda r: len(r) >= 1)
        token = next((a.token for a in agents or [] if a.token), None)
        check("health_check_agent", lambda: c.health_check_agent(token), lambda r: r is not None)
        made = check(
            "create_plugin",
            lambda: c.create_plugin({"name": "Conformance plugin"}),
            lambda r: bool(r.get("code")),
        )
        plugin_id = made["id"] if made else 1
        check("get_plugin", lambda: c.get_plugin(plugin_id), lambda r: r["id"] == plugin_id)
        check(
            "update_plugin",
            lambda: c.update_plugin(plugin_id, {"name": "Conformance plugin", "description": "d"}),
            lambda r: r["description"] == "d",
        )
        job = check(
            "run_plugin",
            lambda: c.run_plugin("yolo-trainer", {"action": "train"}),
            lambda r: bool(r["id"]),
        )
        jid = job["id"] if job else 1
        releases = check(
            "list_plugin_releases",
            lambda: c.list_plugin_releases("yolo-trainer"),
            lambda r: len(r) >= 1,
        )
        rid = releases[0]["id"] if releases else 1
        check("get_plugin_release", lambda: c.get_plugin_release(rid), lambda r: r["id"] == rid)
        check(
            "get_plugin_release_by_lookup",
            lambda: c.get_plugin_release_by_lookup("yolo-trainer@1.0.0"),
            lambda r: r["plugin"]["code"] == "yolo-trainer",
        )
        check(
            "create_plugin_release",
            lambda: c.create_plugin_release(
                {"plugin": "yolo-trainer", "version": "9.0.0"}, file=archive
            ),
            lambda r: r["version"] == "9.0.0",
        )
        check("get_job", lambda: c.get_job(jid), lambda r: r["id"] == jid)
        check("list_jobs", lambda: c.list_jobs(), is_page)
        check(
            "update_job",
            lambda: c.update_job(jid, {"status": "SUCCEEDED"}),
            lambda r: r["status"] == "SUCCEEDED",
        )
        check(
            "list_job_console_logs",
            lambda: c.list_job_console_logs(jid),
            lambda r: isinstance(r["logs"], list),
        )
        check(
            "tail_job_console_logs",
            lambda: list(c.tail_job_console_logs(jid)),
            lambda r: [line for line in r if line][-1] == 'data: {"type": "complete"}',
        )
        check(
            "create_logs",
            lambda: c.create_logs(
                [
                    {"event": "message", "data": {"content": "a"}, "job": jid},
                    {"event": "debug", "data": {}, "job": jid},
                ]
            ),
            lambda r: len(r) == 2,
        )
        check(
            "create_serve_application",
            lambda: c.create_serve_application({"job": jid}),
            lambda r: bool(r["id"]),
        )
        check("list_serve_applications", lambda: c.list_serve_applications(list_all=True), pair)
        default = check(
            "get_default_storage", lambda: c.get_default_storage(), lambda r: r["is_default"]
        )
        sid = default["id"] if default else 1
        check("get_storage", lambda: c.get_storage(sid), lambda r: r.id == sid)
        models = check("list_models", lambda: c.list_models(), is_page)
        mid = models["results"][0]["id"] if models else 1
        check("get_model", lambda: c.get_model(mid), lambda r: Path(r["file"]).exists())
        check(
            "create_model",
            lambda: c.create_model(
                {"name": "conformance-model", "plugin": "yolo-trainer"}, file=archive
            ),
            lambda r: r["name"] == "conformance-model",
        )
        versions = check(
            "list_ground_truth_versions", lambda: c.list_ground_truth_versions(), is_page
        )
        vid = versions["results"][0]["id"] if versions else 1
        check(
            "get_ground_truth_version",
            lambda: c.get_ground_truth_version(vid),
            lambda r: r["id"] == vid,
        )
        params = {"ground_truth_dataset_versions": vid}
        check(
            "list_ground_truth_events",
            lambda: c.list_ground_truth_events(
                params=dict(params), list_all=True, url_conversion={}
            ),
            pair,
        )
        check(
            "list_ground_truth_events_data",
            lambda: c.list_ground_truth_events_data(params=dict(params)),
            is_page,
        )
        check(
            "list_ground_truth_events_files",
            lambda: c.list_ground_truth_events_files(params=dict(params), url_conversion={}),
            is_page,
        )
        check("list_ground_truths", lambda: c.list_ground_truths(url_conversion={}), is_page)
        check(
            "upload_files_bulk",
            lambda: c.upload_files_bulk([image], strategy="presigned"),
            lambda r: r.created_count == 1,
        )
        presigned = check(
            "request_presigned_upload",
            lambda: c.request_presigned_upload(
                [{"filename": other.name, "size": other.stat().st_size}]
            ),
            lambda r: len(r.files) == 1,
        )
        put = check(
            "upload_file_to_presigned_url",
            lambda: c.upload_file_to_presigned_url(presigned.files[0].presigned_url, other),
            lambda r: r.size == other.stat().st_size,
        )
        check(
            "confirm_presigned_upload",
            lambda: c.confirm_presigned_upload(
                [
                    {
                        "file_key": presigned.files[0].file_key,
                        "checksum": put.checksum,
                        "size": put.size,
                    }
                ]
            ),
            lambda r: r.created_count == 1,
        )
    for name, outcome in results:
        print(
            f"  {'ok  ' if outcome == 'ok' else 'FAIL'} {name}"
            + ("" if outcome == "ok" else f": {outcome}")
        )
    passed = sum(1 for _, outcome in results if outcome == "ok")
    print(
        f"\nconformance: {passed}/{len(results)} methods of synapse-sdk's BackendClient "
        "answer against the local backend"
    )
    return 0 if passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
