"""The core of a local backend: its state, body parsing, rendering (``expand``,
``fields``, file URLs) and the generic list/retrieve/create/update/destroy endpoints."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from cachetools import LRUCache
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from synapse.local.clock import Clock
from synapse.local.http import (
    DEFAULT_PAGE_SIZE,
    ENCODE,
    INT64,
    MAX_PAGE_SIZE,
    ApiError,
    _base,
    _finite,
    _flag,
    _int64,
    _json,
    _multi,
    _no_constant,
    _page_link,
    _parse,
    build_query,
    field_error,
    not_found,
    safe_filename,
)
from synapse.local.kinds import KINDS
from synapse.local.store import Query, Store, now_iso

if TYPE_CHECKING:
    from synapse.local.faults import FaultLayer
    from synapse.local.limits import DataDirLock

__all__ = ["BackendCore"]

ROW_CACHE_BYTES = 256 * 1024 * 1024
#: Kinds whose rendering changes with time or with other tables, not only with their
#: own writes (a job advances; a project counts its tasks).
UNCACHED_TABLES = frozenset({"jobs", "projects"})


class BackendCore:
    """State, parsing and rendering of one local backend, and the generic endpoints;
    each family of resources adds its handlers in a module of its own."""

    def __init__(
        self,
        store: Store,
        files_dir: Path,
        token: str,
        job_seconds: float,
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.files_dir = files_dir
        self.token = token
        self.job_seconds = job_seconds
        #: What simulated jobs advance on (a test's `ManualClock`).
        self.clock = clock
        self.faults: FaultLayer | None = None
        self.lock: DataDirLock | None = None
        (files_dir / "uploads").mkdir(parents=True, exist_ok=True)
        (files_dir / "media").mkdir(parents=True, exist_ok=True)
        self._spec_cache: dict[int, tuple[int, dict[str, dict[str, Any]]]] = {}
        # Rendered list rows, bounded by their total size (a server keeps its memory).
        self._row_cache: LRUCache[tuple[Any, ...], str] = LRUCache(
            maxsize=ROW_CACHE_BYTES, getsizeof=len
        )
        self._pages_seen: LRUCache[tuple[Any, ...], bool] = LRUCache(maxsize=200_000)

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
            return json.loads(
                raw, parse_constant=_no_constant, parse_int=_int64, parse_float=_finite
            )
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
        doc = self.before_render(table, doc)
        kind = KINDS[table]
        for name, flag in kind.shown_with_flag.items():
            if not _flag(request, flag):
                doc.pop(name, None)
        for name in kind.ids_unless_expanded:
            if name not in expand:
                doc[name] = [item.get("id") for item in doc.get(name, [])]
        if kind.row_id_as is not None:
            shown_as, id_from = kind.row_id_as
            doc[shown_as], doc["id"] = doc["id"], doc.get(id_from)
        if "file_key" in doc:
            doc["file"] = self.media_url(request, doc.pop("file_key"))
        if isinstance(doc.get("files"), dict):
            doc["files"] = self.present_files(request, doc)
        return doc

    def _specs(self, collection_id: Any) -> dict[str, dict[str, Any]]:
        """A collection's file specifications by name, read once per collection and kept
        until the collections change (a page of units would read it per unit)."""
        if not isinstance(collection_id, int):
            return {}
        version = self.store.version(KINDS["data_collections"])
        cached = self._spec_cache.get(collection_id)
        if cached is None or cached[0] != version:
            collection = self.store.get(KINDS["data_collections"], collection_id) or {}
            specs = {s["name"]: s for s in collection.get("file_specifications", [])}
            cached = self._spec_cache[collection_id] = (version, specs)
        return cached[1]

    def before_update(
        self, table: str, doc: dict[str, Any], body: dict[str, Any]
    ) -> dict[str, Any]:
        """A family's check of an update (a job's status), and its doc to update."""
        return doc

    def check_body(self, table: str, body: dict[str, Any]) -> None:
        """A family's check of what a create or an update would store: one bad write
        is refused with 400, so that it can never poison later reads of the table."""

    def before_render(self, table: str, doc: dict[str, Any]) -> dict[str, Any]:
        """A family's last change to a doc before it is shown (jobs advance with time)."""
        return doc

    def present_files(self, request: Request, doc: dict[str, Any]) -> dict[str, Any]:
        """A unit's files as the API shows them: each with its URL, size and spec flags.
        An entry that already holds its media ``file_key`` (seeded in bulk) is shown
        without looking its data file up."""
        specs = self._specs(doc.get("data_collection"))
        files: dict[str, Any] = {}
        for name, entry in doc["files"].items():
            if isinstance(entry, dict) and "file_key" in entry:
                shown = {k: v for k, v in entry.items() if k != "file_key"}
                shown["url"] = self.media_url(request, entry["file_key"])
                files[name] = shown
                continue
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
        cursor = kind.declared is not None and kind.declared.cursor is not None
        if request.query_params.get("pagination") == "cursor" and cursor:
            return self.cursor_page(request, table, query, default_expand)
        try:
            page = int(request.query_params.get("page", "1"))
            size = int(request.query_params.get("page_size", str(DEFAULT_PAGE_SIZE)))
            # ``limit``/``offset`` where the kind declares them (jobs, models)
            limits = {
                kind.filters[key].lookup: int(value)
                for key, value in request.query_params.items()
                if key in kind.filters and kind.filters[key].lookup in ("limit", "offset")
            }
        except ValueError:
            raise ApiError(404, {"detail": "Invalid page."}) from None
        size = max(1, min(limits.get("limit", size), MAX_PAGE_SIZE))
        count = self.store.count(kind, query)
        pages = max(1, math.ceil(count / size))
        if page < 1 or page > pages:
            raise ApiError(404, {"detail": "Invalid page."})
        start = max(0, limits.get("offset", (page - 1) * size))
        ids = self.store.select_ids(kind, query, limit=size, offset=start)
        envelope = ENCODE(
            {
                "count": count,
                "next": _page_link(request, page + 1) if page < pages else None,
                "previous": _page_link(request, page - 1) if page > 1 else None,
                "results": [],
            }
        )
        rows = self.rendered_rows(request, table, ids, default_expand)
        body = f"{envelope[:-2]}{','.join(rows)}]}}"  # envelope ends with "results":[]}
        return Response(body, media_type="application/json")

    def rendered_rows(
        self,
        request: Request,
        table: str,
        ids: Sequence[int],
        default_expand: tuple[str, ...],
    ) -> Sequence[str]:
        """Each listed row's JSON text, from a bounded cache when nothing it shows can have
        changed: its table and its expanded relations' tables keep their versions, and
        the query asks for the same shape (expansions, fields, flags, host). Kinds that
        change with time (jobs) are never cached."""
        kind = KINDS[table]
        cacheable = table not in UNCACHED_TABLES
        shape = (
            table,
            tuple(sorted(set(_multi(request, "expand")) | set(default_expand))),
            tuple(_multi(request, "fields")),
            _flag(request, "with_configuration"),
            _base(request),
            self.store.version(kind),
            *(self.store.version(KINDS[t]) for t in sorted(set(kind.relations.values()))),
        )
        page_key = (shape, ids[0] if ids else None, len(ids))
        if cacheable and page_key not in self._pages_seen:
            # A page asked for the first time is rendered in one go; its rows are kept
            # only once it is asked again (a one-off listing pays no caching).
            self._pages_seen[page_key] = True
            found = self.store.get_many(kind, ids)
            docs = [found[pk] for pk in ids if pk in found]
            rendered = ENCODE(self.render(request, table, docs, default_expand))
            return [rendered[1:-1]] if docs else []
        rows: dict[int, str] = {}
        if cacheable:
            for pk in ids:
                cached = self._row_cache.get((shape, pk))
                if cached is not None:
                    rows[pk] = cached
        missing = [pk for pk in ids if pk not in rows]
        if missing:
            found = self.store.get_many(kind, missing)
            present = [pk for pk in missing if pk in found]
            docs = [found[pk] for pk in present]
            # rows by their stored id: ``fields`` may leave ``id`` out of what is shown
            shown = self.render(request, table, docs, default_expand)
            for pk, doc in zip(present, shown, strict=True):
                rows[pk] = text = ENCODE(doc)
                if cacheable:
                    self._row_cache[(shape, pk)] = text
        return [rows[pk] for pk in ids if pk in rows]

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
        ids = self.store.select_first_ids(KINDS[table], query, limit=size + 1)
        more = len(ids) > size
        ids = ids[:size]
        link = None
        if more:
            cursor = base64.urlsafe_b64encode(f"<{ids[-1]}".encode()).decode()
            pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "cursor"]
            link = f"{_base(request)}{request.url.path}?{urlencode([*pairs, ('cursor', cursor)])}"
        envelope = ENCODE({"next": link, "previous": None, "results": []})
        rows = self.rendered_rows(request, table, ids, default_expand)
        return Response(f"{envelope[:-2]}{','.join(rows)}]}}", media_type="application/json")

    async def retrieve(self, request: Request, table: str, pk: str) -> Response:
        doc = self.load(table, pk)
        return _json(self.render(request, table, [doc])[0])

    async def create(self, request: Request, table: str) -> Response:
        body = declared(table, await self.dict_body(request))
        self.check_body(table, body)
        doc = self.new(table, body)
        return _json(self.render(request, table, [doc])[0], 201)

    async def update(self, request: Request, table: str, pk: str) -> Response:
        doc = self.load(table, pk)
        body = declared(table, await self.dict_body(request))
        for key in ("id", "created", "pgh_id"):
            body.pop(key, None)
        self.check_body(table, body)
        doc = self.before_update(table, doc, body)
        doc.update(body)
        doc["modified"] = now_iso()
        self.store.save(KINDS[table], doc)
        return _json(self.render(request, table, [doc])[0])

    async def destroy(self, request: Request, table: str, pk: str) -> Response:
        doc = self.load(table, pk)
        self.store.delete(KINDS[table], doc["id"])
        return Response(status_code=204)

    # ------------------------------------------------------------------ uploaded bytes

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


def declared(table: str, body: dict[str, Any]) -> dict[str, Any]:
    """What a create or an update stores: the kind's declared fields only. The real
    backend's serializers drop any other key without a word, so a misspelt field is
    never read back as if it had been kept."""
    fields = KINDS[table].fields
    return {key: value for key, value in body.items() if key in fields}
