"""The old package's import paths, re-exported: ``synapse.clients.backend`` and
``synapse.clients.exceptions``."""

from synapse.client import BackendClient

__all__ = ["BackendClient"]
