"""Models and ground truth."""

from __future__ import annotations

import os
from collections.abc import Generator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import JsonValue

from synapse.context import awaiting
from synapse.downloads import download
from synapse.errors import InvalidInputError
from synapse.managers import CreateMixin, DeleteMixin, GetMixin, ListMixin, UpdateMixin
from synapse.paths import names_folder, path_inside, safe_component, url_basename
from synapse.resources.base import (
    JsonDict,
    Relation,
    Resource,
    related_id,
)
from synapse.steps import Pause, Send, Wait, drive
from synapse.uploads import ChunkedUploader, ProgressCallback

if TYPE_CHECKING:  # (named in quotes by the relations: their family loads lazily)
    from synapse.resources.data import DataUnit  # noqa: F401

__all__ = [
    "GroundTruth",
    "GroundTruthDatasetVersion",
    "GroundTruthEvent",
    "GroundTruthEventManager",
    "GroundTruthManager",
    "GroundTruthVersionManager",
    "Model",
    "ModelManager",
]


class Model(Resource):
    """A trained model; its ``file`` is a URL to the archive."""

    _repr_fields = ("id", "name", "version")
    _read_only = Resource._read_only | {"file", "is_released", "tenant_id"}

    name: str | None = None
    description: str | None = None
    category: str | None = None
    project_id: int | None = related_id("project")
    plugin: str | None = None
    version: str | None = None
    checkpoint: int | None = None
    configuration: JsonDict | None = None
    file: str | None = None
    created: datetime | None = None

    def download(self, dest: str | os.PathLike[str]) -> Path:
        """Download the model's file; ``dest`` is a file path, or a folder (one that
        exists, or written with a trailing ``/``: made when missing).

        In a folder, the file is named after the URL's last segment, reduced to one safe
        path component: the server's URL cannot make it land elsewhere.
        """
        return download(self._bound_client().transport, *self._download_target(dest))

    async def adownload(self, dest: str | os.PathLike[str]) -> Path:
        """`download()` awaited (a Model loaded by an ``AsyncClient``)."""
        client = awaiting(self._bound_client(), "adownload")
        path: Path = await client.download(*self._download_target(dest))
        return path

    def _download_target(self, dest: str | os.PathLike[str]) -> tuple[str, Path]:
        """The file's URL and the path it is written to (checked before sending)."""
        if not self.file:
            raise InvalidInputError(f"model {self.id} has no file")
        target = Path(dest)
        if names_folder(dest):
            try:
                target.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise InvalidInputError(
                    f"cannot download into {dest}: a file stands where the folder should be"
                ) from None
            name = safe_component(url_basename(self.file), f"model-{self.id}")
            target = path_inside(target, name)
        return self.file, target


class GroundTruthEvent(Resource):
    """One event in a ground truth's history; ``pgh_id`` identifies it."""

    _repr_fields = ("pgh_id", "id", "category")
    _pk_field = "pgh_id"

    pgh_id: int | None = None
    category: str | None = None
    data: JsonValue = None
    files: dict[str, JsonValue] | None = None
    task: int | None = None
    data_unit_id: int | None = related_id("data_unit")
    ground_truth_dataset_versions: list[int] | None = None

    data_unit = Relation["DataUnit"]("data_unit_id")


class GroundTruth(Resource):
    """A ground-truth record of a dataset."""

    _repr_fields = ("id", "category")

    category: str | None = None
    data: JsonValue = None
    files: dict[str, JsonValue] | None = None
    ground_truth_dataset: int | None = None
    ground_truth_dataset_versions: list[int] | None = None
    data_unit_id: int | None = related_id("data_unit")

    data_unit = Relation["DataUnit"]("data_unit_id")


class GroundTruthDatasetVersion(Resource):
    """A frozen version of a ground-truth dataset."""

    _repr_fields = ("id", "version")

    ground_truth_dataset: JsonValue = None
    version: str | None = None
    description: str | None = None
    is_archived: bool | None = None
    created: datetime | None = None


class ModelManager(
    GetMixin[Model],
    ListMixin[Model],
    CreateMixin[Model],
    UpdateMixin[Model],
    DeleteMixin[Model],
):
    """``client.models``."""

    name = "models"

    def create(
        self,
        *,
        file: str | os.PathLike[str] | None = None,
        progress: bool = False,
        on_progress: ProgressCallback | None = None,
        **fields: Any,
    ) -> Model:
        """Create a model; a ``file`` goes up with the chunked upload first."""
        steps = self._create_steps(file=file, progress=progress, on_progress=on_progress, **fields)
        return self._build(drive(self.client.transport, steps))

    def _create_steps(
        self,
        *,
        file: str | os.PathLike[str] | None = None,
        progress: bool = False,
        on_progress: ProgressCallback | None = None,
        **fields: Any,
    ) -> Generator[Send | Wait | Pause, Any, Any]:
        """The creation as steps for either client's driver (everything checked now):
        the file's chunked upload, then the POST that names it."""
        fields = self._checked_names(fields, warn=False)  # (`_body` warns, below)
        if not fields.get("name"):
            raise InvalidInputError("a model needs name=")
        body = self._body(fields)
        upload = None
        if file is not None:
            uploader = ChunkedUploader(self.client.transport)
            upload = uploader.steps(file, progress=progress, on_progress=on_progress)
        return self._posted(body, upload)

    def _posted(
        self,
        body: dict[str, Any],
        upload: Generator[Send | Wait | Pause, Any, dict[str, Any]] | None,
    ) -> Generator[Send | Wait | Pause, Any, Any]:
        if upload is not None:
            body["chunked_upload"] = (yield from upload)["id"]
        return (yield Send(self._create_call(body)))


class GroundTruthEventManager(ListMixin[GroundTruthEvent]):
    """``client.ground_truth_events``: listed through ``sdk/ground_truth_events/``."""

    name = "ground_truth_events"


class GroundTruthManager(ListMixin[GroundTruth]):
    """``client.ground_truths``."""

    name = "ground_truths"


class GroundTruthVersionManager(
    GetMixin[GroundTruthDatasetVersion], ListMixin[GroundTruthDatasetVersion]
):
    """``client.ground_truth_versions``."""

    name = "ground_truth_versions"
