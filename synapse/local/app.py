"""The local backend's HTTP application: the Synapse v1 protocol over Starlette.

It follows ``protocol.md`` (sections 2-4 and 8) and never imports the client side of
the package. Answers are shaped as the real backend's: DRF page-number pagination with
absolute ``next``/``previous`` links, DRF error bodies, ``Token`` authentication. The
handlers live by family (``annotation``, ``integration``, ``data``, ``transfers``) on
top of ``core``; this module puts them together and declares the routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from synapse.local.annotation import AnnotationHandlers
from synapse.local.data import DataHandlers
from synapse.local.faults import FaultLayer
from synapse.local.http import ApiError, Handler, _base, _json, route
from synapse.local.integration import IntegrationHandlers
from synapse.local.openapi import openapi_document
from synapse.local.transfers import TransferHandlers

__all__ = ["ApiError", "Backend", "build_app", "control_routes"]

_NO_ROUTE = "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>"


class Backend(AnnotationHandlers, IntegrationHandlers, DataHandlers, TransferHandlers):
    """State and handlers of one local backend."""


def build_app(backend: Backend, extra: list[Route] | None = None) -> Starlette:
    """The Starlette application of a backend (the fault layer wraps it)."""
    b = backend

    def _r(path: str, **methods: Handler) -> Route:
        return route(path, b.token, **methods)

    def listing(table: str) -> Handler:
        return lambda r: b.list(r, table)

    def creating(table: str) -> Handler:
        return lambda r: b.create(r, table)

    def getting(table: str) -> Handler:
        return lambda r, pk: b.retrieve(r, table, pk)

    def patching(table: str) -> Handler:
        return lambda r, pk: b.update(r, table, pk)

    def deleting(table: str) -> Handler:
        return lambda r, pk: b.destroy(r, table, pk)

    def crud(table: str, *, delete: bool = False, put: bool = False) -> list[Route]:
        item: dict[str, Handler] = {"get": getting(table), "patch": patching(table)}
        if delete:
            item["delete"] = deleting(table)
        if put:
            item["put"] = patching(table)
        return [
            _r(f"/{table}/", get=listing(table), post=creating(table)),
            _r(f"/{table}/{{pk}}/", **item),
        ]

    routes = [
        *crud("projects", delete=True),
        _r("/tasks/", get=listing("tasks"), post=b.create_tasks),
        _r("/sdk/tasks/", get=lambda r: b.list(r, "tasks", default_expand=("data_unit",))),
        _r("/tasks/set_tags/", post=lambda r: b.set_tags(r, "tasks")),
        _r("/tasks/{pk}/annotate_task_data/", put=b.annotate),
        _r("/tasks/{pk}/", get=getting("tasks"), patch=patching("tasks"),
               delete=deleting("tasks")),
        *crud("task_tags", delete=True),
        _r("/sdk/assignments/", get=listing("assignments")),
        _r("/assignments/", get=listing("assignments"), post=creating("assignments")),
        _r("/assignments/set_tags/", post=lambda r: b.set_tags(r, "assignments")),
        _r("/assignments/{pk}/", get=getting("assignments"), patch=patching("assignments")),
        _r("/agents/", get=listing("agents"), post=creating("agents")),
        _r("/agents/{token}/connect/", post=b.connect_agent),
        _r("/plugins/", get=listing("plugins"), post=creating("plugins")),
        _r("/plugins/{ref}/run/", post=b.run_plugin),
        _r("/plugins/{pk}/", get=getting("plugins"), put=patching("plugins"),
               patch=patching("plugins"), delete=deleting("plugins")),
        _r("/plugin_releases/", get=lambda r: b.list_by_plugin(r, "plugin_releases"),
               post=b.create_release),
        _r("/plugin_releases/{lookup}/", get=b.get_release),
        _r("/jobs/", get=lambda r: b.list_by_plugin(r, "jobs")),
        _r("/jobs/{pk}/console_logs/", get=b.console_logs),
        _r("/jobs/{pk}/", get=getting("jobs"), patch=patching("jobs")),
        _r("/logs/", get=listing("logs"), post=b.create_logs),
        _r("/storages/", get=listing("storages"), post=b.create_storage),
        _r("/storages/{pk}/", get=getting("storages"), patch=patching("storages")),
        _r("/models/", get=listing("models"), post=b.create_model),
        _r("/models/{pk}/", get=getting("models"), patch=patching("models"),
               delete=deleting("models")),
        *crud("data_collections", delete=True),
        _r("/data_files/", post=b.create_data_file),
        _r("/data_files/verify_checksums/", post=b.verify_checksums),
        _r("/data_files/{pk}/", get=getting("data_files")),
        _r("/data_units/", get=listing("data_units"), post=b.create_data_units),
        _r("/data_units/{pk}/", get=getting("data_units"), patch=patching("data_units"),
               delete=deleting("data_units")),
        _r("/chunked_upload/", put=lambda r: b.chunk(r, None),
               post=lambda r: b.finalize(r, None)),
        _r("/chunked_upload/{upload_id}/", put=b.chunk, get=b.upload_status,
               post=b.finalize),
        _r("/sdk/ground_truth_events/", get=listing("ground_truth_events")),
        _r("/ground_truths/", get=listing("ground_truths")),
        _r("/ground_truth_datasets/", get=listing("ground_truth_datasets")),
        _r("/ground_truth_dataset_versions/", get=listing("ground_truth_dataset_versions")),
        _r("/ground_truth_dataset_versions/{pk}/",
               get=getting("ground_truth_dataset_versions")),
        route("/media/{key:path}", None, get=b.media),
    ]  # fmt: skip

    async def openapi(request: Request) -> Response:
        return _json(openapi_document(routes))

    routes.append(Route("/openapi.json", openapi, methods=["GET"]))

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return _json(exc.body, exc.status)

    async def missing(request: Request, exc: Exception) -> Response:
        # A path no route serves is answered as Django answers it: an HTML page, not the
        # API's JSON "Not found." of a missing object (clients tell the two apart).
        return HTMLResponse(_NO_ROUTE, 404)

    return Starlette(
        routes=[*(extra or []), *routes],
        exception_handlers={ApiError: api_error, 404: missing},
    )


def control_routes(layer: FaultLayer, backend: Backend, reset: Callable[[], None]) -> list[Route]:
    """``/_local/`` endpoints for tests: faults, the request log, a counter, reset.

    They can empty a database or make every request fail, so they are guarded more
    tightly than the API: the access token is required, a request that carries an
    ``Origin`` of another site is refused (a web page can make a browser send requests
    to ``localhost``), and a POST must be ``application/json`` (which a page cannot send
    cross-origin without a preflight this server never grants).
    """

    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Handler:
        async def endpoint(request: Request) -> Response:
            origin = request.headers.get("origin")
            if origin is not None and origin.rstrip("/") != _base(request):
                return _json({"detail": "Cross-origin requests are not allowed."}, 403)
            if request.method == "POST" and not request.headers.get("content-type", "").startswith(
                "application/json"
            ):
                return _json({"detail": 'Unsupported media type; send "application/json".'}, 415)
            return await handler(request)

        return endpoint

    async def faults(request: Request) -> Response:
        if request.method == "POST":
            try:
                layer.configure(**(await backend.dict_body(request)))
            except TypeError as exc:
                return _json({"detail": str(exc)}, 400)
        return _json(vars(layer.faults))

    async def requests_log(request: Request) -> Response:
        if request.method == "DELETE":
            layer.log.clear()
            return Response(status_code=204)
        return _json([r.as_dict() for r in layer.log])

    async def counter(request: Request) -> Response:
        return _json({"requests": layer.total, "chunk_puts": layer.chunk_puts})

    async def do_reset(request: Request) -> Response:
        reset()
        return Response(status_code=204)

    token = backend.token
    return [
        route("/_local/faults", token, get=guarded(faults), post=guarded(faults)),
        route("/_local/requests", token, get=guarded(requests_log),
               delete=guarded(requests_log)),
        route("/_local/counter", token, get=guarded(counter)),
        route("/_local/reset", token, post=guarded(do_reset)),
    ]  # fmt: skip
