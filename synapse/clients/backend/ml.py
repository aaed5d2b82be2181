"""``MLClientMixin``, the older package's import path of the ML listing methods (they are
methods of ``BackendClient``, over the client's ground-truth managers)."""

from __future__ import annotations

from synapse.clients.backend.core import CoreClientMixin

__all__ = ["MLClientMixin"]


class MLClientMixin(CoreClientMixin):
    """The ML methods' mixin; ``BackendClient`` holds them (``list_ground_truths``...)."""
