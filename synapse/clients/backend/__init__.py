"""``from synapse.clients.backend import BackendClient``, as in the older package."""

from synapse.client import BackendClient

__all__ = ["BackendClient"]
