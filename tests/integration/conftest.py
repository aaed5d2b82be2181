from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from synapse import Client
from synapse.local import LocalBackend, ManualClock
from synapse.local.seed import seed_demo
from tests.conftest import waits_with


@pytest.fixture
def demo(synapse_backend: LocalBackend) -> dict[str, Any]:
    """The demo world, freshly seeded into the session's local backend."""
    return seed_demo(synapse_backend.backend)


@pytest.fixture
def clock(synapse_backend: LocalBackend, synapse_client: Client) -> Iterator[ManualClock]:
    """The session backend's jobs on a clock that moves only when the client waits:
    the client's sleep advances it instead of sleeping."""
    manual = ManualClock()
    saved = synapse_backend.backend.clock
    synapse_backend.backend.clock = manual
    waits_with(synapse_client, manual.advance)
    try:
        yield manual
    finally:
        synapse_backend.backend.clock = saved


@pytest.fixture
def anyio_backend() -> str:
    """The async tests run on asyncio (a module may parametrize its own: uvloop too)."""
    return "asyncio"


@pytest.fixture
def journal_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upload journals and the media cache in the test's own folder."""
    monkeypatch.setenv("SYNAPSE_CACHE_DIR", str(tmp_path / "cache"))
