"""Projects' tasks: creation in batches, annotation, tags (protocol 3.1, 3.4)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from synapse.local.core import BackendCore, declared
from synapse.local.http import ApiError, _json, field_error
from synapse.local.kinds import KINDS
from synapse.local.store import Query, now_iso

__all__ = ["AnnotationHandlers"]


class AnnotationHandlers(BackendCore):
    """``tasks/`` creation, ``annotate_task_data``, ``set_tags`` of tasks and assignments."""

    def before_render(self, table: str, doc: dict[str, Any]) -> dict[str, Any]:
        if table != "projects":
            return super().before_render(table, doc)
        query = Query()
        query.where("json_extract(body, '$.project') = ?", doc["id"])  # indexed
        doc["task_count"] = self.store.count(KINDS["tasks"], query)
        return doc

    async def create_tasks(self, request: Request) -> Response:
        body = await self.dict_body(request)
        project = body.get("project")
        items = body.get("data")
        if not isinstance(project, int) or self.store.get(KINDS["projects"], project) is None:
            raise field_error("project", f'Invalid pk "{project}" - object does not exist.')
        if not isinstance(items, list) or not items:
            raise field_error("data", "Expected a non-empty list of items.")
        created = []
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("data_unit"), int):
                raise field_error("data", "Each item needs an integer data_unit.")
            if self.store.get(KINDS["data_units"], item["data_unit"]) is None:
                raise field_error("data", f'Invalid data_unit "{item["data_unit"]}".')
        for item in items:
            created.append(self.new("tasks", {**declared("tasks", item), "project": project}))
        return _json(self.render(request, "tasks", created), 201)

    async def annotate(self, request: Request, pk: str) -> Response:
        doc = self.load("tasks", pk)
        body = await self.dict_body(request)
        unknown = sorted(set(body) - {"action", "data"})
        if unknown:  # never answer success while dropping what was sent
            raise ApiError(
                400, {"non_field_errors": [f"Unknown fields {unknown}; send action and data."]}
            )
        if "data" not in body:
            raise field_error("data", "This field is required.")
        action = body.get("action", "save")
        if action not in ("save", "submit"):
            raise field_error("action", f'"{action}" is not a valid choice.')
        schema = request.query_params.get("schema")
        if schema not in (None, "dm_schema_v1", "any"):
            raise field_error("schema", f'"{schema}" is not a valid choice.')
        doc["data"] = body["data"]
        # a submitted annotation is done labeling; a saved one is still being worked on
        doc["status_label"] = "completed" if action == "submit" else "in_progress"
        doc["schema"] = schema or doc.get("schema")
        doc["modified"] = now_iso()
        self.store.save(KINDS["tasks"], doc)
        return _json(self.render(request, "tasks", [doc])[0])

    async def set_tags(self, request: Request, table: str) -> Response:
        body = await self.dict_body(request)
        ids, tags, action = body.get("ids"), body.get("tags"), body.get("action", "add")
        for name, value in (("ids", ids), ("tags", tags)):
            if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
                raise field_error(name, "Expected a list of integers.")
        if action not in ("add", "remove"):
            raise field_error("action", f'"{action}" is not a valid choice.')
        assert isinstance(ids, list)
        assert isinstance(tags, list)
        kind = KINDS[table]
        updated = 0
        for doc in self.store.get_many(kind, ids).values():
            current = list(doc.get("tags", []))
            if action == "add":
                current.extend(t for t in tags if t not in current)
            else:
                current = [t for t in current if t not in tags]
            doc["tags"] = current
            self.store.save(kind, doc)
            updated += 1
        return _json({"ids": ids, "tags": tags, "action": action, "updated": updated})
