from __future__ import annotations

import json

import pytest

from synapse import InvalidInputError, JobStatus, StorageCategory, StorageProvider
from synapse.enums import parse_enum, require_enum


def test_members_equal_their_wire_strings() -> None:
    assert StorageProvider.AMAZON_S3 == "amazon_s3"
    assert StorageCategory.INTERNAL == "internal"
    assert JobStatus.SUCCEEDED == "SUCCEEDED"
    assert str(StorageProvider.FILE_SYSTEM) == "file_system"
    assert json.dumps({"p": StorageProvider.GCP}) == '{"p": "gcp"}'
    assert [m.value for m in StorageProvider] == [
        "amazon_s3", "azure", "digital_ocean", "file_system", "ftp",
        "sftp", "minio", "gcp", "synology", "smb",
    ]  # fmt: skip
    assert [m.value for m in JobStatus] == ["PENDING", "RUNNING", "STOPPED", "SUCCEEDED", "FAILED"]


def test_unknown_server_values_are_tolerated() -> None:
    assert parse_enum(StorageProvider, "s3") == "s3"
    assert parse_enum(StorageProvider, "minio") is StorageProvider.MINIO


def test_caller_values_are_strict() -> None:
    assert require_enum(StorageProvider, "azure") is StorageProvider.AZURE
    with pytest.raises(InvalidInputError, match="provider must be one of"):
        require_enum(StorageProvider, "amazon-s3", field="provider")


def test_job_status_knows_when_finished() -> None:
    assert JobStatus.FAILED.is_finished
    assert not JobStatus.RUNNING.is_finished
