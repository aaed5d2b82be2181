"""Projects, tasks, task tags and assignments."""

from __future__ import annotations

import functools
import os
from collections.abc import Generator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, JsonValue

from synapse.context import awaiting
from synapse.enums import AnnotateAction, TagAction, require_enum
from synapse.errors import ClientError, InvalidInputError
from synapse.executors import check_count
from synapse.managers import (
    BulkItem,
    BulkReport,
    CreateMixin,
    DeleteMixin,
    GetMixin,
    ListMixin,
    UpdateMixin,
    bulk_in_batches,
    rows_of,
)
from synapse.query import QuerySet
from synapse.resources.base import (
    JsonDict,
    Relation,
    Resource,
    related_id,
)
from synapse.steps import Send, drive, sent
from synapse.transport import Call
from synapse.urls import PathParam, build_path

if TYPE_CHECKING:  # (named in quotes by the relations: their family loads lazily)
    from synapse.resources.data import DataCollection, DataUnit  # noqa: F401
    from synapse.training.report import ImportReport

__all__ = [
    "Assignment",
    "AssignmentManager",
    "Project",
    "ProjectManager",
    "Task",
    "TaskManager",
    "TaskTag",
    "TaskTagManager",
]

BASE_READ_ONLY = Resource._read_only
#: Tasks per creation request in ``bulk_create``.
TASK_BATCH = 500


def _tag_ids(tags: Iterable[int | Resource] | int | Resource) -> list[int]:
    if isinstance(tags, (int, Resource)):
        tags = [tags]
    ids = []
    for tag in tags:
        pk = tag.pk if isinstance(tag, Resource) else tag
        if isinstance(pk, bool) or not isinstance(pk, int):
            raise InvalidInputError(f"tags are TaskTag objects or int ids, got {tag!r}")
        ids.append(pk)
    return ids


