"""Uploading many data units at once: parallel files, batched units, optional tasks.

It sits above the data and annotation kinds (it makes units and tasks); the client
offers it to ``DataCollection.upload_many`` through `Context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from synapse.errors import ClientError, InvalidInputError
from synapse.managers import batched, settle
from synapse.resources.annotation import Task, TaskManager
from synapse.resources.base import Resource
from synapse.resources.data import (
    DataCollection,
    DataUnit,
    DataUnitManager,
    UploadItem,
    UploadReport,
)

__all__ = ["upload_many"]


def _unit(entry: UploadItem, unit: DataUnit) -> None:
    entry.data_unit = unit


def _task(entry: UploadItem, task: Task) -> None:
    entry.task = task


def upload_many(
    collection: DataCollection,
    items: Iterable[Mapping[str, Any]],
    project: int | Resource | None,
    batch_size: int,
    max_workers: int,
    chunked: bool | None,
) -> UploadReport:
    """See [`upload_many()`][synapse.resources.data.DataCollection.upload_many]."""
    if batch_size < 1 or max_workers < 1:
        raise InvalidInputError("batch_size and max_workers must be at least 1")
    project_id = project.pk if isinstance(project, Resource) else project
    if project_id is not None and (isinstance(project_id, bool) or not isinstance(project_id, int)):
        raise InvalidInputError(f"project must be an int id or a Project, got {project!r}")
    client = collection._bound_client()
    units_manager: DataUnitManager = client.manager_for(DataUnit)
    tasks_manager: TaskManager = client.manager_for(Task)
    report = UploadReport([UploadItem(i, item) for i, item in enumerate(items)])

    def prepare(entry: UploadItem) -> dict[str, Any] | None:
        try:
            files = collection.check_files(entry.item.get("files") or {})
            return units_manager.upload_payload(
                collection.id,
                files,
                entry.item.get("meta"),
                entry.item.get("groups"),
                chunked=chunked,
            )
        except ClientError as exc:
            entry.error = exc
            return None

    with ThreadPoolExecutor(max_workers, thread_name_prefix="synapse-upload") as pool:
        for batch in batched(report.items, batch_size):
            payloads = list(pool.map(prepare, batch))
            ready = [(e, p) for e, p in zip(batch, payloads, strict=True) if p is not None]
            if not ready:
                continue
            units = [payload for _, payload in ready]
            settle(
                [e for e, _ in ready],
                lambda picked, u=units: units_manager.create_many([u[i] for i in picked]),  # type: ignore[misc]
                _unit,
            )
            made = [entry for entry, _ in ready if entry.data_unit is not None]
            if project_id is None or not made:
                continue
            rows = [{"data_unit": entry.data_unit} for entry in made]
            settle(
                made,
                lambda picked, r=rows: tasks_manager._create_batch(  # type: ignore[misc]
                    project_id, [r[i] for i in picked]
                ),
                _task,
            )
    return report
