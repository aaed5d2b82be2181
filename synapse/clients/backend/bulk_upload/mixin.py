"""``BulkUploadClientMixin``: the default storage, and the presigned bulk upload: ask
for signed URLs by batch, PUT each file to its URL on a thread pool, confirm the uploads,
get one data file per file."""

from __future__ import annotations

import hashlib
import mimetypes
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from synapse.clients.backend.core import CoreClientMixin
from synapse.encoding import check_readable
from synapse.errors import ClientError, InvalidInputError

if TYPE_CHECKING:
    from synapse.clients.backend.bulk_upload.models import (
        ConfirmUploadResponse,
        PresignedUploadResponse,
        PresignedUploadResult,
    )

__all__ = ["BulkUploadClientMixin"]

UPLOAD_PATH = "data_files/presigned_upload/upload/"
CONFIRM_PATH = "data_files/presigned_upload/confirm_upload/"
API_READ_TIMEOUT = 120.0
PUT_TIMEOUT = 300.0
EXPIRATION = 3600
READ_BLOCK = 1 << 20


def _limit(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(f"{name} must be an int from {low} to {high}, got {value!r}")
    return value


class _FileBody:
    """A file's bytes for one PUT, read in blocks; its length is known (storages need a
    Content-Length)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self._file: Any = None

    def __len__(self) -> int:
        return self.size

    def read(self, size: int | None = -1) -> bytes:
        if self._file is None:
            self._file = open(self.path, "rb")  # noqa: SIM115 - closed at the end
        block: bytes = self._file.read(READ_BLOCK if size is None or size < 0 else size)
        if not block:
            self._file.close()
        return block


def _sha1(path: Path) -> str:
    digest = hashlib.sha1()  # the checksum the confirm step takes
    with open(path, "rb") as file:
        while block := file.read(READ_BLOCK):
            digest.update(block)
    return digest.hexdigest()


class BulkUploadClientMixin(CoreClientMixin):
    def get_default_storage(self) -> dict[str, Any]:
        """The internal storage flagged ``is_default``, else the first internal one
        (``GET storages/?category=internal``; a page or a bare list is accepted)."""
        answer = self._get("storages/", params={"category": "internal"})
        items = answer.get("results") if isinstance(answer, Mapping) else answer
        if not isinstance(items, list):
            raise ClientError(f"expected a list of storages, got {type(answer).__name__}")
        storages = [item for item in items if isinstance(item, Mapping)]
        if not storages:
            raise ValueError("the backend has no internal storage")
        chosen = next((s for s in storages if s.get("is_default") is True), storages[0])
        return dict(chosen)

    def upload_files_bulk(
        self,
        file_paths: Iterable[str | os.PathLike[str]],
        *,
        max_workers: int = 10,
        on_progress: Callable[[int, int], None] | None = None,
        batch_size: int = 200,
        max_upload_retries: int = 2,
        strategy: str | None = None,
    ) -> ConfirmUploadResponse:
        """Upload files straight to the storage with presigned URLs; one data file each.

        Without ``strategy`` the default storage must take presigned uploads (S3, MinIO,
        GCS, Azure); ``strategy="presigned"`` skips that check. The answer lists every
        file by its local path, failures included; ``on_progress(done, total)`` per file.
        """
        from synapse.clients.backend.bulk_upload.models import (
            PRESIGNED_PROVIDERS,
            ConfirmFileResult,
            ConfirmUploadResponse,
        )

        _limit("max_workers", max_workers, 1, 100)
        _limit("batch_size", batch_size, 1, 1000)
        _limit("max_upload_retries", max_upload_retries, 0, 10)
        paths = [check_readable(p) for p in file_paths]
        if strategy is None:
            provider = str(self.get_default_storage().get("provider", "")).lower()
            if provider not in PRESIGNED_PROVIDERS:
                raise InvalidInputError(
                    f"the default storage ({provider!r}) takes no presigned uploads; "
                    "upload with create_data_file, or pass strategy='presigned'"
                )
        elif strategy != "presigned":
            raise InvalidInputError(f"unknown bulk upload strategy {strategy!r}: 'presigned'")
        results: list[ConfirmFileResult] = []
        done = 0
        for start in range(0, len(paths), batch_size):
            batch = paths[start : start + batch_size]
            presigned = self._presign(batch, EXPIRATION)
            with ThreadPoolExecutor(min(max_workers, len(batch))) as pool:
                outcomes = list(
                    pool.map(
                        lambda pair: self._put_one(pair[0], pair[1], max_upload_retries),
                        zip(batch, presigned.files, strict=True),
                    )
                )
            sent = [o for o in outcomes if "error" not in o]
            by_key = {o["file_key"]: o["path"] for o in sent}
            if sent:
                body = [{k: o[k] for k in ("file_key", "checksum", "size")} for o in sent]
                confirmed = self._confirm(body)
                for result in confirmed.results:
                    local = by_key.get(result.file_key, result.file_key)
                    results.append(result.model_copy(update={"file_key": local}))
            results.extend(
                ConfirmFileResult(file_key=o["path"], checksum="", success=False, error=o["error"])
                for o in outcomes
                if "error" in o
            )
            done += len(batch)
            if on_progress is not None:
                on_progress(done, len(paths))
        created = sum(1 for r in results if r.success)
        return ConfirmUploadResponse(
            results=results, created_count=created, failed_count=len(results) - created
        )

    def _presign(self, batch: Sequence[Path], expiration: int) -> PresignedUploadResponse:
        from synapse.clients.backend.bulk_upload.models import PresignedUploadResponse

        files = [
            {"filename": p.name, "size": p.stat().st_size,
             "content_type": mimetypes.guess_type(p.name)[0]}
            for p in batch
        ]  # fmt: skip
        answer = self.transport.request(
            "POST",
            UPLOAD_PATH,
            data={"files": files, "expiration": expiration},
            timeout=(self.transport.config.timeout.connect, API_READ_TIMEOUT),
        )
        presigned = PresignedUploadResponse.model_validate(answer)
        if len(presigned.files) != len(batch):
            raise ClientError(
                f"asked URLs for {len(batch)} files, the server gave {len(presigned.files)}"
            )
        return presigned

    def _confirm(self, files: list[dict[str, Any]]) -> ConfirmUploadResponse:
        from synapse.clients.backend.bulk_upload.models import ConfirmUploadResponse

        answer = self.transport.request(
            "POST",
            CONFIRM_PATH,
            data={"files": files},
            timeout=(self.transport.config.timeout.connect, API_READ_TIMEOUT),
        )
        return ConfirmUploadResponse.model_validate(answer)

    def _put_one(self, path: Path, info: Any, retries: int) -> dict[str, Any]:
        """PUT one file to its presigned URL (retried by the transport's policy)."""
        if info.presigned_url is None:
            return {"path": str(path), "error": "multipart presigned uploads are not supported"}
        try:
            result = self.upload_file_to_presigned_url(
                info.presigned_url, path, _retries=retries, _warn=False
            )
        except ClientError as exc:
            return {"path": str(path), "error": str(exc)}
        return {
            "path": str(path), "file_key": info.file_key,
            "checksum": result.checksum, "size": result.size,
        }  # fmt: skip

    # ------------------------------------------------------------------ deprecated steps

    def request_presigned_upload(
        self, files: Sequence[Mapping[str, Any]], *, expiration: int = EXPIRATION
    ) -> PresignedUploadResponse:
        """Deprecated (use `upload_files_bulk`): POST the presign request as given."""
        from synapse.clients.backend.bulk_upload.models import PresignedUploadResponse

        warnings.warn("use upload_files_bulk", DeprecationWarning, stacklevel=2)
        _limit("expiration", expiration, 60, 86400)
        answer = self.transport.request(
            "POST", UPLOAD_PATH, data={"files": [dict(f) for f in files], "expiration": expiration}
        )
        return PresignedUploadResponse.model_validate(answer)

    def confirm_presigned_upload(self, files: Sequence[Mapping[str, Any]]) -> ConfirmUploadResponse:
        """Deprecated (use `upload_files_bulk`): POST the confirm request as given."""
        warnings.warn("use upload_files_bulk", DeprecationWarning, stacklevel=2)
        return self._confirm([dict(f) for f in files])

    def upload_file_to_presigned_url(
        self,
        presigned_url: str,
        file_path: str | os.PathLike[str],
        content_type: str | None = None,
        *,
        _retries: int = 2,
        _warn: bool = True,
    ) -> PresignedUploadResult:
        """Deprecated (use `upload_files_bulk`): PUT a file's bytes to a presigned URL;
        its SHA-1 and size."""
        from synapse.clients.backend.bulk_upload.models import PresignedUploadResult

        if _warn:
            warnings.warn("use upload_files_bulk", DeprecationWarning, stacklevel=2)
        path = check_readable(file_path)
        mime = content_type or mimetypes.guess_type(path.name)[0]
        self.transport.send(
            "PUT",
            presigned_url,
            body=lambda: _FileBody(path),
            headers={"Content-Type": mime} if mime else {},
            timeout=PUT_TIMEOUT,
            max_retries=_retries,
        ).close()
        return PresignedUploadResult(checksum=_sha1(path), size=path.stat().st_size)
