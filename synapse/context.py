"""What resources, managers and queries need from the client that loaded them.

Lower layers depend on this small interface, never on [`Client`][synapse.client.Client] itself, so
the import graph has no cycle: the client (at the top) satisfies it, and a test can hand
them anything else that does.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from synapse.config import Config
from synapse.errors import InvalidInputError
from synapse.pagination import PageFetcher
from synapse.transport import Transport

__all__ = ["Context", "awaiting"]

R = TypeVar("R")


class Context(Protocol):
    """A configured connection with a manager per kind and a relation cache."""

    config: Config
    transport: Transport
    page_fetcher: PageFetcher

    def manager_for(self, resource: type[Any]) -> Any:
        """The manager of this resource class (``client.tasks`` for ``Task``)."""
        ...

    def related(self, resource: type[R], pk: Any) -> R:
        """The object of this class with this id, loaded once and then cached."""
        ...

    def forget(self, resource: type[Any], pk: Any) -> None:
        """Drop a cached related object after it changed on the server."""
        ...

    def _manager(self, name: str) -> Any:
        """The manager of a declared kind by name (``"tasks"``): for a lower layer that
        needs a higher kind's manager without importing it (upload_many makes tasks)."""
        ...


def awaiting(client: Context, verb: str | None = None) -> Any:
    """``client`` for an awaited call (``verb``, such as ``"aupload_many"``): the one
    check that it is an ``AsyncClient``, with a clear error for an object or a manager
    that a sync ``Client`` loaded (its transport cannot be awaited)."""
    if not hasattr(client, "atransport"):
        what, instead = (f"{verb}()", f": use {verb[1:]}()") if verb else ("an a-method", "")
        raise InvalidInputError(
            f"{what} needs an object loaded by an AsyncClient; this one was loaded by a "
            f"sync Client{instead}"
        )
    return client
