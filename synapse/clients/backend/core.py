"""The few request primitives the older package's mixins are written against.

``_get`` and ``_put`` send through the client's one transport (retries, error mapping,
masking): the mixins of this package name an API path and nothing more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from synapse.config import TimeoutLike
    from synapse.transport import Transport

__all__ = ["CoreClientMixin", "pick_id"]


class CoreClientMixin:
    """``_get``/``_put`` over ``self.transport``, and the older ``client.timeout``."""

    transport: Transport

    def _get(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: TimeoutLike | None = None,
    ) -> Any:
        return self.transport.request("GET", path, params=params, timeout=timeout)

    def _put(self, path: str, data: Any = None, params: Mapping[str, Any] | None = None) -> Any:
        return self.transport.request("PUT", path, data=data, params=params)

    @property
    def timeout(self) -> dict[str, float | None]:
        """The default timeouts as the older package gave them: ``{'connect', 'read'}``."""
        value = self.transport.config.timeout
        return {"connect": value.connect, "read": value.read}


def pick_id(name: str, given: Any, pk: Any) -> Any:
    """The id given positionally, as the older name (``project_id=``) or as ``pk=``."""
    chosen = [value for value in (given, pk) if value is not None]
    if len(chosen) != 1:
        from synapse.errors import InvalidInputError

        raise InvalidInputError(
            f"give the id once, as {name}= or pk=" if chosen else f"{name} (the id) is required"
        )
    return chosen[0]
