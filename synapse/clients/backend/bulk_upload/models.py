"""Answers of the presigned bulk upload (``data_files/presigned_upload/...``)."""

from __future__ import annotations

from synapse.clients.backend.models import ResponseModel

__all__ = [
    "DEFAULT_PART_SIZE",
    "PRESIGNED_PROVIDERS",
    "ConfirmFileResult",
    "ConfirmUploadResponse",
    "MultipartUploadInfo",
    "PresignedFileInfo",
    "PresignedUploadPart",
    "PresignedUploadResponse",
    "PresignedUploadResult",
]

#: Storage providers whose files can be put straight to a presigned URL.
PRESIGNED_PROVIDERS = frozenset({"amazon_s3", "s3", "minio", "gcp", "gcs", "azure"})
DEFAULT_PART_SIZE = 100 * 1024 * 1024


class PresignedUploadPart(ResponseModel):
    part_number: int
    presigned_url: str


class MultipartUploadInfo(ResponseModel):
    upload_id: str
    part_size: int
    parts: list[PresignedUploadPart]


class PresignedFileInfo(ResponseModel):
    filename: str
    file_key: str
    presigned_url: str | None = None
    multipart: MultipartUploadInfo | None = None


class PresignedUploadResponse(ResponseModel):
    files: list[PresignedFileInfo]
    expires_at: str


class ConfirmFileResult(ResponseModel):
    file_key: str
    checksum: str
    data_file_id: int | None = None
    success: bool
    error: str | None = None


class ConfirmUploadResponse(ResponseModel):
    results: list[ConfirmFileResult]
    created_count: int
    failed_count: int


class PresignedUploadResult(ResponseModel):
    checksum: str
    size: int
