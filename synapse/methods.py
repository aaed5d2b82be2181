"""The method API of the original ``BackendClient``, on top of the object API.

Every method keeps its name, arguments and defaults (ids also as ``pk=``) and returns
plain JSON-like data as the server sent it, or the model the old package returned
(``get_storage``, ``list_agents``). Each is a thin call into the managers, the uploads and
the transport: there is no second HTTP path. The old mixins' import paths
(``synapse.clients.backend.annotation``...) hold the methods that need no manager. Where
the old package had a quirk, these methods do not copy it:

- ``list_*(list_all=True)`` returns ``(items, count)`` as the old package did, where
  ``items`` is a lazy, indexable [`ListResult`][synapse.results.ListResult] rather than a
  one-shot generator;
- ``url_conversion`` is applied only when given, in both listing modes; ``get_model``
  downloads nothing unless asked;
- ``create_tasks`` takes the seed's list form as well as the wire form;
- filter names in ``params`` are checked before sending (the backend ignores unknown
  ones and would return everything).

The module is long on purpose: one short method per method of the original client
(about 60), each a call into a manager, a query or the upload engine; splitting them by
family would scatter one API that users read as a whole.
"""

from __future__ import annotations

import base64
import inspect
import mimetypes
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any, Protocol

from synapse.client import Client
from synapse.clients.backend.annotation import AnnotationClientMixin
from synapse.clients.backend.bulk_upload.mixin import BulkUploadClientMixin
from synapse.clients.backend.core import pick_id
from synapse.clients.backend.integration import IntegrationClientMixin
from synapse.clients.backend.ml import MLClientMixin
from synapse.downloads import convert_urls
from synapse.encoding import check_readable
from synapse.enums import JobStatus, require_enum
from synapse.errors import InvalidInputError, UnknownFieldWarning
from synapse.executors import check_count
from synapse.protocol import KINDS, Kind, ListShape
from synapse.results import ListResult
from synapse.uploads import DEFAULT_CHUNK_SIZE, ProgressCallback, upload_state
from synapse.urls import PathParam

if TYPE_CHECKING:
    from synapse.managers import GetMixin, ListMixin
    from synapse.resources.annotation import TagSetter

__all__ = ["BackendClient"]

JOB_UPDATE_FIELDS = frozenset(
    {"status", "progress_record", "metrics_record", "console_logs", "result", "meta"}
)
OLD_CONVERSION_KEYS = frozenset({"files_fields", "is_list", "coerce"})

Params = Mapping[str, Any] | None
UrlConversion = Mapping[str, Any] | None


# The shapes of the plain list/get wrappers (`synapse.protocol.Methods`): each declared
# once here, as the type checker sees it and as ``inspect.signature`` shows it.


class PageList(Protocol):
    """``list_jobs(params=None, *, unknown_filters=None)``: one page, as sent."""

    def __call__(self, params: Params = None, *, unknown_filters: str | None = None) -> Any: ...


class FullList(Protocol):
    """``list_tasks(...)``: the page as sent, or ``(items, count)`` with ``list_all=True``."""

    def __call__(
        self,
        params: Params = None,
        url_conversion: UrlConversion = None,
        list_all: bool = False,
        *,
        timeout: Any = None,
        unknown_filters: str | None = None,
        stable: bool = False,
    ) -> Any: ...


class SizedList(Protocol):
    """As `FullList`, with ``page_size`` always sent."""

    def __call__(
        self,
        params: Params = None,
        url_conversion: UrlConversion = None,
        list_all: bool = False,
        page_size: int = 100,
        *,
        timeout: Any = None,
        unknown_filters: str | None = None,
        stable: bool = False,
    ) -> Any: ...


class TimedList(Protocol):
    """As `SizedList`, with ``timeout`` the read timeout in seconds."""

    def __call__(
        self,
        params: Params = None,
        url_conversion: UrlConversion = None,
        list_all: bool = False,
        page_size: int = 100,
        timeout: float = 60,
        *,
        unknown_filters: str | None = None,
        stable: bool = False,
    ) -> Any: ...


