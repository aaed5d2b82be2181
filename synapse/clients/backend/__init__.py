"""``from synapse.clients.backend import BackendClient``, as in the older package."""

from synapse.methods import BackendClient

__all__ = ["BackendClient"]
