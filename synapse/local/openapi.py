"""The local backend's OpenAPI document, generated from its own declarations.

Paths and methods come from the routes (each knows the methods it handles, and the
declared kinds' routes are made from ``synapse.protocol``); the query parameters of a
list are the filters its kind declares, with their value types.
Served at ``/openapi.json`` and used by the fuzz tests, so the document cannot drift
from what the server does.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.routing import Route

from synapse.local.kinds import KINDS, Kind
from synapse.protocol import Filter

__all__ = ["filter_schema", "openapi_document", "table_of"]

CONTROL: dict[str, dict[str, Any]] = {
    "page": {"type": "integer", "minimum": 1},
    "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
    "ordering": {"type": "string"},
    "expand": {"type": "string"},
    "fields": {"type": "string"},
    "pagination": {"type": "string", "enum": ["page", "cursor"]},
    "cursor": {"type": "string"},
}
ERROR = {"description": "a DRF-shaped error", "content": {"application/json": {"schema": {
    "oneOf": [{"type": "object"}, {"type": "array"}]}}}}  # fmt: skip
PAGE = {
    "type": "object",
    "required": ["results"],
    "properties": {
        "count": {"type": "integer"},
        "next": {"type": ["string", "null"]},
        "previous": {"type": ["string", "null"]},
        "results": {"type": "array", "items": {"type": "object"}},
    },
}


def table_of(path: str) -> Kind | None:
    """The kind a path serves: ``/sdk/tasks/{pk}/`` serves tasks."""
    first = path.strip("/").removeprefix("sdk/").split("/")[0]
    return KINDS.get(first)


def filter_schema(declared: Filter) -> dict[str, Any]:
    """The JSON schema of a filter's wire value."""
    if declared.type in ("ids", "strs") or declared.lookup in ("in", "not_in", "overlap"):
        schema: dict[str, Any] = {"type": "string", "description": "comma-separated values"}
    elif declared.type in ("id", "int"):
        schema = {"type": "integer"}
    elif declared.type == "bool":
        schema = {"type": "boolean"}
    elif declared.type == "date":
        schema = {"type": "string", "format": "date-time"}
    else:
        schema = {"type": "string"}
    if declared.choices:
        schema["enum"] = list(declared.choices)
    return schema


def _list_parameters(kind: Kind) -> list[dict[str, Any]]:
    params = [
        {"name": name, "in": "query", "schema": filter_schema(declared)}
        for name, declared in sorted(kind.filters.items())
    ]
    params += [{"name": name, "in": "query", "schema": schema} for name, schema in CONTROL.items()]
    return params


def _operation(path: str, method: str) -> dict[str, Any]:
    names = re.findall(r"{(\w+)(?::\w+)?}", path)
    parameters: list[dict[str, Any]] = [
        {"name": n, "in": "path", "required": True, "schema": {"type": "string"}} for n in names
    ]
    kind = table_of(path)
    is_list = not names and method == "get" and kind is not None
    if is_list and kind is not None:
        parameters += _list_parameters(kind)
    operation: dict[str, Any] = {
        "operationId": f"{method}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
        "parameters": parameters,
        "responses": {"4XX": ERROR},
    }
    ok: dict[str, Any] = {"description": "success"}
    if method != "delete":
        schema = PAGE if is_list else {"type": ["object", "array", "null"]}
        ok["content"] = {"application/json": {"schema": schema}}
    operation["responses"]["200" if method in ("get", "put", "patch") else "2XX"] = ok
    if method in ("post", "put", "patch"):
        operation["requestBody"] = {
            "content": {"application/json": {"schema": {"type": ["object", "array"]}}}
        }
    return operation


def openapi_document(routes: list[Any]) -> dict[str, Any]:
    """OpenAPI 3.1 for the routes that declare the methods they handle."""
    paths: dict[str, Any] = {}
    for route in routes:
        methods = getattr(route, "synapse_methods", None)
        if not isinstance(route, Route) or not methods:
            continue
        template = re.sub(r"{(\w+):\w+}", r"{\1}", route.path)
        paths[template] = {m: _operation(route.path, m) for m in sorted(methods)}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Synapse local backend", "version": "1"},
        "components": {
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "Synapse-Access-Token"}
            }
        },
        "security": [{"token": []}],
        "paths": paths,
    }
