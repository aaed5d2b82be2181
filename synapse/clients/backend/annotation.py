"""Task annotation calls of the older ``AnnotationClientMixin``: one PUT per task, and a
batch of them on a thread pool."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from synapse.clients.backend.core import CoreClientMixin, pick_id
from synapse.enums import AnnotateAction, require_enum
from synapse.errors import InvalidInputError, MissingFieldError
from synapse.urls import PathParam, build_path

__all__ = ["AnnotationClientMixin", "annotate_body"]


#: Threads of a batch at most, whatever its size.
MAX_BATCH_WORKERS = 32


class AnnotationClientMixin(CoreClientMixin):
    def annotate_task_data(
        self,
        task_id: PathParam | None = None,
        data: Mapping[str, Any] | None = None,
        schema: str | None = None,
        *,
        pk: PathParam | None = None,
    ) -> Any:
        """PUT ``tasks/{id}/annotate_task_data/``; ``schema`` (``dm_schema_v1`` or ``any``)
        goes in the query.

        ``data`` is the wire body ``{"action": "save" | "submit", "data": {...}, ...}``,
        sent as given, or (as the seed documentation writes it) the bare annotation,
        which is then submitted.
        """
        task = pick_id("task_id", task_id, pk)
        path = build_path("tasks/{}/annotate_task_data/", task)
        params = {"schema": schema} if schema else None
        answer = self._put(path, data=annotate_body(data), params=params)
        self._task_changed(task)
        return answer

    def _task_changed(self, task_id: PathParam) -> None:
        """Hook: a task was annotated (the client drops its cached copy)."""

    def annotate_task_data_batch(
        self, items: Iterable[Mapping[str, Any]], *, max_workers: int | None = None
    ) -> dict[Any, dict[str, Any]]:
        """Annotate many tasks in parallel; ``{task_id: {success, error, response}}``.

        Every item is reported, whatever its call raised; an item without ``task_id``
        raises `MissingFieldError` (a ``KeyError``) before anything is sent.
        """
        batch = list(items)
        for item in batch:
            if "task_id" not in item:
                raise MissingFieldError(f"each item needs a task_id: {sorted(item)!r}")
        if not batch:
            return {}

        def one(item: Mapping[str, Any]) -> dict[str, Any]:
            try:
                if item.get("schema") is not None:
                    response = self.annotate_task_data(
                        item["task_id"], item.get("data", {}), item["schema"]
                    )
                else:
                    response = self.annotate_task_data(item["task_id"], item.get("data", {}))
                return {"success": True, "error": None, "response": response}
            except Exception as exc:  # every item is reported, none escapes the batch
                return {"success": False, "error": str(exc), "response": None}

        with ThreadPoolExecutor(
            max_workers=max_workers or min(len(batch), MAX_BATCH_WORKERS)
        ) as pool:
            results = list(pool.map(one, batch))
        return {item["task_id"]: result for item, result in zip(batch, results, strict=True)}


def annotate_body(data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The wire body: a body that names its ``action`` is sent as given; ``{"data": ...}``
    gets ``action: submit``; a bare annotation is wrapped and submitted."""
    if not isinstance(data, Mapping):
        raise InvalidInputError(f"annotation data must be a dict, got {type(data).__name__}")
    if "action" in data:
        body = dict(data)
        body["action"] = require_enum(AnnotateAction, body["action"], field="action").value
        return body
    if set(data) == {"data"}:
        return {"action": AnnotateAction.SUBMIT.value, "data": data["data"]}
    return {"action": AnnotateAction.SUBMIT.value, "data": dict(data)}