LIST_SHAPES: dict[ListShape, type[Any]] = {
    "page": PageList,
    "full": FullList,
    "sized": SizedList,
    "timed": TimedList,
}
#: ``get_<kind>(<kind>_id=None[, params=None], *, pk=None)``: the id's name differs by kind.
Getter = Callable[..., Any]


def _seed_conversion(transforms: Mapping[str, Callable[[str], Any]]) -> Callable[[Any], None]:
    """The documentation's ``url_conversion``: field name -> function applied to each URL
    in that field, on the item and on the objects nested in it (a task's ``files`` are in
    its expanded ``data_unit``)."""

    def convert(holder: MutableMapping[str, Any], name: str, fn: Callable[[str], Any]) -> None:
        value = holder.get(name)
        if isinstance(value, str):
            holder[name] = fn(value)
        elif isinstance(value, MutableMapping):
            for key, entry in list(value.items()):
                if isinstance(entry, str):
                    value[key] = fn(entry)
                elif isinstance(entry, MutableMapping) and isinstance(entry.get("url"), str):
                    entry["url"] = fn(entry["url"])

    def apply(item: Any) -> None:
        if not isinstance(item, MutableMapping):
            return
        nested = [v for v in item.values() if isinstance(v, MutableMapping)]
        for name, fn in transforms.items():
            convert(item, name, fn)
            for inner in nested:
                if inner is not item.get(name):
                    convert(inner, name, fn)

    return apply


