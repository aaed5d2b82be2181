"""Data collections, files and units."""

from __future__ import annotations

import difflib
import os
from collections.abc import Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, field_validator

from synapse.config import TimeoutLike
from synapse.context import awaiting
from synapse.downloads import download
from synapse.encoding import check_readable, set_for_dict
from synapse.errors import ClientError, InvalidInputError
from synapse.executors import check_count, using
from synapse.managers import (
    BulkItem,
    BulkReport,
    CreateMixin,
    DeleteMixin,
    GetMixin,
    ListMixin,
    UpdateMixin,
    batched,
    bulk_in_batches,
    settle,
)
from synapse.paths import path_inside, safe_component, unique_path, url_basename
from synapse.query import QuerySet
from synapse.resources.base import (
    JsonDict,
    Relation,
    Resource,
    related_id,
)
from synapse.steps import Each, Pause, Send, Wait, drive, sent
from synapse.transport import Call
from synapse.uploads import DEFAULT_CHUNK_SIZE, ChunkedUploader, ProgressCallback

if TYPE_CHECKING:
    from synapse.context import Context

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

    model_config = ConfigDict(extra="allow", defer_build=True)

    id: int | None = None
    name: str | None = None
    is_required: bool = False
    is_primary: bool = False
    file_type: str | None = None
    extensions: list[str] | None = None
    description: str | None = None
    index: int | None = None


#: Data units per creation request in ``bulk_create`` and ``upload_many``.
UNIT_BATCH = 1000
#: Files uploaded at once by ``upload_many`` (threads) and its awaited twin (tasks).
UPLOAD_WORKERS = 8


