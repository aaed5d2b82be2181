from __future__ import annotations

from typing import Any

import pytest

from synapse.local import LocalBackend
from synapse.local.seed import seed_demo


@pytest.fixture
def demo(synapse_backend: LocalBackend) -> dict[str, Any]:
    """The demo world, freshly seeded into the session's local backend."""
    return seed_demo(synapse_backend.backend)
