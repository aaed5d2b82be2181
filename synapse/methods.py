"""The method API of the original ``BackendClient``, on top of the object API.

Every method keeps its name and arguments and returns plain JSON-like data as the server
sent it. Each is a thin call into the managers, the uploads and the transport: there is
no second HTTP path. Where the old package had a quirk, these
methods do not copy it:

- ``list_*(list_all=True)`` returns a lazy [`ListResult`][synapse.results.ListResult] (its
  ``len()`` is the
  server's count) instead of a ``(generator, count)`` tuple;
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
import mimetypes
import os
import warnings
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import IO, TYPE_CHECKING, Any

from synapse.client import Client
from synapse.downloads import convert_urls
from synapse.encoding import check_readable
from synapse.enums import AnnotateAction, JobStatus, require_enum
from synapse.errors import ClientError, InvalidInputError, UnknownFieldWarning
from synapse.results import ListResult
from synapse.uploads import DEFAULT_CHUNK_SIZE, ProgressCallback, upload_state
from synapse.urls import PathParam

if TYPE_CHECKING:
    from synapse.managers import ListMixin
    from synapse.resources.annotation import TagSetter

__all__ = ["BackendClient"]

JOB_UPDATE_FIELDS = frozenset(
    {"status", "progress_record", "metrics_record", "console_logs", "result", "meta"}
)
OLD_CONVERSION_KEYS = frozenset({"files_fields", "is_list", "coerce"})
RUN_FIELDS = frozenset(
    {"agent", "action", "params", "storage_id", "job_id", "debug", "version", "language"}
)

Params = Mapping[str, Any] | None
UrlConversion = Mapping[str, Any] | None


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


class BackendClient(Client):
    """The original ``BackendClient``'s methods (``get_project``, ``list_tasks``...) on the
    same client as the object API: ``client.list_tasks()`` and ``client.tasks`` both work.

    Switching from the older package is an import change:

    ```python
    from synapse import BackendClient, ClientError
    ```
    """

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
    ) -> Any:
        given = self._check_params(manager, params, unknown_filters)
        if stable and not list_all:
            raise InvalidInputError("stable=True walks every page: use it with list_all=True")
        convert = self._converter(url_conversion)
        client = self
        if not list_all:
            page = manager.fetch_page(given)
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
            manager.list_path,
            list(given.items()),
            page_size,
            convert,
            walk=walk,
            resource=manager.resource,
        )

    def _all_items(
        self, manager: ListMixin[Any], params: Params, unknown_filters: str | None = None
    ) -> list[dict[str, Any]]:
        return list(self._list(manager, params, None, True, unknown_filters))

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
        if isinstance(result, ListResult):
            return len(result) > 0
        return bool(result.get("count", 0) > 0) if isinstance(result, Mapping) else bool(result)

    # ------------------------------------------------------------------ annotation

    def get_project(self, pk: PathParam) -> Any:
        """GET ``projects/{pk}/``."""
        return self.projects.fetch(pk)

    def get_task(self, pk: PathParam, params: Params = None) -> Any:
        """GET ``tasks/{pk}/`` (``params`` such as ``expand``, ``fields``)."""
        return self.tasks.fetch(pk, params)

    def annotate_task_data(
        self, pk: PathParam, data: Mapping[str, Any], schema: str | None = None
    ) -> Any:
        """PUT ``tasks/{pk}/annotate_task_data/`` with ``{"action", "data"}``.

        ``data`` is that wire body, or (as the original documentation writes it) the
        annotation itself, which is then submitted: ``{"action": "submit", "data": data}``.
        """
        return self.tasks.annotate(pk, annotate_body(data), schema)

    def annotate_task_data_batch(
        self, items: Iterable[Mapping[str, Any]], *, max_workers: int | None = None
    ) -> dict[Any, dict[str, Any]]:
        """Annotate many tasks in parallel; per task ``{success, error, response}``."""
        batch = list(items)
        for item in batch:
            if "task_id" not in item:
                raise InvalidInputError(f"each item needs a task_id: {dict(item)!r:.100}")

        def one(item: Mapping[str, Any]) -> dict[str, Any]:
            try:
                response = self.annotate_task_data(
                    item["task_id"], item.get("data", {}), item.get("schema")
                )
                return {"success": True, "error": None, "response": response}
            except ClientError as exc:
                return {"success": False, "error": str(exc), "response": None}

        with ThreadPoolExecutor(max_workers or max(1, min(len(batch), 16))) as pool:
            results = list(pool.map(one, batch))
        return {item["task_id"]: result for item, result in zip(batch, results, strict=True)}

    def list_tasks(
        self,
        params: Params = None,
        url_conversion: UrlConversion = None,
        list_all: bool = False,
        *,
        unknown_filters: str | None = None,
        stable: bool = False,
    ) -> Any:
        """GET ``sdk/tasks/``: the page as sent, or every task with ``list_all=True``."""
        return self._list(self.tasks, params, url_conversion, list_all, unknown_filters, stable)

    def create_tasks(self, data: Any) -> Any:
        """Create tasks from ``{project, data: [{data_unit}]}`` or the seed's list
        ``[{"project": 1, "data_unit": 5}, ...]`` (one request per project)."""
        if isinstance(data, Mapping):
            return self.tasks.create_json(dict(data))
        groups: dict[Any, list[dict[str, Any]]] = {}
        for item in data:
            if not isinstance(item, Mapping) or "project" not in item:
                raise InvalidInputError(f"each task needs a project: {item!r:.100}")
            rest = {k: v for k, v in item.items() if k != "project"}
            groups.setdefault(item["project"], []).append(rest)
        created: list[Any] = []
        for project, rows in groups.items():
            answer = self.tasks.create_json({"project": project, "data": rows})
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

    def get_task_tag(self, pk: PathParam) -> Any:
        """GET ``task_tags/{pk}/``."""
        return self.task_tags.fetch(pk)

    def list_task_tags(self, params: Params = None, *, unknown_filters: str | None = None) -> Any:
        """GET ``task_tags/`` (one page)."""
        return self._list(self.task_tags, params, None, False, unknown_filters)

    # ------------------------------------------------------------------ core

    def create_chunked_upload(
        self,
        file_path: str | os.PathLike[str],
        *,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        on_progress: ProgressCallback | None = None,
        resume: bool | None = None,
    ) -> Any:
        """Upload a file with the resumable chunked protocol; the finalized upload."""
        return self.chunked_upload(
            file_path, chunk_size=chunk_size, on_progress=on_progress, resume=resume
        )

    def get_chunked_upload(self, upload_id: PathParam) -> Any:
        """GET ``chunked_upload/{id}/``: its offset and completion."""
        return upload_state(self.transport, upload_id)

    # ------------------------------------------------------------------ data collection

    def list_data_collections(self) -> Any:
        """GET ``data_collections/`` (one page)."""
        return self.data_collections.fetch_page()

    list_data_collection = list_data_collections

    def get_data_collection(self, pk: PathParam) -> Any:
        """GET ``data_collections/{pk}/`` with its ``file_specifications``."""
        return self.data_collections.fetch(pk)

    def create_data_file(
        self, file_path: str | os.PathLike[str], use_chunked_upload: bool | None = None
    ) -> Any:
        """Upload a file as a data file: chunked above 50 MiB unless told."""
        return self.data_files.create(file_path, chunked=use_chunked_upload)._meta.raw

    def upload_data_file(
        self,
        organized_file: Mapping[str, Any],
        collection_id: int,
        use_chunked_upload: bool | None = None,
    ) -> dict[str, Any]:
        """Upload each file of ``{"files": {spec: path}, "meta", "groups"}``; returns the
        payload for `create_data_units()` (no unit is created)."""
        return self.data_units.upload_payload(
            collection_id,
            organized_file.get("files") or {},
            organized_file.get("meta"),
            organized_file.get("groups"),
            chunked=use_chunked_upload,
        )

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
        return self.data_units.create_json(body)

    def get_data_unit(self, pk: PathParam, params: Params = None) -> Any:
        """GET ``data_units/{pk}/``."""
        return self.data_units.fetch(pk, params)

    def list_data_units(
        self,
        params: Params = None,
        url_conversion: UrlConversion = None,
        list_all: bool = False,
        *,
        unknown_filters: str | None = None,
        stable: bool = False,
    ) -> Any:
        """GET ``data_units/``."""
        return self._list(
            self.data_units, params, url_conversion, list_all, unknown_filters, stable
        )

    def verify_data_files_checksums(self, checksums: Iterable[str]) -> Any:
        """POST ``data_files/verify_checksums/``: which checksums exist."""
        return self.data_files.verify_checksums_json(checksums)

    # ------------------------------------------------------------------ HITL

    def get_assignment(self, pk: PathParam) -> Any:
        """GET ``assignments/{pk}/``."""
        return self.assignments.fetch(pk)

    def list_assignments(
        self,
        params: Params = None,
        url_conversion: UrlConversion = None,
        list_all: bool = False,
        *,
        unknown_filters: str | None = None,
        stable: bool = False,
    ) -> Any:
        """GET ``sdk/assignments/``."""
        return self._list(
            self.assignments, params, url_conversion, list_all, unknown_filters, stable
        )

    def set_tags_assignments(self, data: Mapping[str, Any], params: Params = None) -> Any:
        """POST ``assignments/set_tags/``: ``{assignment_ids, tag_ids}`` or the wire shape."""
        return self._set_tags(self.assignments, "assignment_ids", data, params)

    # ------------------------------------------------------------------ integration

    def list_agents(
        self, params: Params = None, *, unknown_filters: str | None = None
    ) -> list[dict[str, Any]]:
        """Every agent, as dicts."""
        return self._all_items(self.agents, params, unknown_filters)

    def health_check_agent(self, token: str) -> Any:
        """POST ``agents/{token}/connect/``."""
        return self.agents.health_check(token)

    def get_plugin(self, pk: PathParam) -> Any:
        """GET ``plugins/{pk}/``."""
        return self.plugins.fetch(pk)

    def create_plugin(self, data: Mapping[str, Any]) -> Any:
        """POST ``plugins/``."""
        return self.plugins.create_json(dict(data))

    def update_plugin(self, pk: PathParam, data: Mapping[str, Any]) -> Any:
        """PUT ``plugins/{pk}/`` (the backend takes full updates of plugins)."""
        return self.plugins.send_update(pk, data)

    def run_plugin(self, pk: PathParam, data: Mapping[str, Any]) -> Any:
        """POST ``plugins/{id or code}/run/``; the answer as sent (a job, or a result).

        ``parameters`` is accepted for ``params`` (the original documentation's word). A key
        the SDK does not know is sent as given, with an
        [`UnknownFieldWarning`][synapse.errors.UnknownFieldWarning].
        """
        fields = dict(data)
        if "parameters" in fields:
            if "params" in fields:
                raise InvalidInputError("give params or parameters, not both")
            fields["params"] = fields.pop("parameters")
        unknown = sorted(set(fields) - RUN_FIELDS)
        if unknown:
            warnings.warn(
                f"run_plugin: sending {unknown} as given; the SDK knows {sorted(RUN_FIELDS)}",
                UnknownFieldWarning,
                stacklevel=2,
            )
        from synapse.resources.integration import run_body

        body = run_body(
            fields.get("action"),
            fields.get("params"),
            fields.get("agent"),
            fields.get("storage_id"),
            fields.get("version"),
            fields.get("job_id"),
            fields.get("debug"),
            fields.get("language", "ko"),
        )
        body.update({name: fields[name] for name in unknown})
        return self.plugins.run_json(pk, body)

    def create_plugin_release(
        self, data: Mapping[str, Any], file: str | os.PathLike[str] | IO[bytes] | None = None
    ) -> Any:
        """POST ``plugin_releases/``; a ``file`` (in ``data`` or as keyword) goes multipart."""
        fields = dict(data)
        archive = file if file is not None else fields.pop("file", None)
        fields.pop("file", None)
        release = self.plugin_releases.create(file=archive, **fields)
        return release._meta.raw

    def get_plugin_release(self, pk: PathParam, params: Params = None) -> Any:
        """GET ``plugin_releases/{id or code@version}/``."""
        return self.plugin_releases.fetch(pk, params)

    def list_plugin_releases(
        self, plugin_code: str | None = None, params: Params = None
    ) -> list[dict[str, Any]]:
        """Every release (of ``plugin_code`` if given), as dicts."""
        given = {**(params or {}), **({"plugin": plugin_code} if plugin_code else {})}
        return self._all_items(self.plugin_releases, given)

    def list_jobs(self, params: Params = None, *, unknown_filters: str | None = None) -> Any:
        """GET ``jobs/`` (one page)."""
        return self._list(self.jobs, params, None, False, unknown_filters)

    def get_job(self, pk: PathParam, params: Params = None) -> Any:
        """GET ``jobs/{pk}/``."""
        return self.jobs.fetch(pk, params)

    def update_job(self, pk: PathParam, data: Mapping[str, Any]) -> Any:
        """PATCH ``jobs/{pk}/`` with the job fields the backend takes."""
        unknown = set(data) - JOB_UPDATE_FIELDS
        if unknown:
            raise InvalidInputError(
                f"update_job takes {sorted(JOB_UPDATE_FIELDS)}, not {sorted(unknown)}"
            )
        body = {k: v for k, v in data.items() if v is not None}
        if "status" in body:
            body["status"] = require_enum(JobStatus, body["status"], field="status").value
        return self.jobs.send_update(pk, body)

    def list_job_console_logs(self, pk: PathParam) -> Any:
        """GET ``jobs/{pk}/console_logs/``."""
        return self.jobs.console_logs(pk)

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

    def list_storages(self, params: Params = None, *, unknown_filters: str | None = None) -> Any:
        """GET ``storages/`` (one page)."""
        return self._list(self.storages, params, None, False, unknown_filters)

    def get_storage(self, pk: PathParam) -> Any:
        """GET ``storages/{pk}/?with_configuration=true``."""
        return self.storages.fetch(pk)

    def create_storage(self, data: Mapping[str, Any]) -> Any:
        """POST ``storages/``; ``category`` may be left to the server, and a ``provider``
        the SDK does not list is sent with a warning (see ``client.storages.create``)."""
        return self.storages.create(**data)._meta.raw

    # ------------------------------------------------------------------ ML

    def list_models(self, params: Params = None, *, unknown_filters: str | None = None) -> Any:
        """GET ``models/`` (one page)."""
        return self._list(self.models, params, None, False, unknown_filters)

    def get_model(
        self, pk: PathParam, params: Params = None, url_conversion: UrlConversion = None
    ) -> Any:
        """GET ``models/{pk}/``; the file is downloaded only if ``url_conversion`` asks."""
        model = self.models.fetch(pk, params)
        convert = self._converter(url_conversion)
        if convert is not None:
            convert(model)
        return model

    def create_model(self, data: Mapping[str, Any]) -> Any:
        """POST ``models/``; a ``file`` path in ``data`` is uploaded (chunked) first."""
        fields = dict(data)
        file = fields.pop("file", None)
        return self.models.create(file=file, **fields)._meta.raw

    def list_ground_truth_events(
        self,
        params: Params = None,
        url_conversion: UrlConversion = None,
        list_all: bool = False,
        *,
        unknown_filters: str | None = None,
        stable: bool = False,
    ) -> Any:
        """GET ``sdk/ground_truth_events/``."""
        return self._list(
            self.ground_truth_events, params, url_conversion, list_all, unknown_filters
        )

    def get_ground_truth_version(self, pk: PathParam) -> Any:
        """GET ``ground_truth_dataset_versions/{pk}/``."""
        return self.ground_truth_versions.fetch(pk)

    def list_ground_truth_versions(
        self, params: Params = None, *, unknown_filters: str | None = None
    ) -> Any:
        """GET ``ground_truth_dataset_versions/`` (one page)."""
        return self._list(self.ground_truth_versions, params, None, False, unknown_filters)

    def list_ground_truths(
        self,
        params: Params = None,
        url_conversion: UrlConversion = None,
        list_all: bool = False,
        *,
        unknown_filters: str | None = None,
        stable: bool = False,
    ) -> Any:
        """GET ``ground_truths/``."""
        return self._list(self.ground_truths, params, url_conversion, list_all, unknown_filters)


def annotate_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """The wire body ``{"action", "data"}``: given as such, or built around a bare
    annotation (which is submitted), so that no annotation is ever dropped on the way."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"annotation data must be a dict, got {type(data).__name__}")
    if "data" in data and set(data) <= {"action", "data"}:
        body = dict(data)
        body["action"] = require_enum(
            AnnotateAction, body.get("action", "submit"), field="action"
        ).value
        return body
    return {"action": AnnotateAction.SUBMIT.value, "data": dict(data)}


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
