"""Production-shaped pages parse in one pass: expanded relations, nested files, fields
the models do not declare."""

from __future__ import annotations

from typing import Any

import pytest

import synapse.pagination as pagination
from synapse import Client, DataUnit
from synapse.local import LocalBackend


@pytest.fixture(scope="module")
def realistic() -> Any:
    with LocalBackend(tasks=250) as backend, Client(backend.url, backend.token) as client:
        yield backend, client


def test_realistic_pages_take_the_one_pass_path(
    realistic: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend, client = realistic

    def slow_path(answer: Any) -> Any:
        raise AssertionError("a page fell back to json.loads and per-item parsing")

    monkeypatch.setattr(pagination, "_envelope", slow_path)
    tasks = list(client.tasks.filter(project=backend.big_project).page_size(100))
    assert len(tasks) == 250
    first = tasks[0]
    assert isinstance(first.data_unit_id, int)
    assert first.model_extra is not None
    assert first.model_extra["assignee"]["username"].startswith("labeler")
    assert len(first.data["annotations"]) == 5  # type: ignore[index]
    assert first.changed_fields == set()


def test_an_expanded_relation_is_used_without_a_request(realistic: Any) -> None:
    backend, client = realistic
    task = client.tasks.filter(project=backend.big_project).first()
    assert task is not None
    backend.clear_requests()
    unit = task.data_unit
    assert isinstance(unit, DataUnit)
    assert unit.id == task.data_unit_id
    assert set(unit.files or {}) == {"image_1", "image_2", "meta"}
    assert unit.files["image_1"]["url"].startswith(backend.url)  # type: ignore[index]
    assert backend.requests == []


def test_the_realistic_shape_is_what_the_wire_carries(realistic: Any) -> None:
    backend, client = realistic
    page = client.request(
        "GET", "sdk/tasks/", params={"project": backend.big_project, "page_size": 2}
    )
    row = page["results"][0]
    assert isinstance(row["data_unit"], dict)
    assert len(row["data_unit"]["files"]) == 3
    fields = client.tasks.resource.model_fields
    undeclared = set(row) - set(fields) - {f.alias for f in fields.values() if f.alias}
    assert len(undeclared) >= 12
