"""pytest plugin for users of the SDK: a running local backend as a fixture, and a way
to pin how many requests their code sends.

Installed through the ``pytest11`` entry point, so that after ``pip install
'synapse-orm[local]'`` any test can ask for ``synapse_backend`` (one server per test
session, reset between tests), ``synapse_client`` (a client bound to it) or
``assert_num_requests``:

```python
def test_my_pipeline(synapse_client, assert_num_requests):
    with assert_num_requests(synapse_client, 2):
        project = synapse_client.projects.create(title="t")
        project.tasks.count()
```
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from synapse.client import Client
    from synapse.http import HTTPTransport, Request, Response
    from synapse.local.server import LocalBackend

__all__ = ["RequestCounter", "count_requests", "num_requests"]


class RequestCounter:
    """An HTTP transport in front of the client's own that records each request."""

    def __init__(self, inner: HTTPTransport) -> None:
        self.inner = inner
        self.requests: list[Request] = []

    def handle(self, request: Request) -> Response:
        self.requests.append(request)
        return self.inner.handle(request)

    def close(self) -> None:
        self.inner.close()

    def lines(self) -> str:
        return "\n".join(f"  {r.method} {r.url} {r.params}" for r in self.requests) or "  none"


@contextmanager
def count_requests(client: Client) -> Iterator[RequestCounter]:
    """Record every request ``client`` sends inside the block (retries included)."""
    counter = RequestCounter(client.transport.http)
    client.transport.http = counter
    try:
        yield counter
    finally:
        client.transport.http = counter.inner


@contextmanager
def num_requests(client: Client, expected: int) -> Iterator[RequestCounter]:
    """Fail unless the block sends exactly ``expected`` requests (as Django's
    ``assertNumQueries``); the message lists the requests that were sent."""
    with count_requests(client) as counter:
        yield counter
    sent = len(counter.requests)
    if sent != expected:
        raise AssertionError(
            f"expected {expected} request(s), {sent} were sent:\n{counter.lines()}"
        )


@pytest.fixture
def assert_num_requests() -> Callable[[Any, int], AbstractContextManager[RequestCounter]]:
    """``with assert_num_requests(client, 2): ...`` fails unless exactly 2 are sent."""
    return num_requests


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
    """A client bound to `synapse_backend()`."""
    from synapse.client import Client

    with Client(synapse_backend.url, synapse_backend.token) as client:
        yield client
