"""Filter names and enum values: checked the same way in both APIs, pinned on the wire."""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from hypothesis import given, settings
from hypothesis import strategies as st

from synapse import (
    BackendClient,
    Client,
    InvalidInputError,
    JobStatus,
    UnknownFilterError,
    UnknownFilterWarning,
)
from synapse.enums import require_enum
from tests.conftest import BASE, TOKEN

PAGE = {"count": 0, "next": None, "previous": None, "results": []}

# Every filter the original documentation and the wire contract (section 8) show per list.
DOCUMENTED_FILTERS = {
    "tasks": {"project", "id", "id__in", "is_discarded", "schema", "has_assignment",
              "status_label", "status_review", "assignments", "labelers", "reviewers",
              "groups", "stages", "workshops", "tags", "created__gt", "created__lte", "ids",
              "ids_ex", "search"},
    "assignments": {"project", "id", "workshop", "tasks", "users", "reviewers", "groups",
                    "stages", "task_tags", "tags", "status_label", "status_review",
                    "is_discarded", "is_discard_confirmed", "is_confirmed",
                    "label_submitted__gte", "last_reviewed__lt"},
    "jobs": {"status", "plugin", "agent", "action", "limit"},
    "storages": {"category"},
    "models": {"project", "limit", "offset"},
    "plugin_releases": {"plugin"},
    "data_units": {"data_collection"},
    "ground_truth_events": {"ground_truth", "ground_truth_dataset_versions", "category",
                            "categories", "classes", "task"},
    "ground_truths": {"ground_truth_dataset", "ground_truth_dataset_versions"},
    "ground_truth_versions": {"ground_truth_dataset", "is_archived"},
}  # fmt: skip


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(re.compile(rf"{re.escape(BASE)}/.*"), json=PAGE)
        rsps.patch(re.compile(rf"{re.escape(BASE)}/.*"), json={"id": 1})
        yield rsps


def query(call: Any) -> dict[str, list[str]]:
    return parse_qs(urlsplit(call.request.url).query)


@pytest.mark.parametrize("manager", sorted(DOCUMENTED_FILTERS))
def test_filter_tables_hold_every_documented_filter(manager: str) -> None:
    """Each documented name is declared: accepted, or refused with the reason (the
    contract gives it no meaning, so the local backend could not honour it)."""
    filters = getattr(Client(BASE, TOKEN), manager).filters
    declared = set(filters.allowed()) | set(filters.refused)
    assert DOCUMENTED_FILTERS[manager] - declared == set()


@pytest.mark.parametrize("name", ["groups", "stages", "discarded_filter"])
def test_a_filter_without_a_documented_meaning_is_refused_before_sending(
    mock: Any, name: str
) -> None:
    client = Client(BASE, TOKEN)
    with pytest.raises(UnknownFilterError, match="not supported"):
        client.tasks.filter(**{name: [1]})
    with pytest.raises(UnknownFilterError, match="not supported"):
        BackendClient(BASE, TOKEN).list_tasks(params={name: "1"})
    assert len(mock.calls) == 0


@pytest.mark.parametrize("given", ["running", "RUNNING", "Running", JobStatus.RUNNING])
def test_enum_filters_are_normalised_in_both_apis(mock: Any, given: Any) -> None:
    backend = BackendClient(BASE, TOKEN)
    backend.list_jobs(params={"status": given})
    list(backend.jobs.filter(status=given))
    assert [query(c)["status"] for c in mock.calls] == [["RUNNING"], ["RUNNING"]]


def test_a_value_outside_the_enum_raises_before_sending(mock: Any) -> None:
    backend = BackendClient(BASE, TOKEN)
    with pytest.raises(InvalidInputError, match="status"):
        backend.list_jobs(params={"status": "exploded"})
    with pytest.raises(InvalidInputError, match="status"):
        backend.jobs.filter(status="exploded")
    with pytest.raises(InvalidInputError, match="status"):
        backend.update_job(1, {"status": "exploded"})
    assert len(mock.calls) == 0


