"""Each kind offers exactly what its endpoints support: no method that can only fail."""

from __future__ import annotations

from typing import Any

import pytest

from synapse import Client
from synapse.managers import CreateMixin, DeleteMixin, GetMixin, ListMixin, Manager, UpdateMixin
from synapse.resources.base import Deletable, Refreshable, Savable

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
DELETES: dict[str, dict[str, Any]] = {
    "projects": {"title": "doomed"},
    "task_tags": {"project": 1, "name": "doomed"},
    "plugins": {"code": "doomed", "name": "doomed", "category": "custom"},
    "data_collections": {"name": "doomed"},
}


def managers(client: Client) -> dict[str, Manager[Any]]:
    return {name: m for name, m in vars(client).items() if isinstance(m, Manager)}


def test_resources_and_managers_agree_on_capabilities(synapse_client: Client) -> None:
    for name, manager in managers(synapse_client).items():
        resource = manager.resource
        assert issubclass(resource, Refreshable) == isinstance(manager, GetMixin), name
        assert issubclass(resource, Savable) == isinstance(manager, UpdateMixin), name
        assert issubclass(resource, Deletable) == isinstance(manager, DeleteMixin), name
        assert hasattr(resource, "save") == isinstance(manager, UpdateMixin), name
        assert hasattr(resource, "delete") == isinstance(manager, DeleteMixin), name


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
    assert isinstance(manager, (DeleteMixin, CreateMixin))
    made = manager.create(**DELETES[kind])
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
