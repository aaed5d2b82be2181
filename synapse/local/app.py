"""The local backend's HTTP application: the Synapse v1 protocol over Starlette.

It follows ``protocol.md`` (sections 2-4 and 8) and never imports the client side of
the package. Answers are shaped as the real backend's: DRF page-number pagination with
absolute ``next``/``previous`` links, DRF error bodies, ``Token`` authentication.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import shutil
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from synapse.local.faults import DROP, FaultLayer
from synapse.local.kinds import KINDS, Kind
from synapse.local.limits import DataDirLock
from synapse.local.openapi import openapi_document
from synapse.local.store import Query, Store, now_iso

__all__ = ["ApiError", "Backend", "build_app"]

Handler = Callable[..., Awaitable[Response]]

CONTROL_PARAMS = frozenset(
    {"page", "page_size", "ordering", "fields", "expand", "pagination", "response_mode",
     "search", "ids", "ids_ex", "with_configuration", "limit", "offset", "url_host", "format",
     "schema"}
)  # fmt: skip
LOOKUPS = {"in": "IN", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
JOB_FINISHED = ("STOPPED", "SUCCEEDED", "FAILED")


class ApiError(Exception):
    """An error answer with a DRF body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def not_found() -> ApiError:
    return ApiError(404, {"detail": "Not found."})


def field_error(name: str, message: str) -> ApiError:
    return ApiError(400, {name: [message]})


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")  # NaN and Infinity: json.loads takes them


def _int64(text: str) -> int:
    number = int(text)
    if not INT64[0] <= number <= INT64[1]:
        raise ValueError(f"integer {text[:30]} is out of range")
    return number


