"""``list_*(list_all=True)`` results index and slice like lists, fetching only what they need."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse import BackendClient, StorageProvider, UnknownValueWarning
from synapse.local import LocalBackend

TOTAL = 37


@pytest.fixture(scope="module")
def world() -> Any:
    with LocalBackend(tasks=TOTAL) as backend:
        client = BackendClient(backend.url, access_token=backend.token)
        everything = list(client.list_tasks(params={"page_size": 1000}, list_all=True)[0])
        yield backend, client, everything
        client.close()


bound = st.one_of(st.none(), st.integers(-TOTAL - 5, TOTAL + 5))


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(start=bound, stop=bound, page_size=st.integers(1, 12))
def test_any_slice_equals_the_list_slice(
    world: Any, start: int | None, stop: int | None, page_size: int
) -> None:
    _, client, everything = world
    result, count = client.list_tasks(params={"page_size": page_size}, list_all=True)
    assert count == TOTAL
    assert result[start:stop] == everything[start:stop]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(-TOTAL - 3, TOTAL + 3))
def test_an_index_is_one_small_request(world: Any, index: int) -> None:
    backend, client, everything = world
    result, _ = client.list_tasks(list_all=True)  # reads the first page, for the count
    backend.clear_requests()
    if -TOTAL <= index < TOTAL:
        assert result[index] == everything[index]
        listing = [r for r in backend.requests if r.path == "/sdk/tasks/"]
        # the count is known already: any index is one request for one item
        assert len(listing) == 1
        assert "page_size=1&" in listing[-1].query + "&"
    else:
        with pytest.raises(IndexError):
            result[index]


def test_an_unknown_storage_provider_is_sent_and_read_back_as_a_string(
    synapse_backend: LocalBackend,
) -> None:
    with BackendClient(synapse_backend.url, access_token=synapse_backend.token) as client:
        with pytest.warns(UnknownValueWarning, match="wasabi"):
            made = client.create_storage({"name": "w", "provider": "wasabi"})
        stored = client.get_storage(made["id"])
        assert stored["provider"] == "wasabi"
        assert stored["category"] == "external"
        typed = client.storages.get(made["id"])
        assert typed.provider == "wasabi"
        assert not isinstance(typed.provider, StorageProvider)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            known = client.storages.create(name="k", provider="GCP")  # any case
        assert known.provider is StorageProvider.GCP
