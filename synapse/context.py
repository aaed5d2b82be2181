"""What resources, managers and queries need from the client that loaded them.

Lower layers depend on this small interface, never on [`Client`][synapse.client.Client] itself, so
the import graph has no cycle: the client (at the top) satisfies it, and a test can hand
them anything else that does.
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

from synapse.config import Config
from synapse.pagination import PageFetcher
from synapse.transport import Transport

__all__ = ["Context"]

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