class DataCollection(Resource):
    """A collection of data units sharing file specifications."""

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
        manager: DataUnitManager = self._bound_client().manager_for(DataUnit)
        return manager.filter(data_collection=self)

    def specification(self, name: str) -> FileSpecification | None:
        """The file specification called ``name``, if any."""
        return next((s for s in self.file_specifications if s.name == name), None)

    def check_files(self, files: Mapping[str, str | os.PathLike[str]]) -> dict[str, Path]:
        """Check a unit's files against the specifications: raises before any upload."""
        specs = drive(self._bound_client().transport, self._specifications())
        return self._checked(specs, files)

    async def acheck_files(self, files: Mapping[str, str | os.PathLike[str]]) -> dict[str, Path]:
        """`check_files()` awaited (a collection loaded by an ``AsyncClient``: it may
        fetch the specifications)."""
        client = awaiting(self._bound_client(), "acheck_files")
        return self._checked(await client._adrive(self._specifications()), files)

    def _specifications(self) -> Generator[Any, Any, list[FileSpecification]]:
        """The file specifications with their names: this object's, or (when it was
        listed with their ids only) the collection fetched once, as steps."""
        specs = self.file_specifications
        if not specs or any(s.name is None for s in specs):
            collection: DataCollection = yield from self._manager()._get_steps(self.pk)
            specs = collection.file_specifications
        return specs

    def _checked(
        self, specs: Sequence[FileSpecification], files: Mapping[str, str | os.PathLike[str]]
    ) -> dict[str, Path]:
        known = {s.name: s for s in specs if s.name}
        unknown = sorted(set(files) - set(known))
        if unknown:
            raise InvalidInputError(
                f"unknown file specification(s) {unknown} for collection {self.id}; "
                f"known: {sorted(known)}"
            )
        missing = sorted(n for n, s in known.items() if s.is_required and n not in files)
        if missing:
            raise InvalidInputError(f"missing required file specification(s) {missing}")
        return {name: check_readable(path) for name, path in files.items()}

    def upload(
        self,
        files: Mapping[str, str | os.PathLike[str]],
        meta: Mapping[str, Any] | None = None,
        groups: str | list[str] | None = None,
        *,
        chunked: bool | None = None,
        progress: bool = False,
    ) -> DataUnit:
        """Upload one file per specification and create the data unit holding them."""
        units: DataUnitManager = self._bound_client().manager_for(DataUnit)
        checked = self.check_files(files)
        payload = units.upload_payload(
            self.id, checked, meta, groups, chunked=chunked, progress=progress
        )
        return units.create_many([payload])[0]

    async def aupload(
        self,
        files: Mapping[str, str | os.PathLike[str]],
        meta: Mapping[str, Any] | None = None,
        groups: str | list[str] | None = None,
        *,
        chunked: bool | None = None,
        progress: bool = False,
    ) -> DataUnit:
        """`upload` awaited (a collection loaded by an ``AsyncClient``): the same
        steps, each one's twin."""
        checked = await self.acheck_files(files)
        units = awaiting(self._bound_client(), "aupload").manager_for(DataUnit)
        payload = await units.aupload_payload(
            self.id, checked, meta, groups, chunked=chunked, progress=progress
        )
        made: list[DataUnit] = await units.acreate_many([payload])
        return made[0]

    def upload_many(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        project: int | Resource | None = None,
        batch_size: int = UNIT_BATCH,
        max_workers: int = UPLOAD_WORKERS,
        chunked: bool | None = None,
        executor: Any = None,
    ) -> UploadReport:
        """Upload many units: ``items`` are ``{"files": {...}, "meta": ..., "groups": ...}``.

        Files upload in parallel (``max_workers`` threads, or on ``executor``: any
        ``concurrent.futures.Executor`` or a ``dask.distributed.Client``, whose workers
        must see the files at the same paths), units are created ``batch_size`` at a
        time, and tasks are created in ``project`` if given. Every item gets a line in the
        report; a failure never stops the others.
        """
        return _upload_many(self, items, project, batch_size, max_workers, chunked, executor)

    async def aupload_many(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        project: int | Resource | None = None,
        batch_size: int = UNIT_BATCH,
        concurrency: int = UPLOAD_WORKERS,
        chunked: bool | None = None,
    ) -> UploadReport:
        """`upload_many` awaited (a collection loaded by an ``AsyncClient``): the same
        steps, on the event loop with no worker thread; the files of up to
        ``concurrency`` units upload at once. Cancelling it, or the client's
        ``aclose()``, stops it at once: nothing is sent after."""
        check_count("concurrency", concurrency)
        client = self._amanager("aupload_many").client
        steps = _upload_many_steps(self, items, project, batch_size, chunked)
        report: UploadReport = await client._adrive(steps, limit=concurrency)
        return report


@dataclass
class UploadItem:
    """One item of ``upload_many``: its data unit and task, or the error that stopped it."""

    index: int
    item: Mapping[str, Any]
    data_unit: DataUnit | None = None
    task: Resource | None = None  # the Task made for the unit, when a project was given
    #: What stopped this item: a `ClientError`, or any other exception (a file gone).
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class UploadReport:
    """Per-item outcome of ``upload_many``."""

    items: list[UploadItem] = field(default_factory=list)

    @property
    def succeeded(self) -> list[UploadItem]:
        return [i for i in self.items if i.ok]

    @property
    def failed(self) -> list[UploadItem]:
        return [i for i in self.items if not i.ok]

    @property
    def ok(self) -> bool:
        return not self.failed

    def __repr__(self) -> str:
        return f"<UploadReport {len(self.succeeded)} uploaded, {len(self.failed)} failed>"


