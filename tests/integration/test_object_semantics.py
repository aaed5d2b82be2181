"""Relations, bulk reports, notebook display and request counting, over HTTP."""

from __future__ import annotations

import re
from typing import Any

import pytest

from synapse import Client
from synapse.local import LocalBackend
from synapse.testing import count_requests, num_requests


def test_related_objects_do_not_leak_unsaved_edits_between_owners(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    first, second = synapse_client.tasks.filter(project=demo["project"])[:2]
    first.project.title = "edited, not saved"  # type: ignore[union-attr]
    assert second.project is not None
    assert second.project.title == "Street scene labeling"
    assert first.project.title == "edited, not saved"  # type: ignore[union-attr]


def test_a_fresh_get_refreshes_what_relations_return(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    task = synapse_client.tasks.get(1)
    assert task.project is not None
    assert task.project.title == "Street scene labeling"
    synapse_client.request("PATCH", f"projects/{demo['project']}/", data={"title": "Renamed"})
    assert synapse_client.projects.get(demo["project"]).title == "Renamed"
    assert synapse_client.tasks.get(2).project.title == "Renamed"  # type: ignore[union-attr]


def test_bulk_create_creates_the_valid_items_of_a_rejected_batch(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    before = synapse_client.tasks.filter(project=demo["project"]).count()
    report = synapse_client.tasks.bulk_create(
        [
            {"project": demo["project"], "data_unit": 1},
            {"project": demo["project"], "data_unit": 987654},  # no such data unit
            {"project": demo["project"], "data_unit": 2},
        ],
        batch_size=3,
    )
    assert [item.ok for item in report.items] == [True, False, True]
    assert "987654" in str(report.items[1].error)
    assert synapse_client.tasks.filter(project=demo["project"]).count() == before + 2


def test_a_queryset_shows_a_table_with_one_request(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    qs = synapse_client.tasks.filter(project=demo["project"])
    with count_requests(synapse_client) as counter:
        table = qs._repr_html_()
    assert len(counter.requests) == 1
    assert "12 Task objects (first 10)" in table
    assert table.count("<tr>") == 11  # the header and ten rows
    assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", table)  # dates as ISO text
    assert "datetime.datetime" not in table
    assert "datetime.datetime" not in synapse_client.tasks.get(1)._repr_html_()


def test_assert_num_requests_pins_and_lists_requests(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    with num_requests(synapse_client, 2):
        synapse_client.projects.get(demo["project"])
        synapse_client.tasks.filter(project=demo["project"]).count()

    def two_requests() -> None:
        with num_requests(synapse_client, 1):
            synapse_client.projects.get(demo["project"])
            synapse_client.tasks.get(1)

    with pytest.raises(AssertionError, match=r"expected 1 request\(s\), 2 were sent:\n  GET"):
        two_requests()


def test_the_fixture_is_offered_to_users(
    assert_num_requests: Any, synapse_client: Client, demo: dict[str, Any]
) -> None:
    with assert_num_requests(synapse_client, 1):
        synapse_client.tasks.get(1)
