"""pytest plugin for users of the SDK: a running local backend as a fixture.

Installed through the ``pytest11`` entry point, so that after ``pip install
'synapse-orm[local]'`` any test can ask for ``synapse_backend`` (one server per test
session, reset between tests) or ``synapse_client`` (a client bound to it)::

    def test_my_pipeline(synapse_client):
        project = synapse_client.request("POST", "projects/", data={"title": "t"})
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from synapse.client import Client
    from synapse.local.server import LocalBackend


@pytest.fixture(scope="session")
def _synapse_backend_session() -> Iterator[LocalBackend]:
    from synapse.local.server import LocalBackend

    with LocalBackend() as backend:
        yield backend


@pytest.fixture
def synapse_backend(_synapse_backend_session: LocalBackend) -> LocalBackend:
    """A local Synapse backend over real HTTP, emptied before each test."""
    _synapse_backend_session.reset()
    return _synapse_backend_session


@pytest.fixture
def synapse_client(synapse_backend: LocalBackend) -> Iterator[Client]:
    """A client bound to :func:`synapse_backend`."""
    from synapse.client import Client

    with Client(synapse_backend.url, synapse_backend.token) as client:
        yield client
