"""``BulkUploadClientMixin``: the default storage, which decides how bulk uploads go."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synapse.clients.backend.core import CoreClientMixin
from synapse.errors import ClientError

__all__ = ["BulkUploadClientMixin"]


class BulkUploadClientMixin(CoreClientMixin):
    def get_default_storage(self) -> dict[str, Any]:
        """The internal storage flagged ``is_default``, else the first internal one
        (``GET storages/?category=internal``; a page or a bare list is accepted)."""
        answer = self._get("storages/", params={"category": "internal"})
        items = answer.get("results") if isinstance(answer, Mapping) else answer
        if not isinstance(items, list):
            raise ClientError(f"expected a list of storages, got {type(answer).__name__}")
        storages = [item for item in items if isinstance(item, Mapping)]
        if not storages:
            raise ValueError("the backend has no internal storage")
        chosen = next((s for s in storages if s.get("is_default") is True), storages[0])
        return dict(chosen)