class DataFile(Resource):
    """An uploaded file, known by its checksum."""

    _repr_fields = ("id", "checksum", "size")

    checksum: str | None = None
    file: str | None = None
    size: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class DataUnit(Resource):
    """A set of files (one per specification) with metadata: what a task shows."""

    def download(self, dest: str | os.PathLike[str]) -> dict[str, Path]:
        """Download each file into ``dest/<specification>/<original name>``.

        Specification and file names come from the server, so each is reduced to one safe
        path component (`safe_component()`): nothing is written outside
        ``dest``, whatever the names say. Two files whose names reduce alike get distinct
        names rather than overwriting each other.
        """
        transport = self._bound_client().transport
        return {
            name: download(transport, url, target, size=size, checksum=checksum)
            for name, (url, target, size, checksum) in self._downloads(dest).items()
        }

    async def adownload(self, dest: str | os.PathLike[str]) -> dict[str, Path]:
        """`download()` awaited (a unit loaded by an ``AsyncClient``), one file at a time."""
        client = awaiting(self._bound_client(), "adownload")
        return {
            name: await client.download(url, target, size=size, checksum=checksum)
            for name, (url, target, size, checksum) in self._downloads(dest).items()
        }

    def _downloads(
        self, dest: str | os.PathLike[str]
    ) -> dict[str, tuple[str, Path, int | None, str | None]]:
        """Each file's ``(url, target, size, checksum)`` by specification: where
        `download` and its twin put it."""
        planned: dict[str, tuple[str, Path, int | None, str | None]] = {}
        taken: set[Path] = set()
        for name, entry in (self.files or {}).items():
            if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
                continue
            url = str(entry["url"])
            original = entry.get("file_name_original") or url_basename(url)
            target = unique_path(
                path_inside(dest, safe_component(name, "spec"), safe_component(original)), taken
            )
            taken.add(target)
            size, checksum = entry.get("size"), entry.get("checksum")
            planned[name] = (
                url,
                target,
                size if isinstance(size, int) and not isinstance(size, bool) else None,
                checksum if isinstance(checksum, str) else None,
            )
        return planned

    _repr_fields = ("id", "data_collection_id")

    data_collection_id: int | None = related_id("data_collection")
    meta: JsonDict | None = None
    files: dict[str, JsonValue] | None = None
    groups: list[str] | None = None
    created: datetime | None = None

    data_collection = Relation["DataCollection"]("data_collection_id")


# --------------------------------------------------------------------------- managers


class DataCollectionManager(
    GetMixin[DataCollection],
    ListMixin[DataCollection],
    CreateMixin[DataCollection],
    UpdateMixin[DataCollection],
    DeleteMixin[DataCollection],
):
    """``client.data_collections``; answers include the file specifications."""

    name = "data_collections"