class BackendClient(
    AnnotationClientMixin,
    IntegrationClientMixin,
    MLClientMixin,
    BulkUploadClientMixin,
    Client,
):
    """The original ``BackendClient``'s methods (``get_project``, ``list_tasks``...) on the
    same client as the object API: ``client.list_tasks()`` and ``client.tasks`` both work.

    Switching from the older package is an import change:

    ```python
    from synapse import BackendClient, ClientError
    ```
    """

    # The plain list/get wrappers, derived from each kind's declaration
    # (`synapse.protocol.Methods`) below the class; typed here for the checker (a test
    # holds these to the declarations).
    get_project: Getter
    get_task: Getter
    get_task_tag: Getter
    get_assignment: Getter
    get_plugin: Getter
    get_plugin_release: Getter
    get_job: Getter
    get_data_collection: Getter
    get_data_unit: Getter
    get_ground_truth_version: Getter
    list_tasks: FullList
    list_task_tags: PageList
    list_assignments: FullList
    list_jobs: PageList
    list_storages: PageList
    list_models: PageList
    list_data_units: TimedList
    list_ground_truth_events: SizedList
    list_ground_truths: TimedList
    list_ground_truth_versions: PageList

    def __init__(
        self,
        base_url: str | None = None,
        access_token: str | None = None,
        *,
        url_host: str | None = None,
        **options: Any,
    ) -> None:
        """As [`Client`][synapse.Client]; ``url_host`` (e.g. ``"internal"``) is sent as a
        query parameter of every request, asking the server to sign storage URLs for that
        host. A ``url_host`` a caller puts in ``params`` wins."""
        super().__init__(base_url, access_token, **options)
        if url_host:
            self.transport.default_params = {"url_host": str(url_host)}

    # ------------------------------------------------------------------ helpers

    def _check_params(
        self, manager: ListMixin[Any], params: Params, unknown_filters: str | None = None
    ) -> dict[str, Any]:
        """The params, once their filter names are known to be the backend's (or warned
        about, with ``unknown_filters="warn"`` here or on the client), enum values
        normalised."""
        return manager.filters.normalize(
            params or {},
            kind=manager.resource.__name__,
            unknown=unknown_filters or self.config.unknown_filters,
        )

    def _converter(self, spec: UrlConversion) -> Callable[[dict[str, Any]], None] | None:
        if not spec:
            return None
        if set(spec) <= OLD_CONVERSION_KEYS:
            item_spec = {**spec, "is_list": False}
            transport = self.transport
            return lambda item: convert_urls(transport, item, item_spec) and None
        for name, fn in spec.items():
            if not callable(fn):
                raise InvalidInputError(f"url_conversion[{name!r}] must be a function")
        return _seed_conversion(spec)

    def _list(
        self,
        manager: ListMixin[Any],
        params: Params,
        url_conversion: UrlConversion,
        list_all: bool,
        unknown_filters: str | None = None,
        stable: bool = False,
        *,
        page_size: int | None = None,
        timeout: Any = None,
        path: str | None = None,
    ) -> Any:
        """One page as sent, or ``(items, count)`` with ``list_all=True`` (the first page
        is read at once, as the old package did). ``page_size`` is sent when given and
        not in ``params``; ``path`` lists a variant of the kind (``sdk/tasks/data/``)."""
        items = self._items(
            manager, params, url_conversion, list_all, unknown_filters, stable,
            page_size=page_size, timeout=timeout, path=path,
        )  # fmt: skip
        return (items, len(items)) if isinstance(items, ListResult) else items

    def _items(
        self,
        manager: ListMixin[Any],
        params: Params,
        url_conversion: UrlConversion,
        list_all: bool,
        unknown_filters: str | None = None,
        stable: bool = False,
        *,
        page_size: int | None = None,
        timeout: Any = None,
        path: str | None = None,
    ) -> Any:
        given = self._check_params(manager, params, unknown_filters)
        if page_size is not None:
            given.setdefault("page_size", _page_size(page_size))
        if stable and not list_all:
            raise InvalidInputError("stable=True walks every page: use it with list_all=True")
        convert = self._converter(url_conversion)
        client = self
        if not list_all:
            page = manager._fetch_page(given, timeout=timeout, path=path)
            if convert is not None and isinstance(page, Mapping):
                for item in page.get("results", []):
                    convert(item)
            return page
        page_size = int(given.pop("page_size", client.config.page_size))
        given.pop("page", None)
        walk = None
        if stable:
            ordering = given.get("ordering")
            walk = manager.stable_walk(tuple(str(ordering).split(",")) if ordering else ())
        return ListResult(
            client,
            path or manager.list_path,
            list(given.items()),
            page_size,
            convert,
            walk=walk,
            resource=manager.resource,
            timeout=timeout,
        )

    def _all_items(
        self, manager: ListMixin[Any], params: Params, unknown_filters: str | None = None
    ) -> list[dict[str, Any]]:
        return list(self._items(manager, params, None, True, unknown_filters))

    if not TYPE_CHECKING:  # mypy keeps to the typed stub above

        def __getattr__(self, name: str) -> Any:
            # The wrappers of kinds declared after the class was made (a test's kind).
            wrapper = name.startswith(("get_", "list_"))
            method = derived_methods(KINDS.values()).get(name) if wrapper else None
            if method is not None:
                return method.__get__(self, type(self))
            return super().__getattr__(name)

    # ------------------------------------------------------------------ client utilities

    @property
    def requests_session(self) -> Any:
        """The shared ``requests.Session`` (connection pool)."""
        return self.transport.session

    def reset_connection(self) -> None:
        """Drop pooled connections; the next request opens a fresh one."""
        self.transport.close()

    def exists(self, api: str, *args: Any, **kwargs: Any) -> bool:
        """Whether a listing method finds anything: ``exists("list_tasks", params)``."""
        result = getattr(self, api)(*args, **kwargs)
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], ListResult):
            return bool(result[1] > 0)  # list_all=True: (items, count)
        return bool(result.get("count", 0) > 0) if isinstance(result, Mapping) else bool(result)

    # ------------------------------------------------------------------ annotation

    def _task_changed(self, task_id: PathParam) -> None:
        from synapse.resources.annotation import Task

        self.forget(Task, task_id)

    def list_tasks_data(self, params: Params = None, *, list_all: bool = False) -> Any:
        """GET ``sdk/tasks/data/``: rows of ``id`` and ``data`` only."""
        return self._list(self.tasks, params, None, list_all, path=_variant(self.tasks, "data"))

    def list_tasks_files(
        self, params: Params = None, *, url_conversion: UrlConversion = None, list_all: bool = False
    ) -> Any:
        """GET ``sdk/tasks/files/``: rows whose ``files`` is a list of file infos."""
        return self._list(
            self.tasks, params, url_conversion, list_all, path=_variant(self.tasks, "files")
        )

    def create_tasks(self, data: Any) -> Any:
        """Create tasks from ``{project, data: [{data_unit}]}`` or the seed's list
        ``[{"project": 1, "data_unit": 5}, ...]`` (one request per project)."""
        if isinstance(data, Mapping):
            return self.tasks._create_json(dict(data))
        groups: dict[Any, list[dict[str, Any]]] = {}
        for item in data:
            if not isinstance(item, Mapping) or "project" not in item:
                raise InvalidInputError(f"each task needs a project: {item!r:.100}")
            rest = {k: v for k, v in item.items() if k != "project"}
            groups.setdefault(item["project"], []).append(rest)
        created: list[Any] = []
        for project, rows in groups.items():
            answer = self.tasks._create_json({"project": project, "data": rows})
            created.extend(answer if isinstance(answer, list) else [answer])
        return created

    def _set_tags(
        self, manager: TagSetter, ids_key: str, data: Mapping[str, Any], params: Params
    ) -> Any:
        """Both body shapes: the documentation's ``{<kind>_ids, tag_ids}`` and the wire's
        ``{ids, tags, action}``."""
        documented = ids_key in data or "tag_ids" in data
        ids = data.get(ids_key) if documented else data.get("ids")
        tags = data.get("tag_ids") if documented else data.get("tags")
        for key, values in (("ids", ids), ("tags", tags)):
            if not isinstance(values, list):
                raise InvalidInputError(f"set-tags {key} must be a list of int ids")
        return manager.set_tags(ids or [], tags or [], data.get("action", "add"), params=params)

    def set_tags_tasks(self, data: Mapping[str, Any], params: Params = None) -> Any:
        """POST ``tasks/set_tags/``: ``{task_ids, tag_ids}`` or ``{ids, tags, action}``."""
        return self._set_tags(self.tasks, "task_ids", data, params)

    # ------------------------------------------------------------------ core

    def create_chunked_upload(
        self,
        file_path: str | os.PathLike[str],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        on_progress: ProgressCallback | None = None,
        read_timeout: float | None = None,
        resume: bool | None = None,
    ) -> Any:
        """Upload a file with the resumable chunked protocol; the finalized upload."""
        return self.chunked_upload(
            file_path,
            chunk_size=chunk_size,
            on_progress=on_progress,
            resume=resume,
            timeout=self._read_timeout(read_timeout),
        )

    def _read_timeout(self, read: float | None) -> tuple[float | None, float | None] | None:
        """The client's connect timeout with this read timeout; ``None`` keeps the
        client's defaults."""
        return None if read is None else (self.config.timeout.connect, read)

    def get_chunked_upload(self, upload_id: PathParam) -> Any:
        """GET ``chunked_upload/{id}/``: its offset and completion."""
        return upload_state(self.transport, upload_id)

    # ------------------------------------------------------------------ data collection

    def list_data_collections(self) -> Any:
        """GET ``data_collections/`` (one page)."""
        return self.data_collections._fetch_page()

    list_data_collection = list_data_collections

    def create_data_file(
        self,
        file_path: str | os.PathLike[str],
        use_chunked_upload: bool | None = None,
        *,
        read_timeout: float | None = None,
    ) -> Any:
        """Upload a file as a data file: chunked above 50 MiB unless told; ``read_timeout``
        applies to every request of the upload."""
        created = self.data_files.create(
            file_path, chunked=use_chunked_upload, timeout=self._read_timeout(read_timeout)
        )
        return created._meta.raw

    def upload_data_file(
        self,
        organized_file: Mapping[str, Any],
        collection_id: int,
        use_chunked_upload: bool | None = None,
        *,
        read_timeout: float | None = None,
    ) -> dict[str, Any]:
        """Upload each file of ``{"files": {spec: path}, "meta", "groups"}``; returns the
        payload for `create_data_units()` (no unit is created)."""
        return self.data_units.upload_payload(
            collection_id,
            organized_file.get("files") or {},
            organized_file.get("meta"),
            organized_file.get("groups"),
            chunked=use_chunked_upload,
            timeout=self._read_timeout(read_timeout),
        )

    def upload_data_collection(
        self,
        collection_id: int,
        data: Iterable[Mapping[str, Any]],
        *,
        project_id: int | None = None,
        batch_size: int = 1000,
        max_workers: int = 10,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """Upload every item's files (threads), create the data units by batches and,
        with ``project_id``, a task per unit. ``on_progress(done, total)`` per item."""
        items = list(data)
        check_count("batch_size", batch_size)
        done = 0

        def upload(item: Mapping[str, Any]) -> dict[str, Any]:
            return self.upload_data_file(item, collection_id)

        with ThreadPoolExecutor(max(1, min(max_workers, len(items) or 1))) as pool:
            payloads = []
            for payload in pool.map(upload, items):
                payloads.append(payload)
                done += 1
                if on_progress is not None:
                    on_progress(done, len(items))
        for start in range(0, len(payloads), batch_size):
            answer = self.create_data_units(payloads[start : start + batch_size])
            units = answer if isinstance(answer, list) else answer.get("results", [answer])
            if project_id is not None and units:
                rows = [{"data_unit": unit["id"]} for unit in units]
                self.tasks._create_json({"project": project_id, "data": rows})

    def create_data_units(self, uploaded_files: Any) -> Any:
        """POST ``data_units/`` with one payload or a list; the answer as sent.

        Each payload is what `upload_data_file()` returns: ``{"data_collection": id,
        "files": {spec: {"checksum", "path"}}, "meta"?, "groups"?}``. Anything else is
        refused before sending, with a message that says so.
        """
        single = isinstance(uploaded_files, Mapping)
        items = [uploaded_files] if single else list(uploaded_files)
        for index, item in enumerate(items):
            problem = _data_unit_problem(item)
            if problem:
                where = "" if single else f"item {index}: "
                raise InvalidInputError(
                    f"{where}{problem}. A data unit needs data_collection (an id) and files "
                    "({spec name: {'checksum', 'path'}}); upload_data_file(...) returns "
                    "exactly that payload for each item"
                )
        body = dict(uploaded_files) if single else items
        return self.data_units._create_json(body)

    def verify_data_files_checksums(self, checksums: Iterable[str]) -> Any:
        """POST ``data_files/verify_checksums/``: which checksums exist."""
        return self.data_files._verify_checksums_json(checksums)

    # ------------------------------------------------------------------ HITL

    def list_assignments_data(self, params: Params = None, *, list_all: bool = False) -> Any:
        """GET ``sdk/assignments/data/``: rows of ``id`` and ``data``."""
        return self._list(
            self.assignments, params, None, list_all, path=_variant(self.assignments, "data")
        )

    def list_assignments_files(
        self, params: Params = None, *, url_conversion: UrlConversion = None, list_all: bool = False
    ) -> Any:
        """GET ``sdk/assignments/files/``: rows with the task's files as a list."""
        return self._list(
            self.assignments, params, url_conversion, list_all,
            path=_variant(self.assignments, "files"),
        )  # fmt: skip

    def set_tags_assignments(self, data: Mapping[str, Any], params: Params = None) -> Any:
        """POST ``assignments/set_tags/``: ``{assignment_ids, tag_ids}`` or the wire shape."""
        return self._set_tags(self.assignments, "assignment_ids", data, params)

    # ------------------------------------------------------------------ integration

    def list_agents(self, params: Params = None, *, unknown_filters: str | None = None) -> Any:
        """Every agent, as [`Agent`][synapse.clients.backend.models.Agent] models."""
        from synapse.clients.backend.models import Agent

        return [
            Agent.model_validate(a) for a in self._all_items(self.agents, params, unknown_filters)
        ]

    def health_check_agent(self, agent_token: str) -> Any:
        """POST ``agents/{token}/connect/``."""
        return self.agents.health_check(agent_token)

    def create_plugin(self, data: Mapping[str, Any]) -> Any:
        """POST ``plugins/``."""
        return self.plugins._create_json(dict(data))

    def update_plugin(
        self,
        plugin_id: PathParam | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        pk: PathParam | None = None,
    ) -> Any:
        """PUT ``plugins/{id}/`` (the backend takes full updates of plugins)."""
        return self.plugins._send_update(pick_id("plugin_id", plugin_id, pk), _body(data))

    def run_plugin(
        self,
        plugin: PathParam | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        pk: PathParam | None = None,
    ) -> Any:
        """POST ``plugins/{id or code}/run/``; the answer as sent (a job, or a result).

        ``parameters`` is accepted for ``params`` (the original documentation's word). A key
        the SDK does not know is sent as given, with an
        [`UnknownFieldWarning`][synapse.errors.UnknownFieldWarning].
        """
        pk = pick_id("plugin", plugin, pk)
        fields = _body(data)
        if "parameters" in fields:
            if "params" in fields:
                raise InvalidInputError("give params or parameters, not both")
            fields["params"] = fields.pop("parameters")
        from synapse.resources.integration import RunOptions

        known = set(RunOptions.wire_names().values())
        unknown = sorted(set(fields) - known)
        if unknown:
            warnings.warn(
                f"run_plugin: sending {unknown} as given; the SDK knows {sorted(known)}",
                UnknownFieldWarning,
                stacklevel=2,
            )
        body = RunOptions.from_wire(fields).body()
        body.update({name: fields[name] for name in unknown})
        return self.plugins._run_json(pk, body)

    def create_plugin_release(
        self,
        data: Mapping[str, Any],
        *,
        file: str | os.PathLike[str] | IO[bytes] | None = None,
    ) -> Any:
        """POST ``plugin_releases/``; a ``file`` (in ``data`` or as keyword) goes multipart."""
        fields = dict(data)
        archive = file if file is not None else fields.pop("file", None)
        fields.pop("file", None)
        release = self.plugin_releases.create(file=archive, **fields)
        return release._meta.raw

    def list_plugin_releases(
        self, plugin_code: str | None = None, params: Params = None
    ) -> list[dict[str, Any]]:
        """Every release (of ``plugin_code`` if given), as dicts."""
        given = {**(params or {}), **({"plugin": plugin_code} if plugin_code else {})}
        return self._all_items(self.plugin_releases, given)

    def update_job(
        self,
        job_id: PathParam | None = None,
        data: Mapping[str, Any] | None = None,
        *,
        pk: PathParam | None = None,
    ) -> Any:
        """PATCH ``jobs/{id}/`` with the job fields the backend takes."""
        pk = pick_id("job_id", job_id, pk)
        data = _body(data)
        unknown = set(data) - JOB_UPDATE_FIELDS
        if unknown:
            raise InvalidInputError(
                f"update_job takes {sorted(JOB_UPDATE_FIELDS)}, not {sorted(unknown)}"
            )
        body = {k: v for k, v in data.items() if v is not None}
        if "status" in body:
            body["status"] = require_enum(JobStatus, body["status"], field="status").value
        return self.jobs._send_update(pk, body)

    def list_job_console_logs(
        self, job_id: PathParam | None = None, *, pk: PathParam | None = None
    ) -> Any:
        """GET ``jobs/{id}/console_logs/``."""
        return self.jobs.console_logs(pick_id("job_id", job_id, pk))

    def create_logs(self, data: Any) -> Any:
        """POST ``logs/``: one entry as an object, several as a list. ``file`` paths are
        sent as data URIs. The caller's dicts are not changed."""
        entries = [data] if isinstance(data, Mapping) else list(data)
        prepared = []
        for entry in entries:
            item = dict(entry)
            if isinstance(item.get("file"), (str, os.PathLike)) and not str(
                item["file"]
            ).startswith("data:"):
                item["file"] = _data_uri(item["file"])
            prepared.append(item)
        body: Any = prepared[0] if len(prepared) == 1 else prepared
        return self.jobs.create_logs(body)

    def get_storage(
        self, storage_id: PathParam | None = None, *, pk: PathParam | None = None
    ) -> Any:
        """GET ``storages/{id}/?with_configuration=true``, as a
        [`Storage`][synapse.clients.backend.models.Storage] model (``storage.provider``,
        and ``storage["provider"]`` too)."""
        from synapse.clients.backend.models import Storage

        return Storage.model_validate(self.storages.fetch(pick_id("storage_id", storage_id, pk)))

    def create_storage(self, data: Mapping[str, Any]) -> Any:
        """POST ``storages/``; ``category`` may be left to the server, and a ``provider``
        the SDK does not list is sent with a warning (see ``client.storages.create``)."""
        return self.storages.create(**data)._meta.raw

    # ------------------------------------------------------------------ ML

    def get_model(
        self,
        model_id: PathParam | None = None,
        params: Params = None,
        url_conversion: UrlConversion = None,
        *,
        pk: PathParam | None = None,
    ) -> Any:
        """GET ``models/{id}/``; the file is downloaded only if ``url_conversion`` asks."""
        model = self.models.fetch(pick_id("model_id", model_id, pk), params)
        convert = self._converter(url_conversion)
        if convert is not None:
            convert(model)
        return model

    def create_model(
        self, data: Mapping[str, Any], *, file: str | os.PathLike[str] | None = None
    ) -> Any:
        """POST ``models/``; a ``file`` (keyword, or a path in ``data``) is uploaded
        (chunked) first. The caller's dict is not changed."""
        fields = dict(data)
        in_data = fields.pop("file", None)
        if file is not None and in_data is not None:
            raise InvalidInputError("give the model file once: file= or data['file']")
        file = file if file is not None else in_data
        return self.models.create(file=file, **fields)._meta.raw

    def list_ground_truth_events_data(
        self, params: Params = None, *, list_all: bool = False, page_size: int = 100
    ) -> Any:
        """GET ``sdk/ground_truth_events/data/``: rows of ``id`` and ``data``."""
        manager = self.ground_truth_events
        return self._list(
            manager, params, None, list_all, page_size=page_size, path=_variant(manager, "data")
        )

    def list_ground_truth_events_files(
        self,
        params: Params = None,
        *,
        url_conversion: UrlConversion = None,
        list_all: bool = False,
        page_size: int = 100,
    ) -> Any:
        """GET ``sdk/ground_truth_events/files/``: rows whose ``files`` is a list."""
        manager = self.ground_truth_events
        return self._list(
            manager, params, url_conversion, list_all,
            page_size=page_size, path=_variant(manager, "files"),
        )  # fmt: skip


def derived_methods(kinds: Iterable[Kind]) -> dict[str, Callable[..., Any]]:
    """The plain ``get_*``/``list_*`` wrappers that ``kinds`` declare, by name."""
    methods: dict[str, Callable[..., Any]] = {}
    for kind in kinds:
        if kind.methods.get:
            methods[f"get_{kind.methods.get}"] = _getter(kind)
        if kind.methods.list:
            methods[f"list_{kind.methods.list}"] = _lister(kind)
    return methods


def _named(
    method: Callable[..., Any], name: str, signature: inspect.Signature, doc: str
) -> Callable[..., Any]:
    method.__name__ = name
    method.__qualname__ = f"BackendClient.{name}"
    method.__doc__ = doc
    method.__dict__["__signature__"] = signature  # what IDEs and help() show
    return method


def _getter(kind: Kind) -> Callable[..., Any]:
    declared = kind.methods
    id_name = declared.get_id or f"{declared.get}_id"
    arg = inspect.Parameter.POSITIONAL_OR_KEYWORD
    parameters = [
        inspect.Parameter("self", arg),
        inspect.Parameter(id_name, arg, default=None, annotation="PathParam | None"),
    ]
    if declared.get_params:
        parameters.append(inspect.Parameter("params", arg, default=None, annotation="Params"))
    parameters.append(
        inspect.Parameter(
            "pk", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="PathParam | None"
        )
    )
    signature = inspect.Signature(parameters, return_annotation="Any")

    def get(self: BackendClient, *args: Any, **kwargs: Any) -> Any:
        given = signature.bind(self, *args, **kwargs).arguments
        pk = pick_id(id_name, given.get(id_name), given.get("pk"))
        manager: GetMixin[Any] = getattr(self, kind.name)
        return manager.fetch(pk, given.get("params"))

    extra = " (``params`` such as ``expand``, ``fields``)" if declared.get_params else ""
    return _named(get, f"get_{declared.get}", signature, f"GET ``{kind.path}{{id}}/``{extra}.")


def _lister(kind: Kind) -> Callable[..., Any]:
    shape = kind.methods.list_shape
    signature = inspect.signature(LIST_SHAPES[shape].__call__)
    if shape == "page":
        doc = f"GET ``{kind.listed_at}`` (one page)."
    else:
        doc = f"GET ``{kind.listed_at}``: the page as sent, or ``(items, count)`` with "
        doc += "``list_all=True``"
        doc += "." if shape == "full" else " (``page_size`` always sent)."

    def list_(self: BackendClient, *args: Any, **kwargs: Any) -> Any:
        given = signature.bind(self, *args, **kwargs)
        given.apply_defaults()
        options = given.arguments
        timeout = options.get("timeout")
        return self._list(
            getattr(self, kind.name),
            options["params"],
            options.get("url_conversion"),
            options.get("list_all", False),
            options["unknown_filters"],
            options.get("stable", False),
            page_size=options.get("page_size"),
            timeout=self._read_timeout(timeout) if shape == "timed" else timeout,
        )

    return _named(list_, f"list_{kind.methods.list}", signature, doc)


for _name, _method in derived_methods(KINDS.values()).items():
    setattr(BackendClient, _name, _method)


def _variant(manager: ListMixin[Any], name: str) -> str:
    """The path of a list variant: ``sdk/tasks/`` -> ``sdk/tasks/data/``."""
    return f"{manager.list_path}{name}/"


def _page_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise InvalidInputError(f"page_size must be an int from 1 to 1000, got {value!r}")
    return value


def _body(data: Mapping[str, Any] | None) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"data must be a dict, got {type(data).__name__}")
    return dict(data)


def _data_unit_problem(item: Any) -> str:
    if not isinstance(item, Mapping):
        return f"expected a dict, got {type(item).__name__}"
    missing = [name for name in ("data_collection", "files") if name not in item]
    if missing:
        return f"missing {', '.join(missing)} (got keys {sorted(item)})"
    collection = item["data_collection"]
    if isinstance(collection, bool) or not isinstance(collection, int):
        return f"data_collection must be an int id, got {collection!r}"
    if not isinstance(item["files"], Mapping) or not item["files"]:
        return "files must be a non-empty dict of spec name -> {'checksum', 'path'}"
    return ""


def _data_uri(path: str | os.PathLike[str]) -> str:
    file = check_readable(path)
    mime = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(file.read_bytes()).decode()}"
