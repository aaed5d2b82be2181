"""Data collections, files and units (protocol sections 3.3, 4.2, 4.5, 8.9-8.11)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from synapse.errors import ClientError
from synapse.managers import BulkItem, BulkReport, CreateMixin, GetMixin, ListMixin, batched
from synapse.query import FilterSet, QuerySet
from synapse.resources.base import JsonDict, Relation, Resource

__all__ = [
    "DataCollection",
    "DataCollectionManager",
    "DataFile",
    "DataFileManager",
    "DataUnit",
    "DataUnitManager",
    "FileSpecification",
]


class FileSpecification(BaseModel):
    """One kind of file a data unit of a collection holds (``image_1``, ``meta``...)."""

    model_config = ConfigDict(extra="allow")

    id: int | None = None
    name: str | None = None
    is_required: bool = False
    is_primary: bool = False
    file_type: str | None = None
    extensions: list[str] | None = None
    description: str | None = None
    index: int | None = None


class DataCollection(Resource):
    """A collection of data units sharing file specifications."""

    _path = "data_collections/"
    _manager_name = "data_collections"
    _repr_fields = ("id", "name")
    _read_only = Resource._read_only | {"count_projects", "category_display", "tenant_id"}

    name: str | None = None
    description: str | None = None
    category: str | None = None
    meta: JsonDict | None = None
    is_archived: bool | None = None
    file_specifications: list[FileSpecification] = Field(default_factory=list)
    created: datetime | None = None

    @field_validator("file_specifications", mode="before")
    @classmethod
    def _ids_to_specs(cls, value: Any) -> Any:
        # Unexpanded answers list the specifications' ids only.
        if isinstance(value, list):
            return [{"id": v} if isinstance(v, int) else v for v in value]
        return value

    @property
    def data_units(self) -> QuerySet[DataUnit]:
        """This collection's data units (lazy)."""
        manager: DataUnitManager = self._bound_client().data_units
        return manager.filter(data_collection=self)

    def specification(self, name: str) -> FileSpecification | None:
        """The file specification called ``name``, if any."""
        return next((s for s in self.file_specifications if s.name == name), None)


class DataFile(Resource):
    """An uploaded file, known by its checksum."""

    _path = "data_files/"
    _manager_name = "data_files"
    _repr_fields = ("id", "checksum", "size")

    checksum: str | None = None
    file: str | None = None
    size: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DataUnit(Resource):
    """A set of files (one per specification) with metadata: what a task shows."""

    _path = "data_units/"
    _manager_name = "data_units"
    _repr_fields = ("id", "data_collection_id")

    data_collection_id: int | None = Field(None, alias="data_collection")
    meta: JsonDict | None = None
    files: dict[str, JsonValue] | None = None
    groups: list[str] | None = None
    created: datetime | None = None

    data_collection = Relation[DataCollection]("data_collection_id", "data_collections")


# --------------------------------------------------------------------------- managers


class DataCollectionManager(
    GetMixin[DataCollection], ListMixin[DataCollection], CreateMixin[DataCollection]
):
    """``client.data_collections``; answers include the file specifications."""

    resource = DataCollection
    path = "data_collections/"
    default_expand = ("file_specifications",)


class DataFileManager(CreateMixin[DataFile]):
    """``client.data_files``."""

    resource = DataFile
    path = "data_files/"

    def create(self, file: str | os.PathLike[str], **fields: Any) -> DataFile:  # type: ignore[override]
        """Upload a local file as a data file (multipart)."""
        answer = self.client.transport.request(
            "POST", self.path, data=fields or None, files={"file": file}
        )
        return self._build(answer)

    def verify_checksums(self, checksums: Iterable[str]) -> list[str]:
        """Which of these checksums the backend already stores."""
        answer = self.client.transport.request(
            "POST", "data_files/verify_checksums/", data={"checksums": list(checksums)}
        )
        found = answer.get("existing_checksums", []) if isinstance(answer, Mapping) else answer
        return [str(c) for c in found or []]


class DataUnitManager(GetMixin[DataUnit], ListMixin[DataUnit], CreateMixin[DataUnit]):
    """``client.data_units``; ``bulk_create`` sends each batch as one list."""

    resource = DataUnit
    path = "data_units/"
    # protocol 8.11: data_collection is the natural filter (inferred, not in the package)
    filters = FilterSet({"data_collection": "id"})

    def create_many(self, items: list[Mapping[str, Any]]) -> list[DataUnit]:
        """POST a list of units in one request; accepts either answer shape."""
        bodies = [self._body(item) for item in items]
        answer = self.client.transport.request("POST", self.path, data=bodies)
        rows = answer.get("results", [answer]) if isinstance(answer, Mapping) else answer
        return [self._build(row) for row in rows]

    def bulk_create(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = 1000
    ) -> BulkReport[DataUnit]:
        """Create units in batches of one request each; a failed batch is reported."""
        indexed = list(enumerate(items))
        report: BulkReport[DataUnit] = BulkReport()
        for batch in batched(indexed, batch_size):
            entries = [BulkItem[DataUnit](index, item) for index, item in batch]
            try:
                created = self.create_many([item for _, item in batch])
                for entry, unit in zip(entries, created, strict=False):
                    entry.result = unit
            except ClientError as exc:
                for entry in entries:
                    entry.error = exc
            report.items.extend(entries)
        return report
