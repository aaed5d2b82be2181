"""Data files and data units (protocol 3.3, 4.2)."""

from __future__ import annotations

from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from synapse.local.core import BackendCore, declared
from synapse.local.http import ApiError, _json, field_error
from synapse.local.kinds import KINDS
from synapse.local.store import Query, now_iso

__all__ = ["DataHandlers"]


class DataHandlers(BackendCore):
    """``data_files/`` (multipart or from a chunked upload), checksums, ``data_units/``."""

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
        created = [self.new("data_units", declared("data_units", item)) for item in items]
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
        specs = {s.get("name") for s in collection.get("file_specifications", [])}
        for name, entry in files.items():
            if specs and name not in specs:
                return {"files": [f'Unknown file specification "{name}".']}
            checksum = entry.get("checksum") if isinstance(entry, dict) else None
            if not isinstance(checksum, str) or not checksum:
                return {"files": [f'"{name}": checksum must be a non-empty string.']}
            if not self.store.find(KINDS["data_files"], "checksum", checksum):
                return {"files": [f'No data file with checksum "{checksum}" for "{name}".']}
        return {}

    def check_body(self, table: str, body: dict[str, Any]) -> None:
        if table == "data_collections" and "file_specifications" in body:
            body["file_specifications"] = self.checked_specs(body["file_specifications"])
        super().check_body(table, body)

    def checked_specs(self, specs: Any) -> list[dict[str, Any]]:
        """File specifications as the backend validates them: objects with a unique,
        non-empty ``name``; each gets an ``id`` (as the real backend's rows have)."""
        if not isinstance(specs, list):
            raise field_error("file_specifications", "Expected a list of items.")
        names: set[str] = set()
        for index, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise field_error("file_specifications", f"Item {index}: expected an object.")
            name = spec.get("name")
            if not isinstance(name, str) or not name.strip():
                raise field_error("file_specifications", f"Item {index}: name is required.")
            if name in names:
                raise field_error("file_specifications", f'Duplicate name "{name}".')
            names.add(name)
            if not isinstance(spec.get("file_type", ""), str):
                raise field_error("file_specifications", f"Item {index}: file_type: a string.")
        kind = KINDS["data_collections"]
        everything = self.store.select(kind, Query(), limit=10**9, offset=0)
        taken = {
            spec.get("id")
            for collection in everything
            for spec in collection.get("file_specifications", [])
            if isinstance(spec, dict)
        }
        next_id = max((i for i in taken if isinstance(i, int)), default=0) + 1
        checked = []
        for spec in specs:
            if not isinstance(spec.get("id"), int) or spec["id"] in taken:
                spec = {**spec, "id": next_id}
                next_id += 1
            taken.add(spec["id"])
            checked.append(spec)
        return checked
