"""Fields that only() leaves out are not None: reading one says it was not fetched."""

from __future__ import annotations

import pickle
from typing import Any

import pytest

from synapse import Client, DeferredFieldError


def test_a_field_left_out_by_only_raises_naming_only(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    task = synapse_client.tasks.filter(project=demo["project"]).only("meta")[0]
    assert task.id is not None
    assert isinstance(task.meta, dict)  # asked for: there
    with pytest.raises(DeferredFieldError, match=r"Task\.status_label was not fetched.*only"):
        _ = task.status_label
    with pytest.raises(DeferredFieldError):
        _ = task.project  # a relation whose id was not fetched
    assert getattr(task, "data", "absent") == "absent"  # an AttributeError, as hasattr expects
    assert "status_label" not in task._repr_html_()
    with pytest.raises(DeferredFieldError):
        _ = pickle.loads(pickle.dumps(task)).status_label


def test_saving_an_only_object_sends_what_changed_and_loads_the_rest(
    synapse_client: Client, synapse_backend: Any, demo: dict[str, Any]
) -> None:
    query = synapse_client.tasks.filter(project=demo["project"])
    before = query[0]
    task = query.only("id")[0]
    task.meta = {"checked": True}
    synapse_backend.clear_requests()
    task.save()
    patches = [r for r in synapse_backend.requests if r.method == "PATCH"]
    assert len(patches) == 1
    again = synapse_client.tasks.get(task.id)
    assert again.meta == {"checked": True}
    assert again.data == before.data  # nothing that was not fetched was overwritten
    assert task.status_label == again.status_label  # loaded from the answer


def test_refresh_loads_every_field(synapse_client: Client, demo: dict[str, Any]) -> None:
    task = synapse_client.tasks.filter(project=demo["project"]).only("id")[0]
    task.refresh()
    assert task.status_label == synapse_client.tasks.get(task.id).status_label


def test_a_kind_updated_whole_refuses_to_put_what_only_left_out(
    synapse_client: Client, synapse_backend: Any, demo: dict[str, Any]
) -> None:
    plugin = synapse_client.plugins.only("name").first()
    assert plugin is not None
    plugin.name = "renamed"
    synapse_backend.clear_requests()
    with pytest.raises(DeferredFieldError, match=r"updated whole \(PUT\)"):
        plugin.save()
    assert [r for r in synapse_backend.requests if r.method in ("PUT", "PATCH")] == []
    plugin.refresh()
    plugin.name = "renamed"
    plugin.save()  # whole again: the PUT carries every field
    assert synapse_client.plugins.get(plugin.id).name == "renamed"