def safe_filename(name: str | None) -> str:
    """The last component of an uploaded file's name, never empty, ``.`` or ``..``."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    return base if base not in ("", ".", "..") else "file"


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json"
    )


#: Lists that offer ``pagination=cursor`` (the sdk/ endpoints of the protocol).
CURSOR_TABLES = frozenset({"tasks", "assignments", "ground_truth_events"})
INT64 = (-(2**63), 2**63 - 1)  # what SQLite stores; a larger number is a 400, not a 500


def _parse(ftype: str, key: str, raw: str) -> Any:
    if ftype in ("int", "ints"):
        try:
            number = int(raw)
        except ValueError:
            raise field_error(key, "Enter a number.") from None
        if not INT64[0] <= number <= INT64[1]:
            raise field_error(key, f"Ensure this value is at most {INT64[1]} in size.")
        return number
    if ftype == "bool":
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return 1
        if lowered in ("false", "0"):
            return 0
        raise field_error(key, "Select a valid choice.")
    return raw


def build_query(kind: Kind, params: list[tuple[str, str]]) -> Query:
    """The WHERE clause and ordering of a list request; undeclared filters are ignored."""
    query = Query()
    for key, raw in params:
        if key == "ids":
            _where_in(query, "id", "int", key, raw)
            continue
        if key == "ids_ex":
            values = [_parse("int", key, v) for v in raw.split(",") if v]
            if values:
                query.where(f"id NOT IN ({','.join('?' * len(values))})", *values)
            continue
        if key == "search":
            query.where("body LIKE ?", f"%{raw}%")
            continue
        if key == "ordering":
            _ordering(query, kind, raw)
            continue
        if key in CONTROL_PARAMS:
            continue
        name = kind.aliases.get(key, key)
        fname, _, lookup = name.partition("__")
        if fname == "id":
            expr, ftype = "id", "int"
        elif fname in kind.fields:
            expr, ftype = f"json_extract(body, '$.{fname}')", kind.fields[fname]
        else:
            continue
        if lookup and lookup not in LOOKUPS:
            continue
        if ftype == "ints":
            values = [_parse(ftype, key, v) for v in raw.split(",") if v]
            marks = ",".join("?" * len(values))
            query.where(
                f"EXISTS (SELECT 1 FROM json_each(body, '$.{fname}') WHERE value IN ({marks}))",
                *values,
            )
        elif lookup == "in":
            _where_in(query, expr, ftype, key, raw)
        elif lookup and expr == "id":
            query.id_bounds.append((lookup, _parse(ftype, key, raw)))  # keyset pages
        elif lookup:
            query.where(f"{expr} {LOOKUPS[lookup]} ?", _parse(ftype, key, raw))
        elif raw == "" and ftype != "str":
            continue  # django-filter treats an empty value as no filter
        else:
            query.where(f"{expr} = ?", _parse(ftype, key, raw))
    return query


def _where_in(query: Query, expr: str, ftype: str, key: str, raw: str) -> None:
    values = [_parse(ftype, key, v) for v in raw.split(",") if v != ""]
    if not values:
        return
    query.where(f"{expr} IN ({','.join('?' * len(values))})", *values)


def _ordering(query: Query, kind: Kind, raw: str) -> None:
    for term in raw.split(","):
        desc = term.startswith("-")
        name = term.lstrip("-")
        if name in ("id", "pgh_id"):
            expr = "id"
        elif name in kind.fields:
            expr = f"json_extract(body, '$.{name}')"
        else:
            continue
        query.order.append(f"{expr} {'DESC' if desc else 'ASC'}")


def _multi(request: Request, key: str) -> list[str]:
    """Values of a repeated or comma-separated parameter (``expand``, ``fields``)."""
    out: list[str] = []
    for value in request.query_params.getlist(key):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _flag(request: Request, key: str) -> bool:
    return request.query_params.get(key, "").lower() in ("true", "1")


class Backend:
    """State and handlers of one local backend."""

    def __init__(self, store: Store, files_dir: Path, token: str, job_seconds: float) -> None:
        self.store = store
        self.files_dir = files_dir
        self.token = token
        self.job_seconds = job_seconds
        self.faults: FaultLayer | None = None
        self.lock: DataDirLock | None = None
        (files_dir / "uploads").mkdir(parents=True, exist_ok=True)
        (files_dir / "media").mkdir(parents=True, exist_ok=True)

    # ------------------------------------------------------------------ helpers

    def load(self, table: str, pk: str | int) -> dict[str, Any]:
        try:
            number = int(pk)
        except ValueError:
            raise not_found() from None
        if not INT64[0] <= number <= INT64[1]:
            raise not_found()
        doc = self.store.get(KINDS[table], number)
        if doc is None:
            raise not_found()
        return doc

    def media_url(self, request: Request, key: str) -> str:
        return f"{_base(request)}/media/{key}"

    async def body(self, request: Request) -> Any:
        raw = await request.body()
        if not raw:
            return {}
        try:
            return json.loads(raw, parse_constant=_no_constant, parse_int=_int64)
        except (ValueError, RecursionError) as exc:
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            raise ApiError(400, {"detail": f"JSON parse error - {reason}"}) from None

    async def dict_body(self, request: Request) -> dict[str, Any]:
        body = await self.body(request)
        if not isinstance(body, dict):
            raise ApiError(400, {"non_field_errors": ["Expected a dictionary of items."]})
        return body

    def new(self, table: str, body: dict[str, Any], pk: int | None = None) -> dict[str, Any]:
        kind = KINDS[table]
        doc = {**json.loads(json.dumps(kind.defaults)), **body, "created": now_iso()}
        doc.pop("id", None)
        return self.store.insert(kind, doc, pk)

    # ------------------------------------------------------------------ rendering

    def render(
        self,
        request: Request,
        table: str,
        docs: list[dict[str, Any]],
        default_expand: tuple[str, ...] = (),
    ) -> list[dict[str, Any]]:
        """Docs as the API shows them: computed fields, ``expand`` and ``fields`` applied.

        ``default_expand`` names relations an endpoint nests without being asked, as the
        production ``sdk/tasks/`` does with ``data_unit`` (and its files).
        """
        kind = KINDS[table]
        expand = set(_multi(request, "expand")) | set(default_expand)
        out = [self.present(request, table, dict(doc), expand) for doc in docs]
        for rel in expand & set(kind.relations):
            target = kind.relations[rel]
            ids = sorted({d[rel] for d in out if isinstance(d.get(rel), int)})
            related = self.store.get_many(KINDS[target], ids)
            shown = {
                pk: self.present(request, target, dict(doc), set()) for pk, doc in related.items()
            }
            for d in out:
                if isinstance(d.get(rel), int) and d[rel] in shown:
                    d[rel] = shown[d[rel]]
        fields = _multi(request, "fields")
        if fields:
            out = [{k: v for k, v in d.items() if k in fields} for d in out]
        return out

    def present(
        self, request: Request, table: str, doc: dict[str, Any], expand: set[str]
    ) -> dict[str, Any]:
        """One doc's computed fields (URLs, hidden configuration, job progress...)."""
        if table == "jobs":
            doc = self.advance_job(doc)
            doc.pop("created_ts", None)
            doc.pop("fail", None)
            doc.pop("auto", None)
        elif table == "storages" and not _flag(request, "with_configuration"):
            doc.pop("configuration", None)
        elif table == "data_collections" and "file_specifications" not in expand:
            doc["file_specifications"] = [s.get("id") for s in doc.get("file_specifications", [])]
        elif table == "ground_truth_events":
            doc["pgh_id"] = doc["id"]
            doc["id"] = doc.get("ground_truth")
        if "file_key" in doc:
            doc["file"] = self.media_url(request, doc.pop("file_key"))
        if isinstance(doc.get("files"), dict):
            doc["files"] = self.present_files(request, doc)
        return doc

    def present_files(self, request: Request, doc: dict[str, Any]) -> dict[str, Any]:
        specs: dict[str, dict[str, Any]] = {}
        collection_id = doc.get("data_collection")
        if isinstance(collection_id, int):
            collection = self.store.get(KINDS["data_collections"], collection_id)
            if collection:
                specs = {s["name"]: s for s in collection.get("file_specifications", [])}
        files: dict[str, Any] = {}
        for name, entry in doc["files"].items():
            if not isinstance(entry, dict) or "checksum" not in entry:
                files[name] = entry
                continue
            data_file = self.store.find(KINDS["data_files"], "checksum", entry["checksum"])
            spec = specs.get(name, {})
            shown = {
                "checksum": entry["checksum"],
                "file_name_original": Path(str(entry.get("path") or name)).name,
                "is_primary": bool(spec.get("is_primary", False)),
                "file_type": spec.get("file_type", "data"),
            }
            if data_file:
                shown["url"] = self.media_url(request, data_file["file_key"])
                shown["size"] = data_file.get("size")
            files[name] = shown
        return files

    # ------------------------------------------------------------------ generic endpoints

    async def list(
        self,
        request: Request,
        table: str,
        query: Query | None = None,
        default_expand: tuple[str, ...] = (),
    ) -> Response:
        kind = KINDS[table]
        params = list(request.query_params.multi_items())
        if query is None:
            query = build_query(kind, params)
        if request.query_params.get("pagination") == "cursor" and table in CURSOR_TABLES:
            return self.cursor_page(request, table, query, default_expand)
        try:
            page = int(request.query_params.get("page", "1"))
            size = int(request.query_params.get("page_size", str(DEFAULT_PAGE_SIZE)))
        except ValueError:
            raise ApiError(404, {"detail": "Invalid page."}) from None
        size = max(1, min(size, MAX_PAGE_SIZE))
        count = self.store.count(kind, query)
        pages = max(1, math.ceil(count / size))
        if page < 1 or page > pages:
            raise ApiError(404, {"detail": "Invalid page."})
        docs = self.store.select(kind, query, limit=size, offset=(page - 1) * size)
        return _json(
            {
                "count": count,
                "next": _page_link(request, page + 1) if page < pages else None,
                "previous": _page_link(request, page - 1) if page > 1 else None,
                "results": self.render(request, table, docs, default_expand),
            }
        )

    def cursor_page(
        self, request: Request, table: str, query: Query, default_expand: tuple[str, ...]
    ) -> Response:
        """DRF's cursor pagination: a unique descending ordering, an opaque ``cursor`` in
        the ``next`` link, and no ``count``. Rows inserted or deleted meanwhile never make
        a walk skip or repeat one."""
        ordering = request.query_params.get("ordering", "-id")
        if ordering not in ("-id", "-pgh_id"):
            raise ApiError(400, {"detail": "Cursor pagination needs ordering=-id."})
        token = request.query_params.get("cursor")
        if token:
            try:
                before = _parse("int", "cursor", base64.urlsafe_b64decode(token).decode()[1:])
            except (ValueError, ApiError):
                raise ApiError(404, {"detail": "Invalid cursor"}) from None
            query.where("id < ?", before)
        query.order[:] = ["id DESC"]
        try:
            size = max(1, min(int(request.query_params.get("page_size", "100")), MAX_PAGE_SIZE))
        except ValueError:
            raise ApiError(404, {"detail": "Invalid page."}) from None
        docs = self.store.select_first(KINDS[table], query, limit=size + 1)
        more = len(docs) > size
        docs = docs[:size]
        link = None
        if more:
            cursor = base64.urlsafe_b64encode(f"<{docs[-1]['id']}".encode()).decode()
            pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
            link = f"{_base(request)}{request.url.path}?{urlencode([*pairs, ('cursor', cursor)])}"
        results = self.render(request, table, docs, default_expand)
        return _json({"next": link, "previous": None, "results": results})

    async def retrieve(self, request: Request, table: str, pk: str) -> Response:
        doc = self.load(table, pk)
        return _json(self.render(request, table, [doc])[0])

    async def create(self, request: Request, table: str) -> Response:
        body = await self.dict_body(request)
        doc = self.new(table, body)
        return _json(self.render(request, table, [doc])[0], 201)

    async def update(self, request: Request, table: str, pk: str) -> Response:
        doc = self.load(table, pk)
        body = await self.dict_body(request)
        for key in ("id", "created", "pgh_id"):
            body.pop(key, None)
        if table == "jobs" and "status" in body:
            if body["status"] not in ("PENDING", *("RUNNING",), *JOB_FINISHED):
                raise field_error("status", f'"{body["status"]}" is not a valid choice.')
            doc = self.advance_job(doc)
            doc["auto"] = False
        doc.update(body)
        doc["modified"] = now_iso()
        self.store.save(KINDS[table], doc)
        return _json(self.render(request, table, [doc])[0])

    async def destroy(self, request: Request, table: str, pk: str) -> Response:
        doc = self.load(table, pk)
        self.store.delete(KINDS[table], doc["id"])
        return Response(status_code=204)

    # ------------------------------------------------------------------ annotation

    async def create_tasks(self, request: Request) -> Response:
        body = await self.dict_body(request)
        project = body.get("project")
        items = body.get("data")
        if not isinstance(project, int) or self.store.get(KINDS["projects"], project) is None:
            raise field_error("project", f'Invalid pk "{project}" - object does not exist.')
        if not isinstance(items, list) or not items:
            raise field_error("data", "Expected a non-empty list of items.")
        created = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("data_unit"), int):
                raise field_error("data", "Each item needs an integer data_unit.")
            if self.store.get(KINDS["data_units"], item["data_unit"]) is None:
                raise field_error("data", f'Invalid data_unit "{item["data_unit"]}".')
        for item in items:
            created.append(self.new("tasks", {**item, "project": project}))
        return _json(self.render(request, "tasks", created), 201)

    async def annotate(self, request: Request, pk: str) -> Response:
        doc = self.load("tasks", pk)
        body = await self.dict_body(request)
        unknown = sorted(set(body) - {"action", "data"})
        if unknown:  # never answer success while dropping what was sent
            raise ApiError(
                400, {"non_field_errors": [f"Unknown fields {unknown}; send action and data."]}
            )
        if "data" not in body:
            raise field_error("data", "This field is required.")
        action = body.get("action", "save")
        if action not in ("save", "submit"):
            raise field_error("action", f'"{action}" is not a valid choice.')
        schema = request.query_params.get("schema")
        if schema not in (None, "dm_schema_v1", "any"):
            raise field_error("schema", f'"{schema}" is not a valid choice.')
        doc["data"] = body["data"]
        doc["status"] = "submitted" if action == "submit" else "saved"
        doc["schema"] = schema or doc.get("schema")
        doc["modified"] = now_iso()
        self.store.save(KINDS["tasks"], doc)
        return _json(self.render(request, "tasks", [doc])[0])

    async def set_tags(self, request: Request, table: str) -> Response:
        body = await self.dict_body(request)
        ids, tags, action = body.get("ids"), body.get("tags"), body.get("action", "add")
        for name, value in (("ids", ids), ("tags", tags)):
            if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
                raise field_error(name, "Expected a list of integers.")
        if action not in ("add", "remove"):
            raise field_error("action", f'"{action}" is not a valid choice.')
        assert isinstance(ids, list)
        assert isinstance(tags, list)
        kind = KINDS[table]
        updated = 0
        for doc in self.store.get_many(kind, ids).values():
            current = list(doc.get("tags", []))
            if action == "add":
                current.extend(t for t in tags if t not in current)
            else:
                current = [t for t in current if t not in tags]
            doc["tags"] = current
            self.store.save(kind, doc)
            updated += 1
        return _json({"ids": ids, "tags": tags, "action": action, "updated": updated})

    # ------------------------------------------------------------------ integration

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
                "created_ts": time.time(),
                "auto": True,
                "fail": bool(plugin.get("meta", {}).get("fail") or params.get("fail")),
            },
        )
        return _json(self.render(request, "jobs", [job])[0], 201)

    def advance_job(self, doc: dict[str, Any]) -> dict[str, Any]:
        """Move a run job PENDING -> RUNNING -> SUCCEEDED/FAILED as time passes."""
        if not doc.get("auto") or doc.get("status") in JOB_FINISHED:
            return doc
        elapsed = time.time() - float(doc.get("created_ts", 0))
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

    async def list_by_plugin(self, request: Request, table: str) -> Response:
        """Lists whose ``plugin`` filter takes the plugin's code as well as its id."""
        params = list(request.query_params.multi_items())
        fixed = []
        for key, value in params:
            if key == "plugin" and value and not value.isdigit():
                plugin = self.store.find(KINDS["plugins"], "code", value)
                value = str(plugin["id"]) if plugin else "0"
            fixed.append((key, value))
        return await self.list(request, table, build_query(KINDS[table], fixed))

    async def create_storage(self, request: Request) -> Response:
        body = await self.dict_body(request)
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
        if self.store.find(KINDS["models"], "name", body["name"]):
            raise field_error("name", "model with this name already exists.")
        upload_id = body.pop("chunked_upload", None)
        if upload_id is not None:
            body["file_key"] = self.completed_upload(str(upload_id), "chunked_upload")["file_key"]
            body["size"] = self.completed_upload(str(upload_id), "chunked_upload")["size"]
        doc = self.new("models", body)
        return _json(self.render(request, "models", [doc])[0], 201)

    # ------------------------------------------------------------------ data

    def store_upload_file(self, upload: UploadFile) -> tuple[str, str, int]:
        """Copy an uploaded part to the media folder: (key, md5, size)."""
        name = safe_filename(upload.filename)
        key = f"{uuid.uuid4().hex}/{name}"
        target = self.files_dir / "media" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.md5()
        size = 0
        upload.file.seek(0)
        with open(target, "wb") as out:
            while block := upload.file.read(1 << 20):
                digest.update(block)
                size += len(block)
                out.write(block)
        return key, digest.hexdigest(), size

    def completed_upload(self, upload_id: str, field: str) -> dict[str, Any]:
        upload = self.store.get_upload(upload_id)
        if upload is None:
            raise field_error(field, f'Chunked upload "{upload_id}" does not exist.')
        if upload.get("status") != 2:
            raise field_error(field, "The chunked upload is not complete.")
        return upload

    async def create_data_file(self, request: Request) -> Response:
        if request.headers.get("content-type", "").startswith("multipart/"):
            form = await request.form()
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise field_error("file", "No file was submitted.")
            key, checksum, size = self.store_upload_file(upload)
        else:
            body = await self.dict_body(request)
            if "chunked_upload" not in body:
                raise field_error("file", "No file was submitted.")
            upload_state = self.completed_upload(str(body["chunked_upload"]), "chunked_upload")
            key, checksum, size = (
                upload_state["file_key"],
                upload_state["checksum"],
                upload_state["size"],
            )
        existing = self.store.find(KINDS["data_files"], "checksum", checksum)
        if existing:
            return _json(self.render(request, "data_files", [existing])[0], 200)
        now = now_iso()
        doc = self.store.insert(
            KINDS["data_files"],
            {"checksum": checksum, "file_key": key, "size": size, "created_at": now,
             "updated_at": now},
        )  # fmt: skip
        return _json(self.render(request, "data_files", [doc])[0], 201)

    async def verify_checksums(self, request: Request) -> Response:
        body = await self.dict_body(request)
        checksums = body.get("checksums")
        if not isinstance(checksums, list):
            raise field_error("checksums", "Expected a list of strings.")
        existing = [
            c for c in checksums if self.store.find(KINDS["data_files"], "checksum", str(c))
        ]
        return _json({"existing_checksums": existing})

    async def create_data_units(self, request: Request) -> Response:
        body = await self.body(request)
        items = body if isinstance(body, list) else [body]
        errors: list[dict[str, Any]] = []
        for item in items:
            errors.append(self.check_unit(item))
        if any(errors):
            raise ApiError(400, errors if isinstance(body, list) else errors[0])
        created = [self.new("data_units", item) for item in items]
        shown = self.render(request, "data_units", created)
        return _json(shown if isinstance(body, list) else shown[0], 201)

    def check_unit(self, item: Any) -> dict[str, Any]:
        if not isinstance(item, dict):
            return {"non_field_errors": ["Expected a dictionary."]}
        collection_id = item.get("data_collection")
        collection = (
            self.store.get(KINDS["data_collections"], collection_id)
            if isinstance(collection_id, int)
            else None
        )
        if collection is None:
            return {"data_collection": [f'Invalid pk "{collection_id}" - object does not exist.']}
        files = item.get("files")
        if not isinstance(files, dict) or not files:
            return {"files": ["Expected a non-empty dictionary of files."]}
        specs = {s["name"] for s in collection.get("file_specifications", [])}
        for name, entry in files.items():
            if specs and name not in specs:
                return {"files": [f'Unknown file specification "{name}".']}
            checksum = entry.get("checksum") if isinstance(entry, dict) else None
            if not checksum or not self.store.find(KINDS["data_files"], "checksum", checksum):
                return {"files": [f'No data file with checksum "{checksum}" for "{name}".']}
        return {}

    # ------------------------------------------------------------------ chunked upload

    async def chunk(self, request: Request, upload_id: str | None) -> Response:
        content_range = request.headers.get("content-range", "")
        try:
            unit, _, spec = content_range.partition(" ")
            span, _, total_text = spec.partition("/")
            start_text, _, end_text = span.partition("-")
            start, end, total = int(start_text), int(end_text), int(total_text)
            if unit != "bytes" or start < 0 or end < start or end >= total:
                raise ValueError
        except ValueError:
            raise ApiError(400, {"detail": "Invalid Content-Range header."}) from None
        form = await request.form()
        part = form.get("file")
        if not isinstance(part, UploadFile):
            raise field_error("file", "No chunk file was submitted.")
        faults = self.faults
        if upload_id is None:
            if start != 0:
                raise ApiError(400, {"detail": "Offsets do not match", "offset": 0})
            upload: dict[str, Any] = {
                "id": uuid.uuid4().hex,
                "filename": str(form.get("filename") or part.filename or "file"),
                "offset": 0,
                "total": total,
                "status": 1,
                "completed_at": None,
                "created_at": now_iso(),
            }
        else:
            found = self.store.get_upload(upload_id)
            if found is None:
                raise not_found()
            upload = found
            if upload["status"] == 2:
                raise ApiError(400, {"detail": "Upload has already been completed."})
            if start != upload["offset"]:
                raise ApiError(400, {"detail": "Offsets do not match", "offset": upload["offset"]})
        if faults and faults.should_drop_chunk("before"):
            request.scope[DROP] = True
            return Response(status_code=500)
        part.file.seek(0)
        data = part.file.read()
        if len(data) != end - start + 1:
            raise ApiError(400, {"detail": "Chunk size does not match Content-Range."})
        path = self.files_dir / "uploads" / upload["id"]
        with open(path, "r+b" if path.exists() else "wb") as out:
            out.seek(start)
            out.write(data)
            out.truncate()
        upload["offset"] = end + 1
        upload["total"] = total
        self.store.put_upload(upload)
        if faults and faults.should_drop_chunk("after"):
            request.scope[DROP] = True
        return _json(self.upload_state(request, upload))

    def upload_state(self, request: Request, upload: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in upload.items() if k not in ("file_key", "total")}
        shown["url"] = f"{_base(request)}/chunked_upload/{upload['id']}/"
        if upload.get("file_key"):
            shown["file"] = self.media_url(request, upload["file_key"])
        return shown

    async def upload_status(self, request: Request, upload_id: str) -> Response:
        upload = self.store.get_upload(upload_id)
        if upload is None:
            raise not_found()
        return _json(self.upload_state(request, upload))

    async def finalize(self, request: Request, upload_id: str | None) -> Response:
        body = await self.dict_body(request)
        md5 = body.get("md5")
        if not isinstance(md5, str) or not md5:
            raise field_error("md5", "This field is required.")
        upload: dict[str, Any]
        if upload_id is None:
            # An empty file: nothing was PUT, so the upload is created complete here.
            if md5 != hashlib.md5(b"").hexdigest():
                raise ApiError(400, {"detail": "md5 checksum does not match"})
            upload = {
                "id": uuid.uuid4().hex,
                "filename": str(body.get("filename", "file")),
                "offset": 0,
                "total": 0,
                "status": 1,
                "created_at": now_iso(),
            }
            (self.files_dir / "uploads" / upload["id"]).write_bytes(b"")
        else:
            found = self.store.get_upload(upload_id)
            if found is None:
                raise not_found()
            upload = found
            if upload["status"] == 2:
                if upload["checksum"] != md5:
                    raise ApiError(400, {"detail": "md5 checksum does not match"})
                return _json(self.upload_state(request, upload))
        path = self.files_dir / "uploads" / upload["id"]
        if upload["offset"] != upload["total"]:
            raise ApiError(400, {"detail": "Upload is not complete.", "offset": upload["offset"]})
        digest = hashlib.md5()
        with open(path, "rb") as stored:
            while block := stored.read(1 << 20):
                digest.update(block)
        if digest.hexdigest() != md5:
            raise ApiError(400, {"detail": "md5 checksum does not match"})
        key = f"{upload['id']}/{safe_filename(upload['filename'])}"
        target = self.files_dir / "media" / key
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
        upload.update(
            status=2, completed_at=now_iso(), checksum=md5, size=upload["total"], file_key=key
        )
        self.store.put_upload(upload)
        return _json(self.upload_state(request, upload))

    async def media(self, request: Request, key: str) -> Response:
        """Stored files, with ``Range`` support; unauthenticated, like presigned URLs."""
        path = (self.files_dir / "media" / key).resolve()
        root = (self.files_dir / "media").resolve()
        if root not in path.parents or not path.is_file():
            raise not_found()
        size = path.stat().st_size
        start, status = 0, 200
        wanted = request.headers.get("range", "")
        if wanted.startswith("bytes=") and wanted.endswith("-"):
            try:
                start = int(wanted[6:-1])
            except ValueError:
                start = 0
            if start >= size:
                return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
            status = 206
        data = path.read_bytes()[start:]
        headers = {"Accept-Ranges": "bytes", "Content-Length": str(len(data))}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{size - 1}/{size}"
        drop_after = self.faults.take_download_drop() if self.faults else 0
        if drop_after and drop_after < len(data):
            return _Truncated(data[:drop_after], status, headers)
        return Response(data, status_code=status, headers=headers,
                        media_type="application/octet-stream")  # fmt: skip


