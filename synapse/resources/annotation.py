"""Projects, tasks, task tags and assignments."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import Field, JsonValue

from synapse.enums import AnnotateAction, TagAction, require_enum
from synapse.errors import InvalidInputError
from synapse.filters import FilterSet, date_ranges, id_filters
from synapse.managers import (
    BulkItem,
    BulkReport,
    CreateMixin,
    DeleteMixin,
    GetMixin,
    ListMixin,
    UpdateMixin,
    batched,
    settle,
)
from synapse.query import QuerySet
from synapse.resources.base import (
    Deletable,
    JsonDict,
    Refreshable,
    Relation,
    Resource,
    Savable,
    related_id,
)
from synapse.resources.data import DataCollection, DataUnit
from synapse.urls import PathParam, build_path

if TYPE_CHECKING:
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

    set_tags_path: str = ""
    client: Any

    def set_tags(
        self,
        ids: Iterable[int | Resource],
        tags: Iterable[int | Resource] | int | Resource,
        action: TagAction | str = TagAction.ADD,
        *,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        """Add or remove tags on the objects with these ids, in one request."""
        body = {
            "ids": _tag_ids(ids),
            "tags": _tag_ids(tags),
            "action": require_enum(TagAction, action, field="action").value,
        }
        return self.client.transport.request("POST", self.set_tags_path, params=params, data=body)


class Project(Refreshable, Savable, Deletable):
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

    data_collection = Relation[DataCollection]("data_collection_id", DataCollection)

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


class Task(Refreshable, Savable, Deletable):
    """One item to annotate: a data unit in a project."""

    _repr_fields = ("id", "project_id", "data_unit_id")
    _read_only = BASE_READ_ONLY | {"count_assignments", "has_data", "status"}

    project_id: int | None = related_id("project")
    data_unit_id: int | None = related_id("data_unit")
    data: JsonValue = None
    meta: JsonDict | None = None
    tags: list[int] | None = None
    is_discarded: bool | None = None
    schema_name: str | None = Field(None, alias="schema")
    status: str | None = None
    workshop: int | None = None
    assignment: JsonValue = None
    count_assignments: int | None = None
    created: datetime | None = None

    project = Relation[Project]("project_id", Project)
    data_unit = Relation[DataUnit]("data_unit_id", DataUnit)

    def annotate(
        self,
        data: Mapping[str, Any],
        action: AnnotateAction | str = AnnotateAction.SUBMIT,
        schema: str | None = None,
    ) -> None:
        """Save or submit annotation data; the task is reloaded from the answer."""
        body = {"action": require_enum(AnnotateAction, action, field="action").value, "data": data}
        manager: TaskManager = self._manager()
        answer = manager.annotate(self._require_pk(), body, schema)
        if isinstance(answer, Mapping):
            self._load(answer)

    def set_tags(
        self,
        tags: Iterable[int | Resource] | int | Resource,
        action: TagAction | str = TagAction.ADD,
    ) -> None:
        """Add (or remove) tags on this task."""
        manager: TaskManager = self._manager()
        manager.set_tags([self._require_pk()], tags, action)
        self._bound_client().forget(type(self), self.pk)

    def _require_pk(self) -> int:
        if not isinstance(self.id, int):
            raise InvalidInputError(f"this {type(self).__name__} has no id yet")
        return self.id


class TaskTag(Refreshable, Savable, Deletable):
    """A tag that can be put on tasks."""

    _repr_fields = ("id", "name")

    project_id: int | None = related_id("project")
    name: str | None = None
    color: str | None = None


class Assignment(Refreshable, Savable):
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

    task = Relation[Task]("task_id", Task)
    project = Relation[Project]("project_id", Project)

    def set_tags(
        self,
        tags: Iterable[int | Resource] | int | Resource,
        action: TagAction | str = TagAction.ADD,
    ) -> None:
        """Add (or remove) tags on this assignment."""
        if not isinstance(self.id, int):
            raise InvalidInputError("this Assignment has no id yet")
        manager: AssignmentManager = self._manager()
        manager.set_tags([self.id], tags, action)
        self._bound_client().forget(type(self), self.pk)


# --------------------------------------------------------------------------- managers

TASK_FILTERS = FilterSet(
    {
        "project": "id",
        **id_filters(),
        "is_discarded": "bool",
        "schema": "str",
        "has_assignment": "bool",
        "has_reached_max_assignments": "bool",
        "status_label": "str",
        "status_review": "str",
        "assignments": "ids",
        "assignments__is_discarded": "bool",
        "labelers": "ids",
        "reviewers": "ids",
        "groups": "ids",
        "stages": "ids",
        "workshops": "ids",
        "tags": "ids",
        "discarded_filter": "str",
        **date_ranges("created"),
    },
    hints={
        "created_after": "created__gt",
        "created_before": "created__lt",
        "workshop": "workshops",
    },
)

ASSIGNMENT_FILTERS = FilterSet(
    {
        "project": "id",
        **id_filters(),
        "workshop": "id",
        "tasks": "ids",
        "users": "ids",
        "reviewers": "ids",
        "groups": "ids",
        "stages": "ids",
        "task_tags": "ids",
        "tags": "ids",
        "status_label": "str",
        "status_review": "str",
        "is_discarded": "bool",
        "is_discard_confirmed": "bool",
        "is_confirmed": "bool",
        **date_ranges(
            "created",
            "label_submitted",
            "last_labeled",
            "last_reviewed",
            "labeler_last_action_at",
            "reviewer_last_action_at",
        ),
    },
    hints={
        "task": "tasks",
        "workshops": "workshop",
        "user": "users",
        "created_after": "created__gt",
        "created_before": "created__lt",
    },
)


class ProjectManager(
    GetMixin[Project],
    ListMixin[Project],
    CreateMixin[Project],
    UpdateMixin[Project],
    DeleteMixin[Project],
):
    """``client.projects``."""

    name = "projects"
    orderings = frozenset({"id", "title", "category", "created"})
    resource = Project
    path = "projects/"


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
    orderings = frozenset({"id", "created", "project", "data_unit", "status", "is_discarded"})
    resource = Task
    path = "tasks/"
    list_path_override = "sdk/tasks/"
    cursor_pagination = True
    filters = TASK_FILTERS
    set_tags_path = "tasks/set_tags/"

    def annotate(self, pk: PathParam, body: Mapping[str, Any], schema: str | None = None) -> Any:
        """PUT ``tasks/{pk}/annotate_task_data/`` with ``{"action", "data"}``; the answer."""
        params = {"schema": schema} if schema else None
        answer = self.client.transport.request(
            "PUT", build_path("tasks/{}/annotate_task_data/", pk), params=params, data=dict(body)
        )
        self.client.forget(Task, pk)
        return answer

    def create(self, **fields: Any) -> Task:
        """Create one task: ``create(project=1, data_unit=5)``."""
        created = self._create_batch(fields.get("project"), [fields])
        return created[0]

    def _create_batch(self, project: Any, items: Sequence[Mapping[str, Any]]) -> list[Task]:
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
        answer = self.create_json({"project": pk, "data": data})
        rows = answer if isinstance(answer, list) else answer.get("results", [answer])
        return [self._build(row) for row in rows]

    def bulk_create(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = 500
    ) -> BulkReport[Task]:
        """Create tasks in one request per project and batch (``{project, data: [...]}``)."""
        if batch_size < 1:
            raise InvalidInputError("batch_size must be at least 1")
        indexed = list(enumerate(items))
        groups: dict[Any, list[tuple[int, Mapping[str, Any]]]] = {}
        for index, item in indexed:
            project = item.get("project")
            key = project.pk if isinstance(project, Resource) else project
            groups.setdefault(key, []).append((index, item))
        results: dict[int, BulkItem[Task]] = {}
        for project, members in groups.items():
            for batch in batched(members, batch_size):
                entries = [BulkItem[Task](index, item) for index, item in batch]
                rows = [item for _, item in batch]
                settle(
                    entries,
                    lambda picked, p=project, r=rows: self._create_batch(p, [r[i] for i in picked]),  # type: ignore[misc]
                    _set_result,
                )
                results.update((entry.index, entry) for entry in entries)
        return BulkReport([results[i] for i in sorted(results)])


def _set_result(entry: BulkItem[Any], result: Any) -> None:
    entry.result = result


class TaskTagManager(
    GetMixin[TaskTag],
    ListMixin[TaskTag],
    CreateMixin[TaskTag],
    UpdateMixin[TaskTag],
    DeleteMixin[TaskTag],
):
    """``client.task_tags``."""

    name = "task_tags"
    orderings = frozenset({"id", "name"})
    resource = TaskTag
    path = "task_tags/"
    filters = FilterSet({"project": "id"})


class AssignmentManager(
    GetMixin[Assignment], ListMixin[Assignment], UpdateMixin[Assignment], TagSetter
):
    """``client.assignments``: listed through ``sdk/assignments/``."""

    name = "assignments"
    orderings = frozenset({"id", "created", "status_label", "status_review", "user", "task"})
    resource = Assignment
    path = "assignments/"
    list_path_override = "sdk/assignments/"
    cursor_pagination = True
    filters = ASSIGNMENT_FILTERS
    set_tags_path = "assignments/set_tags/"