def test_documented_status_words_are_aliases(mock: Any) -> None:
    BackendClient(BASE, TOKEN).update_job(789, {"status": "completed"})
    assert json.loads(mock.calls[0].request.body) == {"status": "SUCCEEDED"}
    assert require_enum(JobStatus, "Succeeded") is JobStatus.SUCCEEDED


def test_unknown_filters_raise_by_default_before_sending(mock: Any) -> None:
    backend = BackendClient(BASE, TOKEN)
    with pytest.raises(UnknownFilterError, match="projct"):
        backend.list_tasks(params={"projct": 1})
    with pytest.raises(UnknownFilterError, match="did you mean 'project'"):
        backend.tasks.filter(projct=1)
    assert len(mock.calls) == 0


def test_unknown_filters_are_sent_with_a_warning_per_call(mock: Any) -> None:
    backend = BackendClient(BASE, TOKEN)
    with pytest.warns(UnknownFilterWarning, match="brand_new"):
        backend.list_tasks(params={"project": 1, "brand_new": "x"}, unknown_filters="warn")
    with pytest.warns(UnknownFilterWarning, match="brand_new"):
        list(backend.tasks.filter(project=1).raw_filter(brand_new=["a", "b"], is_discarded=False))
    assert query(mock.calls[0]) == {"project": ["1"], "brand_new": ["x"]}
    assert query(mock.calls[1])["brand_new"] == ["a,b"]
    assert query(mock.calls[1])["is_discarded"] == ["false"]  # known names still encoded


def test_unknown_filters_are_sent_with_a_warning_per_client(
    mock: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNAPSE_UNKNOWN_FILTERS", "warn")
    from_env = BackendClient(BASE, TOKEN)
    explicit = BackendClient(BASE, TOKEN, unknown_filters="warn")
    for client in (from_env, explicit):
        with pytest.warns(UnknownFilterWarning):
            client.list_models(params={"brand_new": 1})
        with pytest.warns(UnknownFilterWarning):
            list(client.models.filter(brand_new=2))
    assert [query(c)["brand_new"] for c in mock.calls] == [["1"], ["2"]] * 2
    with pytest.raises(InvalidInputError, match="unknown_filters"):
        BackendClient(BASE, TOKEN, unknown_filters="ignore")


def test_known_filters_give_no_warning(mock: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BackendClient(BASE, TOKEN).list_models(params={"project": 123})
    assert query(mock.calls[0]) == {"project": ["123"]}


def test_old_import_path_of_the_enums() -> None:
    from synapse import StorageCategory, StorageProvider
    from synapse.clients.backend import models

    assert models.StorageProvider is StorageProvider
    assert models.StorageCategory is StorageCategory


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "01/02/2026", ""])
def test_a_date_filter_refuses_text_that_is_no_date_before_sending(mock: Any, text: str) -> None:
    client = Client(BASE, TOKEN)
    with pytest.raises(InvalidInputError, match="expects a date or datetime"):
        client.tasks.filter(created__gte=text)
    assert len(mock.calls) == 0


@settings(max_examples=50)
@given(when=st.datetimes(timezones=st.just(dt.timezone.utc)))
def test_a_date_filter_sends_iso_text_and_datetimes_alike(when: dt.datetime) -> None:
    client = Client(BASE, TOKEN)
    as_text = client.tasks.filter(created__gte=when.isoformat().replace("+00:00", "Z"))
    as_value = client.tasks.filter(created__gte=when)
    assert (
        dict(as_text._params())["created__gte"].replace("Z", "+00:00")
        == dict(as_value._params())["created__gte"]
    )


def test_an_expansion_the_kind_does_not_declare_is_refused(mock: Any) -> None:
    client = Client(BASE, TOKEN)
    with pytest.raises(InvalidInputError, match=r"cannot expand 'bogus' on Task.*'data_unit'"):
        client.tasks.all().expand("bogus")
    assert len(mock.calls) == 0
    client.tasks.all().expand("data_unit").count()
    assert query(mock.calls[0])["expand"] == ["data_unit"]
