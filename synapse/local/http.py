"""HTTP plumbing of the local backend: DRF-shaped errors and answers, query parsing
into SQL, page links, and routes that check the token."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from synapse.local.kinds import Kind
from synapse.local.store import Query

__all__ = [
    "ApiError",
    "Handler",
    "build_query",
    "field_error",
    "not_found",
    "route",
]

Handler = Callable[..., Awaitable[Response]]

CONTROL_PARAMS = frozenset(
    {"page", "page_size", "ordering", "fields", "expand", "pagination", "response_mode",
     "search", "ids", "ids_ex", "with_configuration", "limit", "offset", "url_host", "format",
     "schema"}
)  # fmt: skip
LOOKUPS = {"in": "IN", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
JOB_FINISHED = ("STOPPED", "SUCCEEDED", "FAILED")


class ApiError(Exception):
    """An error answer with a DRF body."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def not_found() -> ApiError:
    return ApiError(404, {"detail": "Not found."})


def field_error(name: str, message: str) -> ApiError:
    return ApiError(400, {name: [message]})


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")  # NaN and Infinity: json.loads takes them


def _int64(text: str) -> int:
    number = int(text)
    if not INT64[0] <= number <= INT64[1]:
        raise ValueError(f"integer {text[:30]} is out of range")
    return number


def safe_filename(name: str | None) -> str:
    """The last component of an uploaded file's name, never empty, ``.`` or ``..``."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    return base if base not in ("", ".", "..") else "file"


#: One compact encoder for every answer (``json.dumps`` with options builds a new one per
#: call, which shows when every listed row is encoded on its own).
ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _json(body: Any, status: int = 200) -> Response:
    return Response(ENCODE(body), status_code=status, media_type="application/json")


#: Lists that offer ``pagination=cursor`` (the sdk/ endpoints of the protocol).
CURSOR_TABLES = frozenset({"tasks", "assignments", "ground_truth_events"})
INT64 = (-(2**63), 2**63 - 1)  # what SQLite stores; a larger number is a 400, not a 500


def _parse(ftype: str, key: str, raw: str) -> Any:
    if ftype in ("int", "ints"):
        try:
            number = int(raw)
        except ValueError:
            raise field_error(key, "Enter a number.") from None
        if not INT64[0] <= number <= INT64[1]:
            raise field_error(key, f"Ensure this value is at most {INT64[1]} in size.")
        return number
    if ftype == "bool":
        lowered = raw.lower()
        if lowered in ("true", "1"):
            return 1
        if lowered in ("false", "0"):
            return 0
        raise field_error(key, "Select a valid choice.")
    return raw


def build_query(kind: Kind, params: list[tuple[str, str]]) -> Query:
    """The WHERE clause and ordering of a list request; undeclared filters are ignored."""
    query = Query()
    for key, raw in params:
        if key == "ids":
            _where_in(query, "id", "int", key, raw)
            continue
        if key == "ids_ex":
            values = [_parse("int", key, v) for v in raw.split(",") if v]
            if values:
                query.where(f"id NOT IN ({','.join('?' * len(values))})", *values)
            continue
        if key == "search":
            query.where("body LIKE ?", f"%{raw}%")
            continue
        if key == "ordering":
            _ordering(query, kind, raw)
            continue
        if key in CONTROL_PARAMS:
            continue
        name = kind.aliases.get(key, key)
        fname, _, lookup = name.partition("__")
        if fname == "id":
            expr, ftype = "id", "int"
        elif fname in kind.fields:
            expr, ftype = f"json_extract(body, '$.{fname}')", kind.fields[fname]
        else:
            continue
        if lookup and lookup not in LOOKUPS:
            continue
        if ftype == "ints":
            values = [_parse(ftype, key, v) for v in raw.split(",") if v]
            marks = ",".join("?" * len(values))
            query.where(
                f"EXISTS (SELECT 1 FROM json_each(body, '$.{fname}') WHERE value IN ({marks}))",
                *values,
            )
        elif lookup == "in":
            _where_in(query, expr, ftype, key, raw)
        elif lookup and expr == "id":
            query.id_bounds.append((lookup, _parse(ftype, key, raw)))  # keyset pages
        elif lookup:
            query.where(f"{expr} {LOOKUPS[lookup]} ?", _parse(ftype, key, raw))
        elif raw == "" and ftype != "str":
            continue  # django-filter treats an empty value as no filter
        else:
            query.where(f"{expr} = ?", _parse(ftype, key, raw))
    return query


def _where_in(query: Query, expr: str, ftype: str, key: str, raw: str) -> None:
    values = [_parse(ftype, key, v) for v in raw.split(",") if v != ""]
    if not values:
        return
    query.where(f"{expr} IN ({','.join('?' * len(values))})", *values)


def _ordering(query: Query, kind: Kind, raw: str) -> None:
    for term in raw.split(","):
        desc = term.startswith("-")
        name = term.lstrip("-")
        if name in ("id", "pgh_id"):
            expr = "id"
        elif name in kind.fields:
            expr = f"json_extract(body, '$.{name}')"
        else:
            continue
        query.order.append(f"{expr} {'DESC' if desc else 'ASC'}")


def _multi(request: Request, key: str) -> list[str]:
    """Values of a repeated or comma-separated parameter (``expand``, ``fields``)."""
    out: list[str] = []
    for value in request.query_params.getlist(key):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def _flag(request: Request, key: str) -> bool:
    return request.query_params.get(key, "").lower() in ("true", "1")


def _base(request: Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc}"


def _page_link(request: Request, page: int) -> str:
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k != "page"]
    pairs.append(("page", str(page)))
    return f"{_base(request)}{request.url.path}?{urlencode(pairs)}"


def route(path: str, token: str | None, **methods: Handler) -> Route:
    """A route that checks the token (unless ``token`` is None) and answers DRF's 405."""
    expected = f"Token {token}"

    async def endpoint(request: Request) -> Response:
        if token is not None:
            given = (
                request.headers.get("synapse-access-token"),
                request.headers.get("authorization"),
            )
            if not any(given):
                return _json({"detail": "Authentication credentials were not provided."}, 401)
            if expected not in given:
                return _json({"detail": "Invalid token."}, 401)
        handler = methods.get(request.method.lower())
        if handler is None:
            return _json({"detail": f'Method "{request.method}" not allowed.'}, 405)
        return await handler(request, **request.path_params)

    route = Route(path, endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    route.synapse_methods = tuple(methods)  # type: ignore[attr-defined]
    return route
