"""The chunked upload protocol's server side, and media downloads with ``Range``
(protocol 4.1; faults: dropped chunks, downloads cut mid-body)."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import Response

from synapse.local.core import BackendCore
from synapse.local.faults import DROP
from synapse.local.http import ApiError, _base, _json, field_error, not_found, safe_filename
from synapse.local.store import now_iso

__all__ = ["TransferHandlers"]


class TransferHandlers(BackendCore):
    """``chunked_upload/`` PUTs, state and finalize; ``media/`` with byte ranges."""

    def load_upload(self, upload_id: str) -> dict[str, Any]:
        """A chunked upload's state, or a 404."""
        found = self.store.get_upload(upload_id)
        if found is None:
            raise not_found()
        return found

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
            upload = self.load_upload(upload_id)
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
        return _json(self.upload_state(request, self.load_upload(upload_id)))

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
            upload = self.load_upload(upload_id)
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
