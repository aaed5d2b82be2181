"""The local backend's own tests speak plain ``requests``, independent of the client code."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from synapse.local import LocalBackend


class Api:
    """A tiny requests wrapper: base URL, token header, JSON in and out."""

    def __init__(self, backend: LocalBackend) -> None:
        self.backend = backend
        self.session = requests.Session()
        self.session.headers["Synapse-Access-Token"] = f"Token {backend.token}"

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.backend.url}/{path.lstrip('/')}"

    def __getattr__(self, method: str) -> Any:
        def call(path: str, **kwargs: Any) -> requests.Response:
            return self.session.request(method.upper(), self.url(path), timeout=30, **kwargs)

        return call


@pytest.fixture
def api(synapse_backend: LocalBackend) -> Iterator[Api]:
    a = Api(synapse_backend)
    yield a
    a.session.close()


@pytest.fixture
def demo(synapse_backend: LocalBackend) -> dict[str, Any]:
    from synapse.local.seed import seed_demo

    return seed_demo(synapse_backend.backend)
