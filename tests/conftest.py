"""Shared fixtures: a client aimed at a mocked origin, with sleeps recorded, not slept."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator

import pytest
from hypothesis import settings

from synapse import Client

# Hypothesis's default deadline (200 ms per example) is an assertion on wall-clock time:
# on a loaded CI machine it fails examples that are only slow. No test here times anything.
settings.register_profile("synapse", deadline=None)
settings.load_profile("synapse")

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


def no_wait(seconds: float) -> None:
    """A retry policy's sleep that does not sleep (picklable, unlike a lambda)."""


def waits_with(client: Client, sleep: Callable[[float], None] = no_wait) -> Client:
    """``client`` with its retry policy waiting through ``sleep`` (the public seam)."""
    client.transport.policy = dataclasses.replace(client.transport.policy, sleep=sleep)
    return client


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps: list[float]) -> Iterator[Client]:
    c = waits_with(Client(BASE, TOKEN, tenant="acme", agent_token=AGENT), sleeps.append)
    yield c
    c.close()
