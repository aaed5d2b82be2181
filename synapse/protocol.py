"""The wire protocol of the Synapse backend, declared once as plain data.

One [`Kind`][synapse.protocol.Kind] per kind of object: its paths, primary key, fields
with their wire types, filters with their value types and lookups, orderings,
expansions, capabilities and extra actions. The SDK (managers, filter checks, the
client's attributes, the kinds page) and the local backend (routes, filtering, the
OpenAPI document) both read it, so the two cannot drift apart: a filter the SDK accepts
and the server ignores would return everything.

Plain data on purpose: no pydantic, no HTTP library, nothing imported from the rest of
the package (the bottom layer, cheap to import). Where the backend's contract is silent
the declaration says so (``note``) rather than inventing: such a filter is ``refused``
by the SDK instead of being sent to be silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "CAPABILITIES",
    "COMMON_FILTERS",
    "CONTROL_PARAMS",
    "KINDS",
    "Action",
    "Capability",
    "Filter",
    "Join",
    "Kind",
    "Lookup",
    "date_ranges",
    "declare",
    "filter_target",
    "id_filters",
    "kind_of_resource",
    "withdraw",
]

#: What a kind's endpoints offer: ``get`` (detail GET), ``list``, ``create`` (POST),
#: ``update`` (PATCH, or PUT where ``full_update``) and ``delete``.
Capability = Literal["get", "list", "create", "update", "delete"]
CAPABILITIES: tuple[Capability, ...] = ("get", "list", "create", "update", "delete")

#: How a filter compares its value with the field: ``exact``; ``in`` (comma list);
#: ``gt``/``gte``/``lt``/``lte``; ``overlap`` (a list field holds one of the values);
#: ``not_in``; ``exists`` (a joined row exists, or not); ``text`` (the object's JSON
#: holds the text); ``limit``/``offset`` (shape the answer, not the rows).
Lookup = Literal[
    "exact", "in", "gt", "gte", "lt", "lte", "overlap", "not_in", "exists", "text", "limit",
    "offset",
]  # fmt: skip


@dataclass(frozen=True)
class Join:
    """Where a filter looks when the field is on other rows.

    ``reverse=True``: rows of ``table`` whose ``key`` holds this object's id
    (a task's assignments: ``Join("assignments", "task")``). ``reverse=False``: the row
    of ``table`` whose id is this object's ``key`` (an assignment's task).
    """

    table: str
    key: str
    reverse: bool = True


@dataclass(frozen=True)
class Filter:
    """One filter of a list endpoint.

    ``type`` is the value the SDK accepts and how it goes on the wire: ``id`` (an id or
    an object), ``ids`` (a list of them, comma-joined), ``int``, ``bool``, ``str``,
    ``strs``, ``date``, ``code`` (a plugin code) or ``enum:<Name>`` (an enum of
    ``synapse.enums``). ``field``/``lookup``/``join`` say what it means; ``refused``
    marks a name the backend accepts but whose meaning the contract does not give.
    """

    type: str
    field: str = ""
    lookup: Lookup = "exact"
    join: Join | None = None
    choices: tuple[str, ...] = ()
    refused: bool = False
    note: str = ""


@dataclass(frozen=True)
class Action:
    """An endpoint besides the collection and the detail path (``annotate_task_data``).

    ``path`` is relative to the kind's path; ``{pk}`` stands for an object's id.
    """

    name: str
    method: str
    path: str


#: The shapes of the method API's plain list wrappers (protocol.md §3):
#: ``page`` ``(params, *, unknown_filters)`` gives one page; ``full`` adds
#: ``url_conversion, list_all`` and ``*, timeout, stable``; ``sized`` adds ``page_size=100``
#: after ``list_all``; ``timed`` adds ``page_size=100, timeout=60`` (a read timeout).
ListShape = Literal["page", "full", "sized", "timed"]


@dataclass(frozen=True)
class Methods:
    """The method API's plain wrappers of a kind (``get_project``, ``list_tasks``), as the
    old ``BackendClient`` named them; the SDK derives them from this."""

    #: ``get_<get>(<get>_id, ...)``: the object as sent, or None for no plain get.
    get: str | None = None
    #: The get's id keyword, when not ``<get>_id`` (``tag_id`` for ``get_task_tag``).
    get_id: str | None = None
    #: The get takes ``params`` after the id.
    get_params: bool = False
    #: ``list_<list>(...)``, or None for no plain list.
    list: str | None = None
    list_shape: ListShape = "page"


@dataclass(frozen=True)
class Kind:
    """The one declaration of a kind of object."""

    #: The client's attribute (``client.tasks``).
    name: str
    #: The resource class, as ``module:Class``.
    resource: str
    #: Collection path (create, and details below it).
    path: str
    capabilities: frozenset[Capability]
    #: The path listed, when it differs from ``path`` (``sdk/tasks/``).
    list_path: str | None = None
    pk: str = "id"
    #: Wire fields: name -> ``int``/``str``/``bool``/``date``/``json``/``ints``/``strs``
    #: or ``fk:<table>`` (an id of another kind's table, or that object when expanded).
    fields: Mapping[str, str] = field(default_factory=dict)
    filters: Mapping[str, Filter] = field(default_factory=dict)
    #: Whether the common ``ids``/``ids_ex``/``search`` filters apply.
    common_filters: bool = True
    #: Misspellings worth a pointer: ``created_after`` -> ``created__gt``.
    hints: Mapping[str, str] = field(default_factory=dict)
    orderings: frozenset[str] = frozenset({"id"})
    #: Relations ``expand=`` can nest.
    expansions: tuple[str, ...] = ()
    #: Relations always expanded when getting or listing.
    default_expand: tuple[str, ...] = ()
    #: Query parameters always sent when getting one object.
    detail_params: Mapping[str, str] = field(default_factory=dict)
    #: The list offers ``pagination=cursor`` with this unique ordering.
    cursor: str | None = None
    #: Updates are whole-object PUTs, not PATCHes.
    full_update: bool = False
    actions: tuple[Action, ...] = ()
    #: The method API's plain list/get wrappers of this kind.
    methods: Methods = Methods()
    #: Where the contract is silent or thin.
    note: str = ""

    @property
    def table(self) -> str:
        """The local backend's table: the collection path's last segment."""
        return self.path.strip("/").split("/")[-1]

    @property
    def listed_at(self) -> str:
        return self.list_path or self.path

    @property
    def module(self) -> str:
        return self.resource.partition(":")[0]

    @property
    def resource_name(self) -> str:
        return self.resource.partition(":")[2]

    def resource_class(self) -> type:
        """The resource class, its module imported on first need: a script that lists
        tasks never loads the plugin or model families."""
        import importlib

        found: type = getattr(importlib.import_module(self.module), self.resource_name)
        return found

    def allowed_filters(self) -> dict[str, Filter]:
        """Every filter the list accepts (the common ones included)."""
        return {**(COMMON_FILTERS if self.common_filters else {}), **self.filters}


COMMON_FILTERS: dict[str, Filter] = {
    "ids": Filter("ids", "id", "in"),
    "ids_ex": Filter("ids", "id", "not_in"),
    "search": Filter("str", lookup="text", note="full-text search; the local backend "
                     "matches the object's JSON text"),
}  # fmt: skip
#: The chunk size of the chunked-upload protocol (50 MiB), and the size above which a file
#: goes up in chunks (protocol.md 4.1).
UPLOAD_CHUNK_SIZE = 50 * 1024 * 1024
#: Query parameters that shape a listing rather than filter it.
CONTROL_PARAMS = frozenset(
    {"page", "page_size", "ordering", "expand", "fields", "pagination", "response_mode"}
)


def id_filters(name: str = "id") -> dict[str, Filter]:
    """``id``, ``id__in`` and the ranges, for an id field."""
    return {
        name: Filter("id", name),
        f"{name}__in": Filter("ids", name, "in"),
        **{f"{name}__{op}": Filter("int", name, op) for op in ("gt", "gte", "lt", "lte")},
    }


def date_ranges(*names: str) -> dict[str, Filter]:
    """``__gt``, ``__gte``, ``__lt``, ``__lte`` for date fields."""
    return {f"{n}__{op}": Filter("date", n, op) for n in names for op in ("gt", "gte", "lt", "lte")}


def _undocumented(kind: str) -> Filter:
    return Filter(
        "ids",
        refused=True,
        note=f"the backend accepts it on {kind}, but the contract gives no meaning",
    )


ALL: frozenset[Capability] = frozenset(CAPABILITIES)
#: Assignment states (the values of ``status_label`` and ``status_review``).
LABEL_STATES = ("stand_by", "in_progress", "completed", "skipped")
REVIEW_STATES = ("stand_by", "in_progress", "rejected", "completed", "skipped")
TASK_ASSIGNMENTS = Join("assignments", "task")

KINDS: dict[str, Kind] = {}


def declare(kind: Kind) -> Kind:
    """Register a kind; the SDK and the local backend see it from then on (a local
    backend started afterwards serves it)."""
    KINDS[kind.name] = kind
    _BY_RESOURCE.clear()
    return kind


def withdraw(name: str) -> None:
    """Forget a declared kind (a test's throwaway kind)."""
    KINDS.pop(name, None)
    _BY_RESOURCE.clear()


_BY_RESOURCE: dict[str, Kind] = {}


def filter_target(kind: Kind, declared: Filter) -> str | None:
    """The kind whose ids an ``id``/``ids`` filter of ``kind`` takes (``project`` of
    tasks: ``projects``), from the fields declared; None when they are not a kind's
    (``users``) or the filter takes no ids."""
    if declared.type not in ("id", "ids"):
        return None
    table = kind.name
    if declared.join is not None:
        table = declared.join.table
    if declared.field == "id":
        return table
    on = KINDS.get(table)
    wire = on.fields.get(declared.field, "") if on is not None else ""
    return wire.removeprefix("fk:") if wire.startswith("fk:") else None


def kind_of_resource(module: str, name: str) -> Kind | None:
    """The kind whose resource class is ``module:name``."""
    if not _BY_RESOURCE:
        _BY_RESOURCE.update({k.resource: k for k in KINDS.values()})
    return _BY_RESOURCE.get(f"{module}:{name}")


_ANN = "synapse.resources.annotation"
_INT = "synapse.resources.integration"
_DATA = "synapse.resources.data"
_ML = "synapse.resources.ml"

# fmt: off
declare(Kind(
    "projects", f"{_ANN}:Project", "projects/", ALL,
    methods=Methods(get="project"),
    fields={"title": "str", "description": "str", "category": "str",
            "data_collection": "fk:data_collections", "configuration": "json",
            "settings": "json", "is_archived": "bool", "task_count": "int",
            "count_max_assignments_per_task": "int", "created": "date"},
    orderings=frozenset({"id", "title", "category", "created"}),
    expansions=("data_collection",),
    note="v1 has no project list method: no filters are documented",
))
declare(Kind(
    "tasks", f"{_ANN}:Task", "tasks/", ALL, list_path="sdk/tasks/",
    methods=Methods(get="task", get_params=True, list="tasks", list_shape="full"),
    fields={"project": "fk:projects", "data_unit": "fk:data_units", "data": "json",
            "meta": "json", "tags": "ints", "is_discarded": "bool", "schema": "str",
            "status_label": "str", "status_review": "str", "workshop": "int",
            "assignment": "json", "count_assignments": "int", "created": "date"},
    filters={
        "project": Filter("id", "project"),
        **id_filters(),
        "is_discarded": Filter("bool", "is_discarded"),
        "schema": Filter("str", "schema", choices=("dm_schema_v1", "any")),
        "has_assignment": Filter("bool", "id", "exists", TASK_ASSIGNMENTS),
        "has_reached_max_assignments": Filter(
            "bool", refused=True,
            note="no meaning given (against which maximum, counting discarded ones?)"),
        "status_label": Filter("str", "status_label", choices=LABEL_STATES,
                               note="the task's labeling state [inferred from the enum]"),
        "status_review": Filter("str", "status_review", choices=REVIEW_STATES,
                                note="the task's review state [inferred from the enum]"),
        "assignments": Filter("ids", "id", "in", TASK_ASSIGNMENTS),
        "assignments__is_discarded": Filter("bool", "is_discarded", join=TASK_ASSIGNMENTS),
        "labelers": Filter("ids", "user", "in", TASK_ASSIGNMENTS),
        "reviewers": Filter("ids", "reviewer", "in", TASK_ASSIGNMENTS),
        "groups": _undocumented("tasks"),
        "stages": _undocumented("tasks"),
        "workshops": Filter("ids", "workshop", "in"),
        "tags": Filter("ids", "tags", "overlap"),
        "discarded_filter": Filter("str", refused=True, note="no values or meaning given"),
        **date_ranges("created"),
    },
    hints={"created_after": "created__gt", "created_before": "created__lt",
           "workshop": "workshops", "status": "status_label"},
    orderings=frozenset({"id", "created", "project", "data_unit", "status_label",
                         "status_review", "is_discarded"}),
    expansions=("data_unit", "project"),
    cursor="-id",
    actions=(Action("annotate_task_data", "PUT", "{pk}/annotate_task_data/"),
             Action("set_tags", "POST", "set_tags/")),
    note="sdk/tasks/ nests the data unit (with its files) without being asked; "
         "created_after/created_before are accepted by the backend but do not filter",
))
declare(Kind(
    "task_tags", f"{_ANN}:TaskTag", "task_tags/", ALL,
    methods=Methods(get="task_tag", get_id="tag_id", list="task_tags"),
    fields={"project": "fk:projects", "name": "str", "color": "str"},
    filters={"project": Filter("id", "project")},
    orderings=frozenset({"id", "name"}),
))
declare(Kind(
    "assignments", f"{_ANN}:Assignment", "assignments/",
    frozenset({"get", "list", "update"}), list_path="sdk/assignments/",
    methods=Methods(get="assignment", list="assignments", list_shape="full"),
    fields={"project": "fk:projects", "task": "fk:tasks", "user": "int", "reviewer": "int",
            "status_label": "str", "status_review": "str", "is_confirmed": "bool",
            "is_discarded": "bool", "is_discard_confirmed": "bool", "tags": "ints",
            "workshop": "int", "data": "json", "file": "json", "created": "date",
            "label_submitted": "date", "last_labeled": "date", "last_reviewed": "date",
            "labeler_last_action_at": "date", "reviewer_last_action_at": "date"},
    filters={
        "project": Filter("id", "project"),
        **id_filters(),
        "workshop": Filter("id", "workshop"),
        "tasks": Filter("ids", "task", "in"),
        "users": Filter("ids", "user", "in"),
        "reviewers": Filter("ids", "reviewer", "in"),
        "groups": _undocumented("assignments"),
        "stages": _undocumented("assignments"),
        "task_tags": Filter("ids", "tags", "overlap", Join("tasks", "task", reverse=False)),
        "tags": Filter("ids", "tags", "overlap"),
        "status_label": Filter("str", "status_label", choices=LABEL_STATES),
        "status_review": Filter("str", "status_review", choices=REVIEW_STATES),
        "is_discarded": Filter("bool", "is_discarded"),
        "is_discard_confirmed": Filter("bool", "is_discard_confirmed"),
        "is_confirmed": Filter("bool", "is_confirmed"),
        **date_ranges("created", "label_submitted", "last_labeled", "last_reviewed",
                      "labeler_last_action_at", "reviewer_last_action_at"),
    },
    hints={"task": "tasks", "workshops": "workshop", "user": "users",
           "created_after": "created__gt", "created_before": "created__lt"},
    orderings=frozenset({"id", "created", "status_label", "status_review", "user", "task"}),
    expansions=("task", "project"),
    cursor="-id",
    actions=(Action("set_tags", "POST", "set_tags/"),),
    note="no create or delete endpoint is documented",
))
declare(Kind(
    "agents", f"{_INT}:Agent", "agents/", frozenset({"list"}),
    fields={"name": "str", "url": "str", "status": "str", "token": "str",
            "node_install_script": "str"},
    orderings=frozenset({"id", "name", "status"}),
    actions=(Action("connect", "POST", "{pk}/connect/"),),
    note="agents are listed only; connect/ takes the agent's token in the path",
))
declare(Kind(
    "plugins", f"{_INT}:Plugin", "plugins/", ALL,
    methods=Methods(get="plugin"),
    fields={"code": "str", "name": "str", "category": "str", "description": "str",
            "is_active": "bool", "is_public": "bool", "meta": "json", "created": "date"},
    orderings=frozenset({"id", "code", "name", "category"}),
    full_update=True,
    actions=(Action("run", "POST", "{pk}/run/"),),
    note="v1 has no plugin list method: no filters are documented; run/ takes an id or a code",
))
declare(Kind(
    "plugin_releases", f"{_INT}:PluginRelease", "plugin_releases/",
    frozenset({"get", "list", "create"}),
    methods=Methods(get="plugin_release", get_id="release_id", get_params=True),
    fields={"plugin": "fk:plugins", "version": "str", "config": "json",
            "requirements": "strs", "debug": "bool", "file": "str", "created": "date"},
    filters={"plugin": Filter("code", "code", join=Join("plugins", "plugin", reverse=False))},
    common_filters=False,
    orderings=frozenset({"id", "version"}),
    expansions=("plugin",),
    note="a release is also found by '<code>@<version>' in the detail path",
))
declare(Kind(
    "jobs", f"{_INT}:Job", "jobs/", frozenset({"get", "list", "update"}),
    methods=Methods(get="job", get_params=True, list="jobs"),
    fields={"status": "str", "action": "str", "plugin_release": "fk:plugin_releases",
            "plugin": "fk:plugins",
            "agent": "json", "params": "json", "meta": "json", "progress_record": "json",
            "metrics_record": "json", "console_logs": "json", "result": "json",
            "error": "json", "created": "date", "started": "date", "finished": "date"},
    filters={
        "status": Filter("enum:JobStatus", "status"),
        "plugin": Filter("code", "code", join=Join("plugins", "plugin", reverse=False)),
        "agent": Filter("id", "agent"),
        "action": Filter("str", "action"),
        "limit": Filter("int", lookup="limit", note="seen in the package's callers"),
    },
    common_filters=False,
    orderings=frozenset({"id", "created", "status", "action"}),
    actions=(Action("console_logs", "GET", "{pk}/console_logs/"),),
    note="ids are UUID strings on some backends; the casing of the status filter is not "
         "pinned (the SDK sends the enum's uppercase value); the plugin filter takes a code, "
         "read here through the job's plugin [inferred: the contract names the release]",
))
declare(Kind(
    "storages", f"{_INT}:Storage", "storages/", frozenset({"get", "list", "create"}),
    methods=Methods(list="storages"),  # get_storage returns a model
    fields={"name": "str", "category": "str", "provider": "str", "configuration": "json",
            "is_default": "bool"},
    filters={"category": Filter("enum:StorageCategory", "category")},
    common_filters=False,
    orderings=frozenset({"id", "name", "category", "provider"}),
    detail_params={"with_configuration": "true"},
    note="create is not in v1 (inferred from DRF conventions)",
))
declare(Kind(
    "models", f"{_ML}:Model", "models/", ALL,
    methods=Methods(list="models"),  # get_model converts URLs
    fields={"name": "str", "description": "str", "category": "str", "project": "fk:projects",
            "plugin": "str", "version": "str", "checkpoint": "int", "configuration": "json",
            "file": "str", "created": "date"},
    filters={
        "project": Filter("id", "project"),
        "plugin": Filter("code", "plugin"),
        "name": Filter("str", "name"),
        "limit": Filter("int", lookup="limit", note="seen in the package's MCP server"),
        "offset": Filter("int", lookup="offset", refused=True,
                         note="seen in the package's MCP server, unverified with page "
                              "numbers (which of the two wins is not given)"),
    },
    common_filters=False,
    orderings=frozenset({"id", "name", "version", "category"}),
))
declare(Kind(
    "data_collections", f"{_DATA}:DataCollection", "data_collections/", ALL,
    methods=Methods(get="data_collection", get_id="collection_id"),
    fields={"name": "str", "description": "str", "category": "str", "meta": "json",
            "is_archived": "bool", "file_specifications": "json", "created": "date"},
    orderings=frozenset({"id", "name", "category"}),
    expansions=("file_specifications",),
    default_expand=("file_specifications",),
    note="list_data_collections() takes no parameters: no filters are documented",
))
declare(Kind(
    "data_files", f"{_DATA}:DataFile", "data_files/", frozenset({"get", "create"}),
    fields={"checksum": "str", "file": "str", "size": "int", "created_at": "date",
            "updated_at": "date"},
    actions=(Action("verify_checksums", "POST", "verify_checksums/"),),
    note="no list method: existence checks go through verify_checksums/",
))
declare(Kind(
    "data_units", f"{_DATA}:DataUnit", "data_units/", ALL,
    methods=Methods(get="data_unit", get_id="unit_id", get_params=True, list="data_units",
                    list_shape="timed"),
    fields={"data_collection": "fk:data_collections", "meta": "json", "files": "json",
            "groups": "strs", "created": "date"},
    filters={"data_collection": Filter("id", "data_collection",
                                       note="inferred: the natural filter, unverified")},
    orderings=frozenset({"id", "created"}),
    expansions=("data_collection",),
))
declare(Kind(
    "ground_truth_events", f"{_ML}:GroundTruthEvent", "sdk/ground_truth_events/",
    frozenset({"list"}), pk="pgh_id",
    methods=Methods(list="ground_truth_events", list_shape="sized"),
    fields={"pgh_id": "int", "ground_truth": "fk:ground_truths", "category": "str",
            "data": "json", "files": "json", "task": "int", "data_unit": "fk:data_units",
            "ground_truth_dataset_versions": "ints"},
    filters={
        "ground_truth": Filter("id", "ground_truth"),
        "ground_truth_dataset_versions": Filter("ids", "ground_truth_dataset_versions",
                                                "overlap"),
        "category": Filter("str", "category"),
        "categories": Filter("strs", "category", "in"),
        "classes": Filter("str", refused=True, note="no meaning or value format given"),
        "task": Filter("id", "task"),
    },
    hints={"ground_truth_dataset_version": "ground_truth_dataset_versions"},
    orderings=frozenset({"pgh_id", "category"}),
    expansions=("data_unit",),
    cursor="-pgh_id",
    note="id is the ground truth's (it repeats across events); pgh_id is the event's; "
         "no pgh_id range filter exists",
))
declare(Kind(
    "ground_truths", f"{_ML}:GroundTruth", "ground_truths/", frozenset({"list"}),
    methods=Methods(list="ground_truths", list_shape="timed"),
    fields={"category": "str", "data": "json", "files": "json",
            "ground_truth_dataset": "fk:ground_truth_datasets",
            "ground_truth_dataset_versions": "ints", "data_unit": "fk:data_units"},
    filters={
        "ground_truth_dataset": Filter("id", "ground_truth_dataset"),
        "ground_truth_dataset_versions": Filter("ids", "ground_truth_dataset_versions",
                                                "overlap"),
    },
    common_filters=False,
    orderings=frozenset({"id", "category"}),
    expansions=("data_unit",),
))
declare(Kind(
    "ground_truth_versions", f"{_ML}:GroundTruthDatasetVersion",
    "ground_truth_dataset_versions/", frozenset({"get", "list"}),
    methods=Methods(get="ground_truth_version", get_id="version_id",
                    list="ground_truth_versions"),
    fields={"ground_truth_dataset": "fk:ground_truth_datasets", "version": "str",
            "description": "str", "is_archived": "bool", "created": "date"},
    filters={"ground_truth_dataset": Filter("id", "ground_truth_dataset"),
             "is_archived": Filter("bool", "is_archived")},
    common_filters=False,
    orderings=frozenset({"id"}),
))
# fmt: on
