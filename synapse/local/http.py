"""HTTP plumbing of the local backend: DRF-shaped errors and answers, query parsing
into SQL, page links, and routes that check the token."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

import synapse.protocol as protocol
from synapse.local.kinds import Kind
from synapse.local.store import Query
from synapse.protocol import Filter

__all__ = [
    "ApiError",
    "Handler",
    "build_query",
    "field_error",
    "not_found",
    "route",
]

Handler = Callable[..., Awaitable[Response]]

#: Parameters that shape an answer rather than filter it (the protocol's, and the
#: server's own).
CONTROL_PARAMS = protocol.CONTROL_PARAMS | {"cursor", "with_configuration", "url_host", "format"}
LOOKUPS = {"exact": "=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
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


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e400: JSON allows it, SQLite's JSON and ours do not
        raise ValueError(f"number {text[:30]} is out of range")
    return number


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
    """The WHERE clause and ordering of a list request, from the filters the kind
    declares (each by its field, lookup and join); undeclared names are ignored."""
    query = Query()
    for key, raw in params:
        if key == "ordering":
            _ordering(query, kind, raw)
            continue
        declared = kind.filters.get(key)
        if key in CONTROL_PARAMS or declared is None or declared.lookup in ("limit", "offset"):
            continue
        _where(query, kind, key, declared, raw)
    return query


def _values(declared: Filter, key: str, raw: str) -> list[Any]:
    ftype = _value_type(declared)
    return [_parse(ftype, key, v) for v in raw.split(",") if v != ""]


def _value_type(declared: Filter) -> str:
    if declared.type in ("id", "ids", "int"):
        return "int"
    return "bool" if declared.type == "bool" else "str"


def _where(query: Query, kind: Kind, key: str, declared: Filter, raw: str) -> None:
    """One declared filter as SQL: on the row itself, or on the rows its join reaches."""
    join = declared.join
    alias = "j" if join else kind.table
    lookup = declared.lookup
    if raw == "" and declared.type not in ("str", "code"):
        return  # django-filter treats an empty value as no filter
    for choice in raw.split(",") if declared.choices else ():
        if choice not in declared.choices:  # a choice filter refuses what it does not offer
            raise field_error(
                key, f"Select a valid choice. {choice} is not one of the available choices."
            )
    if join is None and declared.field == "id" and lookup in ("gt", "gte", "lt", "lte"):
        query.id_bounds.append((lookup, _parse("int", key, raw)))  # keyset pages
        return
    clause, args = _condition(alias, declared, key, raw)
    if join is None:
        query.where(clause, *args)
        return
    query.depends.add(join.table)
    # An uncorrelated subquery, computed once (a correlated EXISTS would scan the joined
    # table once per row); NULL keys are left out, or NOT IN would match nothing.
    if join.reverse:
        mine, theirs = f"{kind.table}.id", f"json_extract(j.body, '$.{join.key}')"
    else:
        mine, theirs = f"json_extract({kind.table}.body, '$.{join.key}')", "j.id"
    negate = lookup == "exists" and _parse("bool", key, raw) == 0
    reached = f"SELECT {theirs} FROM {join.table} j WHERE {theirs} IS NOT NULL AND {clause}"
    query.where(f"{mine} {'NOT IN' if negate else 'IN'} ({reached})", *args)


def _condition(alias: str, declared: Filter, key: str, raw: str) -> tuple[str, list[Any]]:
    name = declared.field
    expr = f"{alias}.id" if name == "id" else f"json_extract({alias}.body, '$.{name}')"
    lookup = declared.lookup
    if lookup == "exists":
        return "1", []
    if lookup == "text":
        return f"{alias}.body LIKE ?", [f"%{raw}%"]
    if declared.type == "code" and declared.join is not None and raw.isdigit():
        return f"{alias}.id = ?", [_parse("int", key, raw)]  # a plugin by id or by code
    if lookup in ("in", "not_in", "overlap"):
        values = _values(declared, key, raw)
        if not values:
            return "1", []
        marks = ",".join("?" * len(values))
        if lookup == "overlap":
            each = f"json_each({alias}.body, '$.{name}')"
            return f"EXISTS (SELECT 1 FROM {each} WHERE value IN ({marks}))", values
        return f"{expr} {'NOT IN' if lookup == 'not_in' else 'IN'} ({marks})", values
    value = _parse(_value_type(declared), key, raw)
    return f"{expr} {LOOKUPS.get(lookup, '=')} ?", [value]


def _ordering(query: Query, kind: Kind, raw: str) -> None:
    for term in raw.split(","):
        desc = term.startswith("-")
        name = term.lstrip("-")
        if name in ("id", "pgh_id"):
            expr = "id"
        elif name in kind.orderings or name in kind.fields:
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
        try:
            return await handler(request, **request.path_params)
        except ClientDisconnect:  # cut off mid-body (a stalled client): no one to answer
            return Response(status_code=400)

    route = Route(path, endpoint, methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])
    route.synapse_methods = tuple(methods)  # type: ignore[attr-defined]
    return route
