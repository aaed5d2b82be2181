"""``from synapse.clients.backend import BackendClient``, as in the older package."""

from __future__ import annotations

from typing import Any

__all__ = ["BackendClient"]


def __getattr__(name: str) -> Any:
    # Lazy: synapse.methods builds BackendClient from this package's mixins.
    if name == "BackendClient":
        from synapse.methods import BackendClient

        return BackendClient
    raise AttributeError(name)
