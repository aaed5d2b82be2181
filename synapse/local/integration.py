"""Agents, plugins, releases, jobs and their logs, storages, models (protocol 3.5, 3.6)."""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from synapse.local.core import BackendCore, declared
from synapse.local.http import JOB_FINISHED, ApiError, _json, field_error, not_found
from synapse.local.kinds import KINDS
from synapse.local.store import Query, now_iso

__all__ = ["IntegrationHandlers"]


class IntegrationHandlers(BackendCore):
    """Plugin runs and the jobs they start (which advance with time), releases, logs,
    storages and models."""

    async def connect_agent(self, request: Request, token: str) -> Response:
        agent = self.store.find(KINDS["agents"], "token", token)
        if agent is None:
            raise not_found()
        agent["status"] = "connected"
        agent["last_connected"] = now_iso()
        self.store.save(KINDS["agents"], agent)
        return _json({k: v for k, v in agent.items() if k != "token"})

    def plugin_by_ref(self, ref: str) -> dict[str, Any]:
        if ref.isdigit():
            return self.load("plugins", ref)
        plugin = self.store.find(KINDS["plugins"], "code", ref)
        if plugin is None:
            raise not_found()
        return plugin

    async def run_plugin(self, request: Request, ref: str) -> Response:
        plugin = self.plugin_by_ref(ref)
        body = await self.dict_body(request)
        params = body.get("params") or {}
        if not isinstance(params, dict):
            raise field_error("params", "Expected a dictionary.")
        release = None
        version = body.get("version")
        query = Query()
        query.where("json_extract(body, '$.plugin') = ?", plugin["id"])
        if version:
            query.where("json_extract(body, '$.version') = ?", version)
        query.order.append("id DESC")
        releases = self.store.select(KINDS["plugin_releases"], query, limit=1, offset=0)
        if releases:
            release = releases[0]["id"]
        elif version:
            raise field_error("version", f'No release "{version}" of plugin "{plugin["code"]}".')
        job = self.new(
            "jobs",
            {
                "status": "PENDING",
                "action": body.get("action"),
                "params": params,
                "plugin": plugin["id"],
                "plugin_release": release,
                "agent": body.get("agent"),
                "storage": body.get("storage_id"),
                "debug": bool(body.get("debug", False)),
                "language": body.get("language", "ko"),
                "console_logs": [f"[{now_iso()}] job queued: {plugin['code']}"],
                "created_ts": self.clock(),
                "auto": True,
                "fail": bool(plugin.get("meta", {}).get("fail") or params.get("fail")),
            },
        )
        return _json(self.render(request, "jobs", [job])[0], 201)

    def before_update(
        self, table: str, doc: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        if table != "jobs" or "status" not in body:
            return super().before_update(table, doc, body)
        if body["status"] not in ("PENDING", "RUNNING", *JOB_FINISHED):
            raise field_error("status", f'"{body["status"]}" is not a valid choice.')
        doc = self.advance_job(doc)
        doc["auto"] = False  # a status set by hand stops the simulated run
        return doc

    def before_render(self, table: str, doc: dict[str, Any]) -> dict[str, Any]:
        if table != "jobs":
            return super().before_render(table, doc)
        doc = self.advance_job(doc)
        for internal in ("created_ts", "fail", "auto"):
            doc.pop(internal, None)
        return doc

    def advance_job(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Move a run job PENDING -> RUNNING -> SUCCEEDED/FAILED as time passes."""
        if not doc.get("auto") or doc.get("status") in JOB_FINISHED:
            return doc
        elapsed = self.clock() - float(doc.get("created_ts", 0))
        changed = False
        if elapsed >= self.job_seconds and doc["status"] == "PENDING":
            doc["status"] = "RUNNING"
            doc["started"] = now_iso()
            doc["console_logs"].append(f"[{now_iso()}] running action {doc.get('action')!r}")
            changed = True
        if elapsed >= 2 * self.job_seconds and doc["status"] == "RUNNING":
            if doc.get("fail"):
                doc["status"] = "FAILED"
                doc["error"] = "the plugin failed (configured to fail)"
                doc["console_logs"].append(f"[{now_iso()}] error: the plugin failed")
            else:
                doc["status"] = "SUCCEEDED"
                doc["result"] = {"action": doc.get("action"), "ok": True}
                doc["console_logs"].append(f"[{now_iso()}] done")
            doc["finished"] = now_iso()
            changed = True
        if changed:
            self.store.save(KINDS["jobs"], doc)
        return doc

    async def console_logs(self, request: Request, pk: str) -> Response:
        doc = self.advance_job(self.load("jobs", pk))
        return _json({"logs": doc.get("console_logs", [])})

    async def create_logs(self, request: Request) -> Response:
        body = await self.body(request)
        entries = body if isinstance(body, list) else [body]
        if not entries or not all(isinstance(e, dict) for e in entries):
            raise ApiError(400, {"non_field_errors": ["Expected log entries."]})
        created = [self.new("logs", e) for e in entries]
        return _json(created if isinstance(body, list) else created[0], 201)

    async def create_release(self, request: Request) -> Response:
        file_key = None
        if request.headers.get("content-type", "").startswith("multipart/"):
            form = await request.form()
            body: dict[str, Any] = {}
            for key in ("plugin", "version", "debug"):
                if key in form:
                    body[key] = str(form[key])
            if "config" in form:
                try:
                    body["config"] = json.loads(str(form["config"]))
                except ValueError:
                    raise field_error("config", "Value must be valid JSON.") from None
            body["requirements"] = [str(v) for v in form.getlist("requirements")]
            body["debug"] = str(body.get("debug", "False")).lower() == "true"
            upload = form.get("file")
            if isinstance(upload, UploadFile):
                file_key = self.store_upload_file(upload)[0]
        else:
            body = await self.dict_body(request)
        code = body.get("plugin")
        version = body.get("version")
        if not code:
            raise field_error("plugin", "This field is required.")
        if not version:
            raise field_error("version", "This field is required.")
        plugin = self.store.find(KINDS["plugins"], "code", str(code))
        if plugin is None:
            raise field_error("plugin", f'Plugin "{code}" does not exist.')
        query = Query()
        query.where("json_extract(body, '$.plugin') = ?", plugin["id"])
        query.where("json_extract(body, '$.version') = ?", version)
        if self.store.count(KINDS["plugin_releases"], query):
            raise ApiError(
                400, {"non_field_errors": [f"version_exists: release {version} already exists."]}
            )
        body["plugin"] = plugin["id"]
        if file_key:
            body["file_key"] = file_key
        doc = self.new("plugin_releases", body)
        return _json(self.render(request, "plugin_releases", [doc])[0], 201)

    async def get_release(self, request: Request, lookup: str) -> Response:
        if "@" in lookup:
            code, _, version = lookup.partition("@")
            plugin = self.store.find(KINDS["plugins"], "code", code)
            if plugin is None:
                raise not_found()
            query = Query()
            query.where("json_extract(body, '$.plugin') = ?", plugin["id"])
            query.where("json_extract(body, '$.version') = ?", version)
            found = self.store.select(KINDS["plugin_releases"], query, limit=1, offset=0)
            if not found:
                raise not_found()
            return _json(self.render(request, "plugin_releases", found)[0])
        return await self.retrieve(request, "plugin_releases", lookup)

    async def create_storage(self, request: Request) -> Response:
        body = declared("storages", await self.dict_body(request))
        for name in ("name", "provider"):
            if not body.get(name):
                raise field_error(name, "This field is required.")
        # The server's default category: its own file system is internal, the rest external.
        body.setdefault("category", "internal" if body["provider"] == "file_system" else "external")
        if body["category"] not in ("internal", "external"):
            raise field_error("category", f'"{body["category"]}" is not a valid choice.')
        doc = self.new("storages", body)
        return _json(self.render(request, "storages", [doc])[0], 201)

    # ------------------------------------------------------------------ ML

    async def create_model(self, request: Request) -> Response:
        body = await self.dict_body(request)
        if not body.get("name"):
            raise field_error("name", "This field is required.")
        if not isinstance(body["name"], str):
            raise field_error("name", "Not a valid string.")
        if self.store.find(KINDS["models"], "name", body["name"]):
            raise field_error("name", "model with this name already exists.")
        upload_id = body.pop("chunked_upload", None)
        body = declared("models", body)
        if upload_id is not None:
            body["file_key"] = self.completed_upload(str(upload_id), "chunked_upload")["file_key"]
            body["size"] = self.completed_upload(str(upload_id), "chunked_upload")["size"]
        doc = self.new("models", body)
        return _json(self.render(request, "models", [doc])[0], 201)
