"""Uploading many data units at once: parallel files, batched units, optional tasks.

It sits above the data and annotation kinds (it makes units and tasks); the client
offers it to ``DataCollection.upload_many`` through `Context`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from synapse.errors import InvalidInputError
from synapse.executors import run_each, using
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

if TYPE_CHECKING:
    from pathlib import Path

    from synapse.context import Context

__all__ = ["unit_payload", "upload_many"]


def _unit(entry: UploadItem, unit: DataUnit) -> None:
    entry.data_unit = unit


def _task(entry: UploadItem, task: Task) -> None:
    entry.task = task


def unit_payload(
    client: Context,
    collection_id: int | None,
    files: Mapping[str, Path],
    meta: Mapping[str, Any] | None,
    groups: str | list[str] | None,
    chunked: bool | None,
) -> dict[str, Any]:
    """Upload one unit's files with ``client`` (in whichever process runs it); the
    ``data_units/`` payload naming them."""
    units: DataUnitManager = client.manager_for(DataUnit)
    return units.upload_payload(collection_id, files, meta, groups, chunked=chunked)


def upload_many(
    collection: DataCollection,
    items: Iterable[Mapping[str, Any]],
    project: int | Resource | None,
    batch_size: int,
    max_workers: int,
    chunked: bool | None,
    executor: Any = None,
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

    with using(executor, max_workers, "synapse-upload") as pool:
        for batch in batched(report.items, batch_size):
            calls, checked = [], []
            for entry in batch:  # files are checked against the collection before sending
                try:
                    files = collection.check_files(entry.item.get("files") or {})
                except Exception as exc:  # the item's outcome, in the report
                    entry.error = exc
                    continue
                meta, groups = entry.item.get("meta"), entry.item.get("groups")
                calls.append((client, collection.id, files, meta, groups, chunked))
                checked.append(entry)
            ready = []
            for entry, (payload, error) in zip(
                checked, run_each(pool, unit_payload, calls), strict=True
            ):
                entry.error = error
                if payload is not None:
                    ready.append((entry, payload))
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
