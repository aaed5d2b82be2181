"""The kinds of object the local backend stores, derived from the protocol declarations.

Each kind of [`synapse.protocol`][synapse.protocol] is a table; its fields, relations
(``fk:`` fields), filters and orderings come from the declaration. What only the local
backend needs (defaults of new objects, indexes, how a doc is shown) is added here by
table name, as are the few tables the SDK has no kind for (logs, ground-truth datasets).
Filter names a kind does not declare are ignored, as the real backend ignores them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import synapse.protocol as protocol
from synapse.protocol import Filter

__all__ = ["KINDS", "FieldType", "Kind"]

FieldType = Literal["int", "str", "bool", "date", "ints", "json"]


@dataclass(frozen=True)
class Kind:
    """One stored kind of object."""

    table: str
    fields: dict[str, FieldType] = field(default_factory=dict)
    relations: dict[str, str] = field(default_factory=dict)  # field -> table it points to
    #: The filters the list honours (the declaration's, common ones included).
    filters: dict[str, Filter] = field(default_factory=dict)
    orderings: frozenset[str] = frozenset({"id"})
    indexed: tuple[str, ...] = ()
    defaults: dict[str, object] = field(default_factory=dict)
    # How the API shows a doc of this kind:
    #: fields shown only when a query flag is true (a storage's secrets)
    shown_with_flag: dict[str, str] = field(default_factory=dict)
    #: nested lists shown as their ids unless expanded (a collection's specifications)
    ids_unless_expanded: tuple[str, ...] = ()
    #: the row id is shown under this name, and ``id`` holds this field instead
    row_id_as: tuple[str, str] | None = None
    #: the declaration this table serves (None for tables only the server has)
    declared: protocol.Kind | None = None


#: What only the local backend knows about a table.
LOCAL: dict[str, dict[str, Any]] = {
    "projects": {"defaults": {"title": "", "description": "", "configuration": {},
                              "is_archived": False, "count_max_assignments_per_task": 1}},
    "tasks": {"indexed": ("project",),
              "defaults": {"data": {}, "meta": {}, "tags": [], "is_discarded": False,
                           "schema": None, "status_label": "stand_by",
                           "status_review": "stand_by"}},
    "task_tags": {"defaults": {"color": "#7c7c7c"}},
    "assignments": {"indexed": ("project", "task"),
                    "defaults": {"data": {}, "tags": [], "status_label": "stand_by",
                                 "status_review": "stand_by", "is_discarded": False,
                                 "is_discard_confirmed": False, "is_confirmed": False}},
    "agents": {"defaults": {"status": "connected"}},
    "plugins": {"defaults": {"description": "", "is_active": True, "meta": {}}},
    "plugin_releases": {"defaults": {"config": {}, "requirements": [], "debug": False}},
    "jobs": {"relations": {"agent": "agents", "plugin": "plugins"},
             "defaults": {"params": {}, "meta": {}, "progress_record": {},
                          "metrics_record": {}, "result": None, "console_logs": []}},
    "storages": {"defaults": {"configuration": {}, "is_default": False},
                 "shown_with_flag": {"configuration": "with_configuration"}},
    "models": {"defaults": {"configuration": {}, "description": "", "category": "base"}},
    "data_collections": {"defaults": {"description": "", "meta": {}, "file_specifications": [],
                                      "is_archived": False},
                         "ids_unless_expanded": ("file_specifications",)},
    "data_files": {"indexed": ("checksum",)},
    "data_units": {"indexed": ("data_collection",), "defaults": {"meta": {}, "files": {}}},
    "ground_truth_dataset_versions": {"defaults": {"is_archived": False, "description": ""}},
    "ground_truths": {"defaults": {"data": {}, "files": {}}},
    "ground_truth_events": {"relations": {"ground_truth": "ground_truths"},
                            "defaults": {"data": {}, "files": {}},
                            # events: pgh_id is the event, id its ground truth
                            "row_id_as": ("pgh_id", "ground_truth")},
}  # fmt: skip

#: Tables the server keeps that the SDK declares no kind for: (fields, extras).
SERVER_ONLY: dict[str, dict[str, FieldType]] = {
    "logs": {"job": "int", "event": "str", "level": "str"},
    "ground_truth_datasets": {"project": "int", "name": "str"},
    "serve_applications": {"job": "str", "status": "str", "plugin_code": "str"},
}


def _field_type(wire: str) -> FieldType:
    if wire.startswith("fk:"):
        return "int"
    if wire in ("int", "str", "bool", "date", "ints", "json"):
        return wire  # type: ignore[return-value]
    return "str" if wire == "strs" else "json"


def _derive(declared: protocol.Kind) -> Kind:
    extra = LOCAL.get(declared.table, {})
    fields = {name: _field_type(wire) for name, wire in declared.fields.items()}
    relations = {n: w[3:] for n, w in declared.fields.items() if w.startswith("fk:")}
    filters = {n: f for n, f in declared.allowed_filters().items() if not f.refused}
    return Kind(
        declared.table,
        fields,
        relations={**relations, **extra.get("relations", {})},
        filters=filters,
        orderings=declared.orderings,
        indexed=extra.get("indexed", ()),
        defaults=extra.get("defaults", {}),
        shown_with_flag=extra.get("shown_with_flag", {}),
        ids_unless_expanded=extra.get("ids_unless_expanded", ()),
        row_id_as=extra.get("row_id_as"),
        declared=declared,
    )


def _server_only(table: str, fields: dict[str, FieldType]) -> Kind:
    filters = {name: Filter("int" if t == "int" else "str", name) for name, t in fields.items()}
    return Kind(table, dict(fields), filters=filters)


class _Kinds(Mapping[str, Kind]):
    """The stored kinds by table, derived again whenever a kind is declared."""

    def __init__(self) -> None:
        self._seen: tuple[int, ...] = ()
        self._kinds: dict[str, Kind] = {}

    def _current(self) -> dict[str, Kind]:
        seen = tuple(id(k) for k in protocol.KINDS.values())
        if seen != self._seen:
            kinds = {k.table: _derive(k) for k in protocol.KINDS.values()}
            kinds.update({t: _server_only(t, f) for t, f in SERVER_ONLY.items()})
            self._kinds, self._seen = kinds, seen
        return self._kinds

    def __getitem__(self, table: str) -> Kind:
        return self._current()[table]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


KINDS: Mapping[str, Kind] = _Kinds()
