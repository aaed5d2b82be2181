"""The kinds of object the local backend stores: their filterable fields and relations.

Filters follow the backend's django-filter conventions: ``<field>`` for equality, and
``<field>__in`` (comma list), ``__gt``, ``__gte``, ``__lt``, ``__lte`` for ids, numbers and
dates. Filter names a kind does not declare are ignored, as the real backend ignores them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

__all__ = ["KINDS", "FieldType", "Kind"]

FieldType = Literal["int", "str", "bool", "date", "ints"]


@dataclass(frozen=True)
class Kind:
    """One stored kind of object."""

    table: str
    fields: dict[str, FieldType] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)  # filter name -> field__lookup
    relations: dict[str, str] = field(default_factory=dict)  # field -> table it points to
    indexed: tuple[str, ...] = ()
    defaults: dict[str, object] = field(default_factory=dict)
    # How the API shows a doc of this kind:
    #: fields shown only when a query flag is true (a storage's secrets)
    shown_with_flag: dict[str, str] = field(default_factory=dict)
    #: nested lists shown as their ids unless expanded (a collection's specifications)
    ids_unless_expanded: tuple[str, ...] = ()
    #: the row id is shown under this name, and ``id`` holds this field instead
    row_id_as: tuple[str, str] | None = None


def _kinds(*kinds: Kind) -> dict[str, Kind]:
    return {k.table: k for k in kinds}


KINDS: dict[str, Kind] = _kinds(
    Kind(
        "projects",
        {"title": "str", "category": "str", "data_collection": "int", "is_archived": "bool",
         "created": "date"},
        relations={"data_collection": "data_collections"},
        defaults={"title": "", "description": "", "configuration": {}, "is_archived": False},
    ),
    Kind(
        "tasks",
        {"project": "int", "data_unit": "int", "is_discarded": "bool", "schema": "str",
         "tags": "ints", "workshop": "int", "created": "date", "status": "str"},
        aliases={"workshops": "workshop__in"},
        relations={"data_unit": "data_units", "project": "projects"},
        indexed=("project",),
        defaults={"data": {}, "meta": {}, "tags": [], "is_discarded": False, "schema": None},
    ),
    Kind(
        "task_tags",
        {"project": "int", "name": "str"},
        relations={"project": "projects"},
        defaults={"color": "#7c7c7c"},
    ),
    Kind(
        "assignments",
        {"project": "int", "task": "int", "user": "int", "reviewer": "int",
         "status_label": "str", "status_review": "str", "is_discarded": "bool",
         "is_confirmed": "bool", "tags": "ints", "workshop": "int", "created": "date"},
        aliases={"tasks": "task__in", "users": "user__in", "reviewers": "reviewer__in"},
        relations={"task": "tasks", "project": "projects"},
        indexed=("project",),
        defaults={"data": {}, "tags": [], "status_label": "stand_by", "status_review": "stand_by",
                  "is_discarded": False, "is_confirmed": False},
    ),
    Kind("agents", {"name": "str", "status": "str"}, defaults={"status": "connected"}),
    Kind(
        "plugins",
        {"code": "str", "category": "str", "is_active": "bool", "name": "str"},
        defaults={"description": "", "is_active": True, "meta": {}},
    ),
    Kind(
        "plugin_releases",
        {"plugin": "int", "version": "str"},
        relations={"plugin": "plugins"},
        defaults={"config": {}, "requirements": [], "debug": False},
    ),
    Kind(
        "jobs",
        {"status": "str", "plugin": "int", "agent": "int", "action": "str",
         "plugin_release": "int", "created": "date"},
        relations={"plugin_release": "plugin_releases", "agent": "agents", "plugin": "plugins"},
        defaults={"params": {}, "meta": {}, "progress_record": {}, "metrics_record": {},
                  "result": None, "console_logs": []},
    ),
    Kind("logs", {"job": "int", "event": "str", "level": "str"}, relations={"job": "jobs"}),
    Kind(
        "storages",
        {"category": "str", "provider": "str", "is_default": "bool", "name": "str"},
        defaults={"configuration": {}, "is_default": False},
        shown_with_flag={"configuration": "with_configuration"},
    ),
    Kind(
        "models",
        {"name": "str", "plugin": "str", "category": "str", "version": "str", "project": "int"},
        relations={"project": "projects"},
        defaults={"configuration": {}, "description": "", "category": "base"},
    ),
    Kind(
        "data_collections",
        {"name": "str", "category": "str", "is_archived": "bool"},
        defaults={"description": "", "meta": {}, "file_specifications": [], "is_archived": False},
        ids_unless_expanded=("file_specifications",),
    ),
    Kind("data_files", {"checksum": "str"}, indexed=("checksum",)),
    Kind(
        "data_units",
        {"data_collection": "int", "created": "date"},
        relations={"data_collection": "data_collections"},
        indexed=("data_collection",),
        defaults={"meta": {}, "files": {}},
    ),
    Kind("ground_truth_datasets", {"project": "int", "name": "str"}),
    Kind(
        "ground_truth_dataset_versions",
        {"ground_truth_dataset": "int", "is_archived": "bool"},
        relations={"ground_truth_dataset": "ground_truth_datasets"},
        defaults={"is_archived": False, "description": ""},
    ),
    Kind(
        "ground_truths",
        {"ground_truth_dataset": "int", "ground_truth_dataset_versions": "ints",
         "category": "str", "data_unit": "int"},
        relations={"data_unit": "data_units", "ground_truth_dataset": "ground_truth_datasets"},
        defaults={"data": {}, "files": {}},
    ),
    Kind(
        "ground_truth_events",
        {"ground_truth": "int", "category": "str", "task": "int",
         "ground_truth_dataset_versions": "ints", "classes": "str"},
        aliases={"categories": "category__in"},
        relations={"data_unit": "data_units", "ground_truth": "ground_truths"},
        defaults={"data": {}, "files": {}},
        row_id_as=("pgh_id", "ground_truth"),  # events: pgh_id is the event, id its truth
    ),
    Kind(  # created by agents for deployed plugins (protocol 3.5, #44-45)
        "serve_applications",
        {"job": "str", "status": "str", "plugin_code": "str", "job__agent": "int"},
        defaults={"status": "DEPLOYING", "data": {}},
    ),
)  # fmt: skip