class DataFileManager(GetMixin[DataFile], CreateMixin[DataFile]):
    """``client.data_files``."""

    name = "data_files"

    def create(  # type: ignore[override]
        self,
        file: str | os.PathLike[str],
        *,
        chunked: bool | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: bool = False,
        on_progress: ProgressCallback | None = None,
        resume: bool | None = None,
        timeout: TimeoutLike | None = None,
    ) -> DataFile:
        """Upload a local file as a data file.

        Files larger than ``chunk_size`` (50 MiB) go through the resumable chunked upload,
        smaller ones as one multipart POST; ``chunked`` forces either way. ``timeout``
        applies to every request of the upload (the older ``read_timeout``).
        """
        steps = self._create_steps(
            file, chunked=chunked, chunk_size=chunk_size, progress=progress,
            on_progress=on_progress, resume=resume, timeout=timeout,
        )  # fmt: skip
        return self._build(drive(self.client.transport, steps))

    def _create_steps(
        self,
        file: str | os.PathLike[str],
        *,
        chunked: bool | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        progress: bool = False,
        on_progress: ProgressCallback | None = None,
        resume: bool | None = None,
        timeout: TimeoutLike | None = None,
    ) -> Generator[Send | Wait | Pause, Any, Any]:
        """The upload of one file as steps (the file checked now), for either client's
        driver: the chunked upload then the POST that makes the data file from it, or one
        multipart POST. The server's answer is the data file's JSON."""
        path = check_readable(file)
        size = path.stat().st_size
        if chunked is None:
            chunked = size > chunk_size
        upload = None
        if chunked:
            uploader = ChunkedUploader(self.client.transport, chunk_size=chunk_size)
            upload = uploader.steps(
                path, resume=resume, on_progress=on_progress, progress=progress, timeout=timeout
            )
        return self._made_from(path, size, upload, on_progress, timeout)

    def _made_from(
        self,
        path: Path,
        size: int,
        upload: Generator[Send | Wait | Pause, Any, dict[str, Any]] | None,
        on_progress: ProgressCallback | None,
        timeout: TimeoutLike | None,
    ) -> Generator[Send | Wait | Pause, Any, Any]:
        if upload is not None:
            done = yield from upload
            data = {"chunked_upload": done["id"]}
            return (yield Send(self._create_call(data, timeout=timeout)))
        answer = yield Send(self._create_call(files={"file": path}, timeout=timeout))
        if on_progress is not None:
            on_progress(size, size)
        return answer

    def upload_many(
        self,
        files: Iterable[str | os.PathLike[str]],
        *,
        chunked: bool | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        executor: Any = None,
        max_workers: int = UPLOAD_WORKERS,
    ) -> BulkReport[DataFile]:
        """Upload many local files as data files, in parallel; each file's outcome is in
        the report (a failed file never stops the others).

        ``executor`` runs the uploads: any ``concurrent.futures.Executor`` (a process pool
        pickles the client to each process) or a ``dask.distributed.Client`` (each worker
        uploads with the pickled client, and must see the files at the same paths).
        Without one, a pool of ``max_workers`` threads. Each upload retries and resumes
        as [`create()`][synapse.resources.data.DataFileManager.create] does in-process.
        """
        steps = self._upload_many_steps(files, chunked, chunk_size)
        with using(executor, max_workers, "synapse-upload") as pool:
            return drive(self.client.transport, steps, pool)

    async def aupload_many(
        self,
        files: Iterable[str | os.PathLike[str]],
        *,
        chunked: bool | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        concurrency: int = UPLOAD_WORKERS,
    ) -> BulkReport[DataFile]:
        """`upload_many` awaited (``client.data_files`` of an ``AsyncClient``): the same
        steps on the event loop, up to ``concurrency`` files at once. Cancelling it, or
        the client's ``aclose()``, stops every upload at once."""
        client = awaiting(self.client, "aupload_many")
        check_count("concurrency", concurrency)
        steps = self._upload_many_steps(files, chunked, chunk_size)
        report: BulkReport[DataFile] = await client._adrive(steps, limit=concurrency)
        return report

    def _upload_many_steps(
        self, files: Iterable[str | os.PathLike[str]], chunked: bool | None, chunk_size: int
    ) -> Generator[Any, Any, BulkReport[DataFile]]:
        """``upload_many`` as steps for either client's driver (every path checked now,
        before anything is sent): the files at the same time (an `Each`)."""
        paths = [check_readable(f) for f in files]
        return self._uploaded_many(paths, chunked, chunk_size)

    def _uploaded_many(
        self, paths: list[Path], chunked: bool | None, chunk_size: int
    ) -> Generator[Any, Any, BulkReport[DataFile]]:
        calls = [(self.client, path, chunked, chunk_size) for path in paths]
        outcomes = (yield Each(data_file_steps, calls)) if calls else []
        report: BulkReport[DataFile] = BulkReport()
        for index, (path, (answer, error)) in enumerate(zip(paths, outcomes, strict=True)):
            entry: BulkItem[DataFile] = BulkItem(index, {"file": str(path)}, error=error)
            if error is None:
                try:
                    entry.result = self._build(answer)
                except ClientError as exc:
                    entry.error = exc
            report.items.append(entry)
        return report

    def verify_checksums(self, checksums: Iterable[str]) -> list[str]:
        """Which of these checksums the backend already stores."""
        return drive(self.client.transport, self._verify_checksums_steps(checksums))

    async def averify_checksums(self, checksums: Iterable[str]) -> list[str]:
        """`verify_checksums` awaited (an ``AsyncClient``'s manager)."""
        client = awaiting(self.client, "averify_checksums")
        found: list[str] = await client._adrive(self._verify_checksums_steps(checksums))
        return found

    def _verify_checksums_steps(self, checksums: Iterable[str]) -> Generator[Send, Any, list[str]]:
        answer = yield from sent(self._verify_checksums_call(checksums))
        found = answer.get("existing_checksums", []) if isinstance(answer, Mapping) else answer
        return [str(c) for c in found or []]

    def _verify_checksums_json(self, checksums: Iterable[str]) -> Any:
        """``POST data_files/verify_checksums/``, the answer as sent."""
        return self.client.transport.answer(self._verify_checksums_call(checksums))

    def _verify_checksums_call(self, checksums: Iterable[str]) -> Call:
        return Call("POST", "data_files/verify_checksums/", data={"checksums": list(checksums)})


