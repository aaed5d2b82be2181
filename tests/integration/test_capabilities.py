"""Each kind offers exactly what its endpoints support: no method that can only fail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from synapse import Client, protocol
from synapse.managers import MIXINS, ListMixin, UpdateMixin
from synapse.resources.base import capabilities_of


def declaring(capability: str) -> set[str]:
    """The kinds whose declaration offers ``capability``."""
    return {n for n, k in protocol.KINDS.items() if capability in k.capabilities}


# kind -> (a demo object's id, a field to change, a new value)
WRITES: dict[str, tuple[int, str, Any]] = {
    "projects": (1, "description", "changed"),
    "tasks": (1, "meta", {"changed": True}),
    "task_tags": (1, "color", "#000000"),
    "assignments": (1, "status_label", "completed"),
    "plugins": (1, "description", "changed"),
    "jobs": (789, "status", "STOPPED"),
    "models": (1, "description", "changed"),
    "data_collections": (1, "description", "changed"),
    "data_units": (1, "meta", {"changed": True}),
}


def _unit_like_the_first(client: Client) -> dict[str, Any]:
    files = client.data_units.get(1).files or {}
    image = files["image_1"]
    assert isinstance(image, dict)
    return {"data_collection": 1, "files": {"image_1": {"checksum": image["checksum"]}}}


DELETES: dict[str, dict[str, Any] | Callable[[Client], dict[str, Any]]] = {
    "projects": {"title": "doomed"},
    "tasks": {"project": 1, "data_unit": 1},
    "task_tags": {"project": 1, "name": "doomed"},
    "plugins": {"code": "doomed", "name": "doomed", "category": "custom"},
    "models": {"name": "doomed"},
    "data_collections": {"name": "doomed"},
    "data_units": _unit_like_the_first,
}


def test_the_tables_cover_every_declared_write_and_delete() -> None:
    assert set(WRITES) == declaring("update")
    assert set(DELETES) == declaring("delete")
    assert len(DELETES) == 7


METHODS = {"get": "refresh", "update": "save", "delete": "delete"}


@pytest.mark.parametrize("name", sorted(protocol.KINDS))
def test_managers_and_resources_offer_exactly_the_declared_capabilities(
    synapse_client: Client, name: str
) -> None:
    kind = protocol.KINDS[name]
    manager = getattr(synapse_client, name)
    offered = {cap for cap, mixin in MIXINS.items() if isinstance(manager, mixin)}
    assert offered == set(kind.capabilities)
    assert capabilities_of(manager.resource) == kind.capabilities
    for capability, method in METHODS.items():
        assert hasattr(manager.resource, method) == (capability in kind.capabilities), method


def test_kinds_without_a_write_endpoint_have_no_write_method(synapse_client: Client) -> None:
    from synapse import GroundTruthEvent, Job, PluginRelease, Storage

    assert not hasattr(Job, "delete")  # the backend has no DELETE jobs/{id}/
    assert not hasattr(GroundTruthEvent, "save")  # events are history: no PATCH
    assert not hasattr(GroundTruthEvent, "refresh")
    assert not hasattr(PluginRelease, "save")
    assert not hasattr(Storage, "save")
    assert not hasattr(synapse_client.agents, "get")


@pytest.mark.parametrize("kind", sorted(WRITES))
def test_every_offered_save_works_and_reads_back(
    synapse_client: Client, demo: dict[str, Any], kind: str
) -> None:
    pk, field, value = WRITES[kind]
    manager = getattr(synapse_client, kind)
    assert isinstance(manager, UpdateMixin)
    obj = manager.get(pk)
    setattr(obj, field, value)
    obj.save()
    fresh = manager.get(pk)
    got = getattr(fresh, field)
    assert (got.value if hasattr(got, "value") else got) == value
    assert obj.changed_fields == set()


@pytest.mark.parametrize("kind", sorted(DELETES))
def test_every_offered_delete_works(
    synapse_client: Client, demo: dict[str, Any], kind: str
) -> None:
    manager = getattr(synapse_client, kind)
    body = DELETES[kind]
    made = manager.create(**(body(synapse_client) if callable(body) else body))
    made.delete()
    with pytest.raises(manager.resource.DoesNotExist):
        manager.get(made.pk)


def test_refresh_goes_through_the_manager_with_its_detail_parameters(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    collection = synapse_client.data_collections.get(1)
    collection.refresh()  # with expand=file_specifications, as get() asks
    assert [s.name for s in collection.file_specifications or []] == ["image_1", "meta"]
    assert isinstance(synapse_client.data_collections, ListMixin)
