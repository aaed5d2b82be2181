"""Endpoints the older ``BackendClient`` calls beyond the object API's: the ``data`` and
``files`` variants of the ``sdk/`` lists, the console tail as server-sent events, serve
applications, plugins created without a code, and the presigned bulk upload (protocol
3.1-3.7, 4.6).

The presigned upload here always answers single-part URLs (the real server switches to
multipart above 100 MB): they point at this server's ``/_storage/`` path, signed with an
HMAC of the key, and take the raw bytes without the API token, as a storage would.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import mimetypes
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from synapse.local.core import declared
from synapse.local.http import (
    JOB_FINISHED,
    ApiError,
    _base,
    _json,
    field_error,
    safe_filename,
)
from synapse.local.integration import IntegrationHandlers
from synapse.local.kinds import KINDS
from synapse.local.store import now_iso

__all__ = ["CompatHandlers"]

MAX_PRESIGNED_FILES = 1000
#: The largest object one presigned PUT takes here.
MAX_PRESIGNED_SIZE = 5 * 1024**3


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "plugin"


def _file_list(files: Any) -> list[dict[str, Any]]:
    """A ``files`` dict keyed by specification name, as the list the ``files`` variants
    answer (each entry names its specification)."""
    if isinstance(files, list):
        return files
    if not isinstance(files, dict):
        return []
    return [
        {**info, "specification": name} if isinstance(info, dict) else {"specification": name}
        for name, info in files.items()
    ]


class CompatHandlers(IntegrationHandlers):
    """Handlers of the older client's extra endpoints."""

    # ------------------------------------------------------------------ plugins

    async def create_plugin(self, request: Request) -> Response:
        """``POST plugins/``. A plugin without a ``code`` gets one derived from its name
        (a unique slug), so that it can be run and released by code like any other."""
        body = await self.dict_body(request)
        code = body.get("code")
        if code is None or code == "":
            name = body.get("name")
            if not isinstance(name, str) or not name.strip():
                raise field_error("name", "This field is required.")
            base = _slug(name)
            code, n = base, 1
            while self.store.find(KINDS["plugins"], "code", code) is not None:
                n += 1
                code = f"{base}-{n}"
        elif not isinstance(code, str) or _slug(code) != code:
            raise field_error("code", "Enter a valid slug (lowercase letters, digits, hyphens).")
        elif self.store.find(KINDS["plugins"], "code", code) is not None:
            raise field_error("code", "plugin with this code already exists.")
        doc = self.new("plugins", {**declared("plugins", body), "code": code})
        return _json(self.render(request, "plugins", [doc])[0], 201)

    # ------------------------------------------------------------------ serve applications

    async def create_serve_application(self, request: Request) -> Response:
        """``POST serve_applications/``: ``{job, status?, data?}``; a new application is
        ``DEPLOYING`` until its agent says otherwise."""
        body = await self.dict_body(request)
        job = body.get("job")
        if isinstance(job, bool) or not isinstance(job, (int, str)) or job == "":
            raise field_error("job", "This field is required.")
        if not isinstance(body.get("data", {}), dict):
            raise field_error("data", "Expected a dictionary.")
        doc = self.new(
            "serve_applications",
            {"data": {}, **body, "job": str(job), "status": body.get("status") or "DEPLOYING"},
        )
        return _json(self.render(request, "serve_applications", [doc])[0], 201)

    # ------------------------------------------------------------------ list variants

    async def list_variant(self, request: Request, table: str, variant: str) -> Response:
        """``sdk/<kind>/data/`` (rows of ``id`` and ``data``) and ``sdk/<kind>/files/``
        (rows of ``id`` and the files as a list), paged like the kind's list."""
        expand = {"tasks": ("data_unit",), "assignments": ("task",)}.get(table, ())
        page = json.loads(bytes((await self.list(request, table, default_expand=expand)).body))
        shape: Callable[[dict[str, Any]], dict[str, Any]]
        if variant == "data":
            shape = lambda row: {"id": row.get("id"), "data": row.get("data")}  # noqa: E731
        else:
            shape = lambda row: {"id": row.get("id"), "files": self._row_files(request, row)}  # noqa: E731
        page["results"] = [shape(row) for row in page.get("results", [])]
        return _json(page)

    def _row_files(self, request: Request, row: dict[str, Any]) -> list[dict[str, Any]]:
        if "files" in row:  # ground truth events carry their files
            return _file_list(row["files"])
        unit: Any = row.get("data_unit")
        task = row.get("task")
        if isinstance(task, dict):  # an assignment: its task's data unit
            unit = task.get("data_unit")
        if isinstance(unit, int):
            doc = self.store.get(KINDS["data_units"], unit)
            unit = self.present(request, "data_units", dict(doc), set()) if doc else None
        return _file_list(unit.get("files")) if isinstance(unit, dict) else []

    # ------------------------------------------------------------------ console tail

    async def tail_console_logs(self, request: Request, pk: str) -> Response:
        """``GET jobs/{id}/tail_console_logs/``: the console as server-sent events, until
        the job finishes. Each log line is an event ``{"type": "log", "data": "data:
        {\\"type\\": \\"log\\", \\"message\\": ...}"}``; the stream ends with
        ``{"type": "complete"}``."""
        self.load("jobs", pk)  # 404 before the stream starts

        async def events() -> AsyncIterator[str]:
            yield 'data: {"type": "connected"}\n\n'
            sent = 0
            while True:
                doc = self.advance_job(self.load("jobs", pk))
                logs = doc.get("console_logs") or []
                for line in logs[sent:]:
                    inner = json.dumps({"type": "log", "message": line})
                    yield f"data: {json.dumps({'type': 'log', 'data': f'data: {inner}'})}\n\n"
                sent = len(logs)
                if doc.get("status") in JOB_FINISHED:
                    yield 'data: {"type": "complete"}\n\n'
                    return
                await asyncio.sleep(max(0.01, min(0.2, self.job_seconds / 4)))

        return StreamingResponse(events(), media_type="text/event-stream")

    # ------------------------------------------------------------------ presigned upload

    def _signature(self, key: str, expires: int) -> str:
        message = f"{key}:{expires}".encode()
        return hmac.new(self.token.encode(), message, hashlib.sha256).hexdigest()

    async def presigned_upload(self, request: Request) -> Response:
        """``POST data_files/presigned_upload/upload/``: a signed PUT URL per file."""
        body = await self.dict_body(request)
        files = body.get("files")
        if not isinstance(files, list) or not files or len(files) > MAX_PRESIGNED_FILES:
            raise field_error("files", f"Expected a list of 1 to {MAX_PRESIGNED_FILES} files.")
        expiration = body.get("expiration", 3600)
        if isinstance(expiration, bool) or not isinstance(expiration, int):
            raise field_error("expiration", "A valid integer is required.")
        if not 60 <= expiration <= 86400:
            raise field_error("expiration", "Ensure this value is between 60 and 86400.")
        expires = int(time.time()) + expiration
        answered = []
        for index, item in enumerate(files):
            if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
                raise ApiError(400, {"files": {str(index): {"filename": ["Required."]}}})
            size = item.get("size")
            if (
                isinstance(size, bool)
                or not isinstance(size, int)
                or not 0 <= size <= MAX_PRESIGNED_SIZE
            ):
                raise ApiError(400, {"files": {str(index): {"size": ["Invalid size."]}}})
            name = safe_filename(item["filename"])
            key = f"presigned/{uuid.uuid4().hex}/{name}"
            url = (
                f"{_base(request)}/_storage/{key}"
                f"?expires={expires}&signature={self._signature(key, expires)}"
            )
            answered.append({"filename": item["filename"], "file_key": key, "presigned_url": url})
        at = datetime.fromtimestamp(expires, tz=timezone.utc).isoformat()
        return _json({"files": answered, "expires_at": at})

    async def storage_put(self, request: Request, key: str) -> Response:
        """``PUT /_storage/{key}``: the object store behind presigned URLs (no API token;
        the signature and expiry are checked)."""
        try:
            expires = int(request.query_params.get("expires", ""))
        except ValueError:
            expires = 0
        given = request.query_params.get("signature", "")
        if not hmac.compare_digest(given, self._signature(key, expires)):
            return Response("<Error><Code>SignatureDoesNotMatch</Code></Error>", 403)
        if expires < time.time():
            return Response("<Error><Code>AccessDenied</Code></Error>", 403)
        media = (self.files_dir / "media").resolve()
        target = (media / key).resolve()
        if not key.startswith("presigned/") or not target.is_relative_to(media):
            return Response("<Error><Code>InvalidObjectName</Code></Error>", 400)
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.md5()
        size = 0
        with open(target, "wb") as out:
            async for block in request.stream():
                size += len(block)
                if size > MAX_PRESIGNED_SIZE:
                    return Response("<Error><Code>EntityTooLarge</Code></Error>", 400)
                digest.update(block)
                out.write(block)
        return Response(status_code=200, headers={"ETag": f'"{digest.hexdigest()}"'})

    async def confirm_upload(self, request: Request) -> Response:
        """``POST data_files/presigned_upload/confirm_upload/``: a data file for each
        object stored whole with the announced SHA-1 and size."""
        body = await self.dict_body(request)
        files = body.get("files")
        if not isinstance(files, list) or len(files) > MAX_PRESIGNED_FILES:
            raise field_error("files", f"Expected a list of up to {MAX_PRESIGNED_FILES} files.")
        results = []
        for item in files:
            item = item if isinstance(item, dict) else {}
            key, checksum = str(item.get("file_key", "")), str(item.get("checksum", ""))
            result = {"file_key": key, "checksum": checksum, "data_file_id": None}
            target = self.files_dir / "media" / key
            inside = target.resolve().is_relative_to((self.files_dir / "media").resolve())
            if not key.startswith("presigned/") or not inside or not target.is_file():
                results.append({**result, "success": False, "error": "object not found"})
                continue
            data = target.read_bytes()
            if hashlib.sha1(data).hexdigest() != checksum or len(data) != item.get("size"):
                results.append({**result, "success": False, "error": "checksum or size mismatch"})
                continue
            md5 = hashlib.md5(data).hexdigest()
            doc = self.store.find(KINDS["data_files"], "checksum", md5)
            if doc is None:
                now = now_iso()
                doc = self.store.insert(
                    KINDS["data_files"],
                    {"checksum": md5, "file_key": key, "size": len(data), "created_at": now,
                     "updated_at": now, "content_type": mimetypes.guess_type(key)[0]},
                )  # fmt: skip
            results.append({**result, "data_file_id": doc["id"], "success": True, "error": None})
        created = sum(1 for r in results if r["success"])
        return _json(
            {"results": results, "created_count": created, "failed_count": len(results) - created}
        )