class TagSetter:
    """``set_tags`` of tasks and assignments: one request for many ids."""

    client: Any
    path: str

    def set_tags(
        self,
        ids: Iterable[int | Resource],
        tags: Iterable[int | Resource] | int | Resource,
        action: TagAction | str = TagAction.ADD,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Add or remove tags on the objects with these ids, in one request."""
        return drive(self.client.transport, self._set_tags_steps(ids, tags, action, params))

    async def aset_tags(
        self,
        ids: Iterable[int | Resource],
        tags: Iterable[int | Resource] | int | Resource,
        action: TagAction | str = TagAction.ADD,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """`set_tags` awaited (an ``AsyncClient``'s manager)."""
        client = awaiting(self.client, "aset_tags")
        return await client._adrive(self._set_tags_steps(ids, tags, action, params))

    def _set_tags_steps(
        self,
        ids: Iterable[int | Resource],
        tags: Iterable[int | Resource] | int | Resource,
        action: TagAction | str,
        params: Mapping[str, Any] | None,
    ) -> Generator[Send, Any, Any]:
        """`set_tags` as steps for either client's driver (ids, tags, action checked now)."""
        body = {
            "ids": _tag_ids(ids),
            "tags": _tag_ids(tags),
            "action": require_enum(TagAction, action, field="action").value,
        }
        return sent(Call("POST", f"{self.path}set_tags/", params=params, data=body))

    def _tag_query(self, query: QuerySet[Any], tags: Any, action: str) -> Any:
        """``query.set_tags(...)``: the query's ids (its cache, or one ``only("id")``
        listing), then one request; nothing is sent when nothing matches."""
        cached = query._result_cache
        ids = [obj.pk for obj in (cached if cached is not None else query.only("id"))]
        return self.set_tags(ids, tags, action) if ids else None


class Tagged(Resource):
    """``set_tags`` on one object (tasks and assignments), through its manager's
    `TagSetter`; the object's cached copy is dropped after."""

    def set_tags(
        self,
        tags: Iterable[int | Resource] | int | Resource,
        action: TagAction | str = TagAction.ADD,
    ) -> None:
        """Add (or remove) tags on this object."""
        self._manager().set_tags([self._require_pk()], tags, action)
        self._bound_client().forget(type(self), self.pk)

    async def aset_tags(
        self,
        tags: Iterable[int | Resource] | int | Resource,
        action: TagAction | str = TagAction.ADD,
    ) -> None:
        """`set_tags()` awaited (an object loaded by an ``AsyncClient``)."""
        await self._amanager("aset_tags").aset_tags([self._require_pk()], tags, action)
        self._bound_client().forget(type(self), self.pk)

    def _require_pk(self) -> int:
        if not isinstance(self.id, int):
            raise InvalidInputError(f"this {type(self).__name__} has no id yet")
        return self.id


class Project(Resource):
    """An annotation project."""

    _repr_fields = ("id", "title")
    _read_only = BASE_READ_ONLY | {"task_count", "category_display", "tenant_id"}

    title: str | None = None
    description: str | None = None
    category: str | None = None
    data_collection_id: int | None = related_id("data_collection")
    configuration: JsonDict | None = None
    settings: JsonDict | None = None
    is_archived: bool | None = None
    task_count: int | None = None
    created: datetime | None = None

    data_collection = Relation["DataCollection"]("data_collection_id")

    @property
    def tasks(self) -> QuerySet[Task]:
        """This project's tasks (lazy)."""
        tasks: TaskManager = self._bound_client().manager_for(Task)
        return tasks.filter(project=self)

    @property
    def assignments(self) -> QuerySet[Assignment]:
        """This project's assignments (lazy)."""
        assignments: AssignmentManager = self._bound_client().manager_for(Assignment)
        return assignments.filter(project=self)

    def import_annotations(
        self, path: str | os.PathLike[str], format: str, **options: Any
    ) -> ImportReport:
        """COCO, YOLO or VOC labels written into this project's tasks (matched by file
        name or checksum); see
        [`import_annotations()`][synapse.training.importing.import_annotations]."""
        from synapse.training.importing import import_annotations

        return import_annotations(self, path, format, **options)


class Task(Tagged):
    """One item to annotate: a data unit in a project."""

    _repr_fields = ("id", "project_id", "data_unit_id")
    _read_only = BASE_READ_ONLY | {"count_assignments", "has_data"}

    project_id: int | None = related_id("project")
    data_unit_id: int | None = related_id("data_unit")
    data: JsonValue = None
    meta: JsonDict | None = None
    tags: list[int] | None = None
    is_discarded: bool | None = None
    schema_name: str | None = Field(None, alias="schema")
    status_label: str | None = None
    status_review: str | None = None
    workshop: int | None = None
    assignment: JsonValue = None
    count_assignments: int | None = None
    created: datetime | None = None

    project = Relation["Project"]("project_id")
    data_unit = Relation["DataUnit"]("data_unit_id")

    def annotate(
        self,
        data: Mapping[str, Any],
        action: AnnotateAction | str = AnnotateAction.SUBMIT,
        schema: str | None = None,
    ) -> None:
        """Save or submit annotation data; the task is reloaded from the answer."""
        body = annotate_body(data, action)
        manager: TaskManager = self._manager()
        answer = manager.annotate(self._require_pk(), body, schema)
        if isinstance(answer, Mapping):
            self._load(answer)

    async def aannotate(
        self,
        data: Mapping[str, Any],
        action: AnnotateAction | str = AnnotateAction.SUBMIT,
        schema: str | None = None,
    ) -> None:
        """`annotate()` awaited (a Task loaded by an ``AsyncClient``), sent natively."""
        body = annotate_body(data, action)
        tasks = self._amanager("aannotate")
        answer = await tasks.aannotate(self._require_pk(), body, schema)
        if isinstance(answer, Mapping):
            self._load(answer)


def annotate_body(data: Mapping[str, Any], action: AnnotateAction | str) -> dict[str, Any]:
    """The body that saves or submits a task's annotation data (the action checked)."""
    return {"action": require_enum(AnnotateAction, action, field="action").value, "data": data}


def annotate_request(pk: PathParam, schema: str | None) -> tuple[str, dict[str, str] | None]:
    """``(path, query)`` of a task's annotation PUT (the id checked before sending)."""
    path = build_path("tasks/{}/annotate_task_data/", pk)
    return path, {"schema": schema} if schema else None


class TaskTag(Resource):
    """A tag that can be put on tasks."""

    _repr_fields = ("id", "name")

    project_id: int | None = related_id("project")
    name: str | None = None
    color: str | None = None


class Assignment(Tagged):
    """One person's work on a task."""

    _repr_fields = ("id", "task_id", "status_label")

    project_id: int | None = related_id("project")
    task_id: int | None = related_id("task")
    user: int | None = None
    reviewer: int | None = None
    status_label: str | None = None
    status_review: str | None = None
    is_confirmed: bool | None = None
    is_discarded: bool | None = None
    tags: list[int] | None = None
    data: JsonValue = None
    file: JsonValue = None
    created: datetime | None = None

    task = Relation["Task"]("task_id")
    project = Relation["Project"]("project_id")


# --------------------------------------------------------------------------- managers


class ProjectManager(
    GetMixin[Project],
    ListMixin[Project],
    CreateMixin[Project],
    UpdateMixin[Project],
    DeleteMixin[Project],
):
    """``client.projects``."""

    name = "projects"


class TaskManager(
    GetMixin[Task],
    ListMixin[Task],
    CreateMixin[Task],
    UpdateMixin[Task],
    DeleteMixin[Task],
    TagSetter,
):
    """``client.tasks``: listed through ``sdk/tasks/`` with the backend's task filters."""

    name = "tasks"

    def annotate(self, pk: PathParam, body: Mapping[str, Any], schema: str | None = None) -> Any:
        """PUT ``tasks/{pk}/annotate_task_data/`` with ``{"action", "data"}``; the answer."""
        return drive(self.client.transport, self._annotate_steps(pk, body, schema))

    async def aannotate(
        self, pk: PathParam, body: Mapping[str, Any], schema: str | None = None
    ) -> Any:
        """`annotate` awaited (an ``AsyncClient``'s manager)."""
        client = awaiting(self.client, "aannotate")
        return await client._adrive(self._annotate_steps(pk, body, schema))

    def _annotate_steps(
        self, pk: PathParam, body: Mapping[str, Any], schema: str | None
    ) -> Generator[Send, Any, Any]:
        """`annotate` as steps (the id checked now); the related-object cache forgets
        the task once it was sent."""
        path, params = annotate_request(pk, schema)
        return self._annotated(pk, Call("PUT", path, params=params, data=dict(body)))

    def _annotated(self, pk: PathParam, call: Call) -> Generator[Send, Any, Any]:
        answer = yield from sent(call)
        self.client.forget(Task, pk)
        return answer

    def create(self, **fields: Any) -> Task:
        """Create one task: ``create(project=1, data_unit=5)``."""
        return self._build(drive(self.client.transport, self._create_steps(**fields)))

    def _create_steps(self, **fields: Any) -> Generator[Any, Any, Any]:
        """One task as steps for either client's driver (checked now): a batch of one;
        the task's JSON."""
        fields = self._checked_names(fields)
        return _first(self._create_batch(fields.get("project"), [fields]))

    def _create_batch(
        self, project: Any, items: Sequence[Mapping[str, Any]]
    ) -> Generator[Any, Any, list[Any]]:
        """Tasks of one project in one request (``{project, data: [...]}``), as steps
        (checked now); the answer's rows."""
        pk = project.pk if isinstance(project, Resource) else project
        if isinstance(pk, bool) or not isinstance(pk, int):
            raise InvalidInputError(f"a task needs project=<int id>, got {project!r}")
        data = []
        for item in items:
            extra = {k: v for k, v in item.items() if k != "project"}
            unit = extra.get("data_unit")
            unit = unit.pk if isinstance(unit, Resource) else unit
            if isinstance(unit, bool) or not isinstance(unit, int):
                raise InvalidInputError(f"a task needs data_unit=<int id>, got {unit!r}")
            data.append({**extra, "data_unit": unit})
        return _rows(sent(self._create_call({"project": pk, "data": data})))

    def bulk_create(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = TASK_BATCH
    ) -> BulkReport[Task]:
        """Create tasks in one request per project and batch (``{project, data: [...]}``)."""
        return drive(self.client.transport, self._bulk_create_steps(items, batch_size=batch_size))

    def _bulk_create_steps(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = TASK_BATCH
    ) -> Generator[Any, Any, BulkReport[Task]]:
        """``bulk_create`` as steps for either client's driver."""
        check_count("batch_size", batch_size)
        groups: dict[Any, list[tuple[int, Mapping[str, Any]]]] = {}
        refused: list[BulkItem[Task]] = []  # a near miss of a field: never sent
        for index, item in enumerate(items):
            try:
                named = self._checked_names(item)
            except InvalidInputError as exc:
                refused.append(BulkItem(index, item, error=exc))
                continue
            project = named.get("project")
            key = project.pk if isinstance(project, Resource) else project
            groups.setdefault(key, []).append((index, named))
        return self._bulk_created(groups, batch_size, refused)

    def _bulk_created(
        self,
        groups: dict[Any, list[tuple[int, Mapping[str, Any]]]],
        batch_size: int,
        refused: list[BulkItem[Task]],
    ) -> Generator[Any, Any, BulkReport[Task]]:
        results: dict[int, BulkItem[Task]] = {e.index: e for e in refused}
        for project, members in groups.items():
            send = functools.partial(self._created_batch, project)
            done = yield from bulk_in_batches(members, batch_size, send)
            results.update((e.index, e) for e in done)
        return BulkReport([results[i] for i in sorted(results)])

    def _created_batch(
        self, project: Any, items: Sequence[Mapping[str, Any]]
    ) -> Generator[Any, Any, list[Task]]:
        """`_create_batch`'s tasks as objects."""
        return self._built_rows(self._create_batch(project, items))


def _rows(steps: Generator[Any, Any, Any]) -> Generator[Any, Any, list[Any]]:
    return rows_of((yield from steps))


def _first(steps: Generator[Any, Any, list[Any]]) -> Generator[Any, Any, Any]:
    rows = yield from steps
    if not rows:
        raise ClientError("the server answered no task for the one created")
    return rows[0]


class TaskTagManager(
    GetMixin[TaskTag],
    ListMixin[TaskTag],
    CreateMixin[TaskTag],
    UpdateMixin[TaskTag],
    DeleteMixin[TaskTag],
):
    """``client.task_tags``."""

    name = "task_tags"


class AssignmentManager(
    GetMixin[Assignment], ListMixin[Assignment], UpdateMixin[Assignment], TagSetter
):
    """``client.assignments``: listed through ``sdk/assignments/``."""

    name = "assignments"
