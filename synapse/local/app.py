"""The local backend's HTTP application: the Synapse v1 protocol over Starlette.

It follows ``protocol.md`` (sections 2-4 and 8) and never imports the client side of
the package. Answers are shaped as the real backend's: DRF page-number pagination with
absolute ``next``/``previous`` links, DRF error bodies, ``Token`` authentication. The
handlers live by family (``annotation``, ``integration``, ``data``, ``transfers``) on
top of ``core``; this module puts them together and declares the routes.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

import synapse.protocol as protocol
from synapse.local.annotation import AnnotationHandlers
from synapse.local.compat import CompatHandlers
from synapse.local.data import DataHandlers
from synapse.local.faults import FaultLayer
from synapse.local.http import ApiError, Handler, _base, _json, route
from synapse.local.openapi import openapi_document
from synapse.local.transfers import TransferHandlers

__all__ = ["ApiError", "Backend", "build_app", "control_routes", "declared_routes"]

_NO_ROUTE = "<h1>Not Found</h1><p>The requested resource was not found on this server.</p>"


class Backend(AnnotationHandlers, CompatHandlers, DataHandlers, TransferHandlers):
    """State and handlers of one local backend."""


def declared_routes(backend: Backend) -> list[Route]:
    """The routes of every declared kind, from its paths, capabilities and actions
    (``synapse.protocol``); a family's own handler serves where the generic one cannot
    (a task's create takes ``{project, data}``, a release is got by ``code@version``)."""
    b = backend
    own: dict[tuple[str, str], Handler] = {
        ("tasks", "create"): b.create_tasks,
        ("plugin_releases", "create"): b.create_release,
        ("plugin_releases", "get"): lambda r, pk: b.get_release(r, pk),
        ("storages", "create"): b.create_storage,
        ("plugins", "create"): b.create_plugin,
        ("models", "create"): b.create_model,
        ("data_files", "create"): b.create_data_file,
        ("data_units", "create"): b.create_data_units,
        # actions
        ("tasks", "annotate_task_data"): lambda r, pk: b.annotate(r, pk),
        ("tasks", "set_tags"): lambda r: b.set_tags(r, "tasks"),
        ("assignments", "set_tags"): lambda r: b.set_tags(r, "assignments"),
        ("agents", "connect"): lambda r, pk: b.connect_agent(r, pk),
        ("plugins", "run"): lambda r, pk: b.run_plugin(r, pk),
        ("jobs", "console_logs"): lambda r, pk: b.console_logs(r, pk),
        ("data_files", "verify_checksums"): b.verify_checksums,
    }
    routes: list[Route] = []
    for kind in protocol.KINDS.values():
        routes += kind_routes(b, kind, own)
    return routes


def kind_routes(
    b: Backend, kind: protocol.Kind, own: Mapping[tuple[str, str], Handler]
) -> list[Route]:
    """One kind's routes: its list, collection, actions and detail."""
    table, caps = kind.table, kind.capabilities

    def handler(op: str, generic: Handler) -> Handler:
        return own.get((kind.name, op), generic)

    def _r(path: str, **methods: Handler) -> Route:
        return route(f"/{path}", b.token, **methods)

    listing = handler("list", lambda r: b.list(r, table, default_expand=_nested(kind)))
    collection: dict[str, Handler] = {}
    if "list" in caps and kind.list_path is None:
        collection["get"] = listing
    if "create" in caps:
        collection["post"] = handler("create", lambda r: b.create(r, table))
    routes = [_r(kind.list_path, get=listing)] if kind.list_path and "list" in caps else []
    if collection:
        routes.append(_r(kind.path, **collection))
    actions = sorted(kind.actions, key=lambda a: "{pk}" in a.path)  # fixed paths first
    for action in actions:
        routes.append(_r(f"{kind.path}{action.path}", **{
            action.method.lower(): own[(kind.name, action.name)]}))  # fmt: skip
    detail: dict[str, Handler] = {}
    if "get" in caps:
        detail["get"] = handler("get", lambda r, pk: b.retrieve(r, table, pk))
    if "update" in caps:
        update = handler("update", lambda r, pk: b.update(r, table, pk))
        detail["put" if kind.full_update else "patch"] = update
        detail["patch"] = update  # a PATCH is always taken
    if "delete" in caps:
        detail["delete"] = handler("delete", lambda r, pk: b.destroy(r, table, pk))
    if detail:
        routes.append(_r(f"{kind.path}{{pk}}/", **detail))
    return routes


def _nested(kind: protocol.Kind) -> tuple[str, ...]:
    # The production sdk/tasks/ nests the data unit (with its files) unasked.
    return ("data_unit",) if kind.name == "tasks" else ()


def build_app(backend: Backend, extra: list[Route] | None = None) -> Starlette:
    """The Starlette application of a backend (the fault layer wraps it)."""
    b = backend

    def _r(path: str, **methods: Handler) -> Route:
        return route(path, b.token, **methods)

    routes = [
        *declared_routes(b),
        # What the server has beyond the declared kinds.
        _r("/assignments/", get=lambda r: b.list(r, "assignments"),
           post=lambda r: b.create(r, "assignments")),
        _r("/logs/", get=lambda r: b.list(r, "logs"), post=b.create_logs),
        _r("/chunked_upload/", put=lambda r: b.chunk(r, None),
           post=lambda r: b.finalize(r, None)),
        _r("/chunked_upload/{upload_id}/", put=b.chunk, get=b.upload_status,
           post=b.finalize),
        _r("/ground_truth_datasets/", get=lambda r: b.list(r, "ground_truth_datasets")),
        route("/media/{key:path}", None, get=b.media),
        *compat_routes(b, _r),
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


def compat_routes(b: Backend, r: Callable[..., Route]) -> list[Route]:
    """The older client's extra endpoints (``synapse.local.compat``)."""
    return [
        *(r(f"/sdk/{t}/{v}/", get=lambda q, t=t, v=v: b.list_variant(q, t, v))
          for t in ("tasks", "assignments", "ground_truth_events") for v in ("data", "files")),
        r("/jobs/{pk}/tail_console_logs/", get=b.tail_console_logs),
        r("/serve_applications/", get=lambda q: b.list(q, "serve_applications"),
          post=b.create_serve_application),
        r("/data_files/presigned_upload/upload/", post=b.presigned_upload),
        r("/data_files/presigned_upload/confirm_upload/", post=b.confirm_upload),
        route("/_storage/{key:path}", None, put=b.storage_put),
    ]  # fmt: skip


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
