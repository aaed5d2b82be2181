"""Shared fixtures: a client aimed at a mocked origin, with sleeps recorded, not slept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from synapse import Client

BASE = "https://api.synapse.test"
TOKEN = "acc-0123456789abcdef-SECRET"
AGENT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SYNAPSE_BASE_URL",
        "SYNAPSE_HOST",
        "SYNAPSE_ACCESS_TOKEN",
        "SYNAPSE_TENANT",
        "SYNAPSE_AGENT_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[Client]:
    c = Client(BASE, TOKEN, tenant="acme", agent_token=AGENT)
    c.transport._sleep = sleeps.append
    yield c
    c.close()