def data_file_steps(
    client: Context, path: Path, chunked: bool | None, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> Generator[Any, Any, Any]:
    """The upload of one file as a data file with ``client`` (in whichever process or
    task runs it), as steps; the server's answer."""
    manager: DataFileManager = client.manager_for(DataFile)
    return manager._create_steps(path, chunked=chunked, chunk_size=chunk_size)


class DataUnitManager(
    GetMixin[DataUnit],
    ListMixin[DataUnit],
    CreateMixin[DataUnit],
    UpdateMixin[DataUnit],
    DeleteMixin[DataUnit],
):
    """``client.data_units``; ``bulk_create`` sends each batch as one list."""

    name = "data_units"

    def upload_payload(
        self,
        collection_id: int | None,
        files: Mapping[str, str | os.PathLike[str]],
        meta: Mapping[str, Any] | None = None,
        groups: str | list[str] | None = None,
        *,
        chunked: bool | None = None,
        progress: bool = False,
        timeout: TimeoutLike | None = None,
    ) -> dict[str, Any]:
        """Upload a unit's files; the ``data_units/`` payload naming them.

        ``groups`` go from the top level to the leaf; a single string is one group.
        """
        steps = self._payload_steps(
            collection_id, files, meta, groups, chunked=chunked, progress=progress, timeout=timeout
        )
        return drive(self.client.transport, steps)

    async def aupload_payload(
        self,
        collection_id: int | None,
        files: Mapping[str, str | os.PathLike[str]],
        meta: Mapping[str, Any] | None = None,
        groups: str | list[str] | None = None,
        *,
        chunked: bool | None = None,
        progress: bool = False,
        timeout: TimeoutLike | None = None,
    ) -> dict[str, Any]:
        """`upload_payload` awaited (an ``AsyncClient``'s manager)."""
        client = awaiting(self.client, "aupload_payload")
        steps = self._payload_steps(
            collection_id, files, meta, groups, chunked=chunked, progress=progress, timeout=timeout
        )
        payload: dict[str, Any] = await client._adrive(steps)
        return payload

    def _payload_steps(
        self,
        collection_id: int | None,
        files: Mapping[str, str | os.PathLike[str]],
        meta: Mapping[str, Any] | None = None,
        groups: str | list[str] | None = None,
        *,
        chunked: bool | None = None,
        progress: bool = False,
        timeout: TimeoutLike | None = None,
    ) -> Generator[Any, Any, dict[str, Any]]:
        """`upload_payload` as steps for either client's driver (the files checked now):
        each file's data file made in turn, then the payload."""
        for where, value in (("files", files), ("meta", meta)):
            if isinstance(value, (set, frozenset)):
                raise set_for_dict(where)
        paths = {name: check_readable(path) for name, path in files.items()}
        payload: dict[str, Any] = {"data_collection": collection_id, "meta": dict(meta or {})}
        group_list = [groups] if isinstance(groups, str) else list(groups or [])
        if group_list:
            payload["groups"] = group_list
        options = {"chunked": chunked, "progress": progress, "timeout": timeout}
        return self._uploaded(payload, paths, options)

    def _uploaded(
        self, payload: dict[str, Any], paths: Mapping[str, Path], options: Mapping[str, Any]
    ) -> Generator[Any, Any, dict[str, Any]]:
        data_files: DataFileManager = self.client.manager_for(DataFile)
        uploaded = {}
        for name, path in paths.items():
            data_file = data_files._build((yield from data_files._create_steps(path, **options)))
            uploaded[name] = {"checksum": data_file.checksum, "path": str(path)}
        return {**payload, "files": uploaded}

    def create_many(self, items: Sequence[Mapping[str, Any]]) -> list[DataUnit]:
        """POST a list of units in one request; accepts either answer shape."""
        return drive(self.client.transport, self._create_many_steps(items))

    async def acreate_many(self, items: Sequence[Mapping[str, Any]]) -> list[DataUnit]:
        """`create_many` awaited (an ``AsyncClient``'s manager)."""
        client = awaiting(self.client, "acreate_many")
        units: list[DataUnit] = await client._adrive(self._create_many_steps(items))
        return units

    def _create_many_steps(
        self, items: Sequence[Mapping[str, Any]]
    ) -> Generator[Any, Any, list[DataUnit]]:
        """`create_many` as steps for either client's driver (the bodies checked now)."""
        bodies = [self._body(item) for item in items]
        return self._built_rows(sent(self._create_call(bodies)))

    def bulk_create(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = UNIT_BATCH
    ) -> BulkReport[DataUnit]:
        """Create units in batches of one request each; a failed batch is reported."""
        return drive(self.client.transport, self._bulk_create_steps(items, batch_size=batch_size))

    def _bulk_create_steps(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = UNIT_BATCH
    ) -> Generator[Any, Any, BulkReport[DataUnit]]:
        """``bulk_create`` as steps for either client's driver."""
        batches = bulk_in_batches(list(enumerate(items)), batch_size, self._create_many_steps)
        return _reported(batches)


def _reported(
    batches: Generator[Any, Any, list[BulkItem[DataUnit]]],
) -> Generator[Any, Any, BulkReport[DataUnit]]:
    return BulkReport((yield from batches))


# ---------------------------------------------------------------- upload_many


def _unit(entry: UploadItem, unit: DataUnit) -> None:
    entry.data_unit = unit


def _task(entry: UploadItem, task: Resource) -> None:
    entry.task = task


#: One unit of ``upload_many``: ``(client, collection id, files, meta, groups, chunked)``.
UnitCall = tuple[Any, int | None, Mapping[str, Path], Mapping[str, Any] | None, Any, bool | None]


def unit_payload_steps(
    client: Context,
    collection_id: int | None,
    files: Mapping[str, Path],
    meta: Mapping[str, Any] | None,
    groups: str | list[str] | None,
    chunked: bool | None,
) -> Generator[Any, Any, dict[str, Any]]:
    """The upload of one unit's files with ``client``, as steps; the ``data_units/``
    payload naming them."""
    units: DataUnitManager = client.manager_for(DataUnit)
    return units._payload_steps(collection_id, files, meta, groups, chunked=chunked)


def _upload_many(
    collection: DataCollection,
    items: Iterable[Mapping[str, Any]],
    project: int | Resource | None,
    batch_size: int,
    max_workers: int,
    chunked: bool | None,
    executor: Any = None,
) -> UploadReport:
    """[`DataCollection.upload_many`][synapse.resources.data.DataCollection.upload_many]:
    its steps, with each batch's units uploaded on a pool (or ``executor``)."""
    check_count("max_workers", max_workers)
    steps = _upload_many_steps(collection, items, project, batch_size, chunked)
    with using(executor, max_workers, "synapse-upload") as pool:
        return drive(collection._bound_client().transport, steps, pool)


def _upload_many_steps(
    collection: DataCollection,
    items: Iterable[Mapping[str, Any]],
    project: int | Resource | None,
    batch_size: int,
    chunked: bool | None,
) -> Generator[Any, Any, UploadReport]:
    """``upload_many`` as steps for either client's driver (the arguments checked now):
    each batch's units' files at the same time (an `Each`), units by batches, then
    tasks in ``project`` if given."""
    check_count("batch_size", batch_size)
    project_id = project.pk if isinstance(project, Resource) else project
    if project_id is not None and (isinstance(project_id, bool) or not isinstance(project_id, int)):
        raise InvalidInputError(f"project must be an int id or a Project, got {project!r}")
    report = UploadReport([UploadItem(i, item) for i, item in enumerate(items)])
    for entry in report.items:
        _check_item_keys(entry.index, entry.item)
    return _uploaded_many(collection, report, project_id, batch_size, chunked)


#: What an ``upload_many`` item holds.
UPLOAD_ITEM_KEYS = ("files", "meta", "groups")


def _check_item_keys(index: int, item: Any) -> None:
    """Refuse, before anything is sent, an item that is not a mapping or has a key an
    item does not hold: ``"mta"`` would be dropped, and the unit made without its meta."""
    if not isinstance(item, Mapping):
        raise InvalidInputError(f"upload_many item {index} is not a mapping: {item!r}")
    for key in item:
        if key not in UPLOAD_ITEM_KEYS:
            close = difflib.get_close_matches(str(key), UPLOAD_ITEM_KEYS, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise InvalidInputError(
                f"upload_many item {index} has an unknown key {key!r}{hint} "
                f"(an item holds {', '.join(UPLOAD_ITEM_KEYS)})"
            )


def _uploaded_many(
    collection: DataCollection,
    report: UploadReport,
    project_id: int | None,
    batch_size: int,
    chunked: bool | None,
) -> Generator[Any, Any, UploadReport]:
    client = collection._bound_client()
    units_manager: DataUnitManager = client.manager_for(DataUnit)
    # Tasks are the annotation layer's, above this one: their manager by kind name.
    tasks_manager = client._manager("tasks")
    if not report.items:
        return report
    try:
        specs = yield from collection._specifications()
    except Exception as exc:  # every item's outcome, in the report
        for entry in report.items:
            entry.error = exc
        return report
    for batch in batched(report.items, batch_size):
        calls: list[UnitCall] = []
        checked = []
        for entry in batch:  # files are checked against the collection before sending
            try:
                files = collection._checked(specs, entry.item.get("files") or {})
            except Exception as exc:  # the item's outcome, in the report
                entry.error = exc
                continue
            meta, groups = entry.item.get("meta"), entry.item.get("groups")
            calls.append((client, collection.id, files, meta, groups, chunked))
            checked.append(entry)
        ready = []
        outcomes = (yield Each(unit_payload_steps, calls)) if calls else []
        for entry, (payload, error) in zip(checked, outcomes, strict=True):
            entry.error = error
            if payload is not None:
                ready.append((entry, payload))
        if not ready:
            continue
        units = [payload for _, payload in ready]
        yield from settle(
            [e for e, _ in ready],
            lambda picked, u=units: units_manager._create_many_steps([u[i] for i in picked]),  # type: ignore[misc]
            _unit,
        )
        made = [entry for entry, _ in ready if entry.data_unit is not None]
        if project_id is None or not made:
            continue
        rows = [{"data_unit": entry.data_unit} for entry in made]
        yield from settle(
            made,
            lambda picked, r=rows: tasks_manager._created_batch(  # type: ignore[misc]
                project_id, [r[i] for i in picked]
            ),
            _task,
        )
    return report
