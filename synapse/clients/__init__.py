"""The old package's import paths, re-exported: ``synapse.clients.backend`` and
``synapse.clients.exceptions``."""

from synapse.methods import BackendClient

__all__ = ["BackendClient"]