class _Truncated(Response):
    """Sends the headers and part of the body, then drops the connection."""

    def __init__(self, part: bytes, status: int, headers: dict[str, str]) -> None:
        super().__init__(status_code=status, headers=headers)
        self.part = part

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        await send({"type": "http.response.body", "body": self.part, "more_body": True})
        scope[DROP] = True


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _page_link(request: Request, page: int) -> str:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pairs.append(("page", str(page)))
    return f"{_base(request)}{request.url.path}?{urlencode(pairs)}"


def _route(path: str, token: str | None, **methods: Handler) -> Route:
    """A route that checks the token (unless ``token`` is None) and answers DRF's 405."""
    expected = f"Token {token}"

    async def endpoint(request: Request) -> Response:
        if token is not None:
            given = (
                request.headers.get("synapse-access-token"),
                request.headers.get("authorization"),
            )
            if not any(given):
                return _json({"detail": "Authentication credentials were not provided."}, 401)
            if expected not in given:
                return _json({"detail": "Invalid token."}, 401)
        handler = methods.get(request.method.lower())
        if handler is None:
            return _json({"detail": f'Method "{request.method}" not allowed.'}, 405)
        return await handler(request, **request.path_params)

    route = Route(path, endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    route.synapse_methods = tuple(methods)  # type: ignore[attr-defined]
    return route


def build_app(backend: Backend, extra: list[Route] | None = None) -> Starlette:
    """The Starlette application of a backend (the fault layer wraps it)."""
    b = backend

    def _r(path: str, **methods: Handler) -> Route:
        return _route(path, b.token, **methods)

    def listing(table: str) -> Handler:
        return lambda r: b.list(r, table)

    def creating(table: str) -> Handler:
        return lambda r: b.create(r, table)

    def getting(table: str) -> Handler:
        return lambda r, pk: b.retrieve(r, table, pk)

    def patching(table: str) -> Handler:
        return lambda r, pk: b.update(r, table, pk)

    def deleting(table: str) -> Handler:
        return lambda r, pk: b.destroy(r, table, pk)

    def crud(table: str, *, delete: bool = False, put: bool = False) -> list[Route]:
        item: dict[str, Handler] = {"get": getting(table), "patch": patching(table)}
        if delete:
            item["delete"] = deleting(table)
        if put:
            item["put"] = patching(table)
        return [
            _r(f"/{table}/", get=listing(table), post=creating(table)),
            _r(f"/{table}/{{pk}}/", **item),
        ]

    routes = [
        *crud("projects", delete=True),
        _r("/tasks/", get=listing("tasks"), post=b.create_tasks),
        _r("/sdk/tasks/", get=lambda r: b.list(r, "tasks", default_expand=("data_unit",))),
        _r("/tasks/set_tags/", post=lambda r: b.set_tags(r, "tasks")),
        _r("/tasks/{pk}/annotate_task_data/", put=b.annotate),
        _r("/tasks/{pk}/", get=getting("tasks"), patch=patching("tasks"),
               delete=deleting("tasks")),
        *crud("task_tags", delete=True),
        _r("/sdk/assignments/", get=listing("assignments")),
        _r("/assignments/", get=listing("assignments"), post=creating("assignments")),
        _r("/assignments/set_tags/", post=lambda r: b.set_tags(r, "assignments")),
        _r("/assignments/{pk}/", get=getting("assignments"), patch=patching("assignments")),
        _r("/agents/", get=listing("agents"), post=creating("agents")),
        _r("/agents/{token}/connect/", post=b.connect_agent),
        _r("/plugins/", get=listing("plugins"), post=creating("plugins")),
        _r("/plugins/{ref}/run/", post=b.run_plugin),
        _r("/plugins/{pk}/", get=getting("plugins"), put=patching("plugins"),
               patch=patching("plugins"), delete=deleting("plugins")),
        _r("/plugin_releases/", get=lambda r: b.list_by_plugin(r, "plugin_releases"),
               post=b.create_release),
        _r("/plugin_releases/{lookup}/", get=b.get_release),
        _r("/jobs/", get=lambda r: b.list_by_plugin(r, "jobs")),
        _r("/jobs/{pk}/console_logs/", get=b.console_logs),
        _r("/jobs/{pk}/", get=getting("jobs"), patch=patching("jobs")),
        _r("/logs/", get=listing("logs"), post=b.create_logs),
        _r("/storages/", get=listing("storages"), post=b.create_storage),
        _r("/storages/{pk}/", get=getting("storages"), patch=patching("storages")),
        _r("/models/", get=listing("models"), post=b.create_model),
        _r("/models/{pk}/", get=getting("models"), patch=patching("models"),
               delete=deleting("models")),
        *crud("data_collections", delete=True),
        _r("/data_files/", post=b.create_data_file),
        _r("/data_files/verify_checksums/", post=b.verify_checksums),
        _r("/data_files/{pk}/", get=getting("data_files")),
        _r("/data_units/", get=listing("data_units"), post=b.create_data_units),
        _r("/data_units/{pk}/", get=getting("data_units"), patch=patching("data_units"),
               delete=deleting("data_units")),
        _r("/chunked_upload/", put=lambda r: b.chunk(r, None),
               post=lambda r: b.finalize(r, None)),
        _r("/chunked_upload/{upload_id}/", put=b.chunk, get=b.upload_status,
               post=b.finalize),
        _r("/sdk/ground_truth_events/", get=listing("ground_truth_events")),
        _r("/ground_truths/", get=listing("ground_truths")),
        _r("/ground_truth_datasets/", get=listing("ground_truth_datasets")),
        _r("/ground_truth_dataset_versions/", get=listing("ground_truth_dataset_versions")),
        _r("/ground_truth_dataset_versions/{pk}/",
               get=getting("ground_truth_dataset_versions")),
        _route("/media/{key:path}", None, get=b.media),
    ]  # fmt: skip

    async def openapi(request: Request) -> Response:
        return _json(openapi_document(routes))

    routes.append(Route("/openapi.json", openapi, methods=["GET"]))

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _json(exc.body, exc.status)

    async def missing(request: Request, exc: Exception) -> Response:
        return _json({"detail": "Not found."}, 404)

    return Starlette(
        routes=[*(extra or []), *routes],
        exception_handlers={ApiError: api_error, 404: missing},
    )


def control_routes(layer: FaultLayer, backend: Backend, reset: Callable[[], None]) -> list[Route]:
    """``/_local/`` endpoints for tests: faults, the request log, a counter, reset.

    They can empty a database or make every request fail, so they are guarded more
    tightly than the API: the access token is required, a request that carries an
    ``Origin`` of another site is refused (a web page can make a browser send requests
    to ``localhost``), and a POST must be ``application/json`` (which a page cannot send
    cross-origin without a preflight this server never grants).
    """

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            origin = request.headers.get("origin")
            if origin is not None and origin.rstrip("/") != _base(request):
                return _json({"detail": "Cross-origin requests are not allowed."}, 403)
            if request.method == "POST" and not request.headers.get("content-type", "").startswith(
                "application/json"
            ):
                return _json({"detail": 'Unsupported media type; send "application/json".'}, 415)
            return await handler(request)

        return endpoint

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                layer.configure(**(await backend.dict_body(request)))
            except TypeError as exc:
                return _json({"detail": str(exc)}, 400)
        return _json(vars(layer.faults))

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            layer.log.clear()
            return Response(status_code=204)
        return _json([r.as_dict() for r in layer.log])

    async def counter(request: Request) -> Response:
        return _json({"requests": layer.total, "chunk_puts": layer.chunk_puts})

    async def do_reset(request: Request) -> Response:
        reset()
        return Response(status_code=204)

    token = backend.token
    return [
        _route("/_local/faults", token, get=guarded(faults), post=guarded(faults)),
        _route("/_local/requests", token, get=guarded(requests_log),
               delete=guarded(requests_log)),
        _route("/_local/counter", token, get=guarded(counter)),
        _route("/_local/reset", token, post=guarded(do_reset)),
    ]  # fmt: skip
