"""A field is changed only when its value differs from what the server sent."""

from __future__ import annotations

import json
from typing import Any

from synapse import Client
from synapse.local import LocalBackend


def writes(backend: LocalBackend) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in backend.requests if r.method in ("PATCH", "PUT")]


def test_a_fetched_collection_with_nested_specs_is_unchanged(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    collection = synapse_client.data_collections.get(demo["data_collection"])
    assert collection.changed_fields == set()
    assert "(changed)" not in repr(collection)
    synapse_backend.clear_requests()
    collection.save()
    assert writes(synapse_backend) == []


def test_changing_one_field_sends_only_that_field(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any], monkeypatch: Any
) -> None:
    collection = synapse_client.data_collections.get(demo["data_collection"])
    collection.description = "night frames"
    assert collection.changed_fields == {"description"}
    sent: list[Any] = []
    real = synapse_client.transport.answer

    def spy(call: Any) -> Any:
        sent.append((call.method, call.data))
        return real(call)

    monkeypatch.setattr(synapse_client.transport, "answer", spy)
    collection.save()
    assert sent == [("PATCH", {"description": "night frames"})]
    fresh = synapse_client.data_collections.get(demo["data_collection"])
    assert fresh.description == "night frames"
    assert [s.name for s in fresh.file_specifications or []] == ["image_1", "meta"]


def test_assigning_the_same_value_is_no_change(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    task = synapse_client.tasks.get(1)
    task.meta = task.meta
    task.tags = list(task.tags or [])
    assert task.changed_fields == set()
    plugin = synapse_client.plugins.get(demo["plugins"]["yolo-trainer"])
    synapse_backend.clear_requests()
    task.save()
    plugin.save()  # a full-update kind: an unchanged PUT would overwrite others' edits
    assert writes(synapse_backend) == []
    task.meta = {"checked": True}
    task.save()
    assert writes(synapse_backend) == [("PATCH", "/tasks/1/")]
    assert json.dumps(synapse_client.tasks.get(1).meta) == '{"checked": true}'
