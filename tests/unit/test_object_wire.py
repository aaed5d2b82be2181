"""The exact requests the object API sends, pinned with ``responses``."""

from __future__ import annotations

import json
import threading

import pytest
import responses
from responses import matchers

from synapse import Client, ClientError, JobStatus
from synapse.pagination import ReadAheadFetcher
from tests.conftest import BASE

TASK = {"id": 5, "project": 1, "data_unit": 2, "data": {"a": 1}, "meta": {"m": 1}, "tags": []}


@responses.activate
def test_patch_body_holds_only_the_changed_fields(client: Client) -> None:
    responses.get(f"{BASE}/tasks/5/", json=TASK)
    responses.patch(
        f"{BASE}/tasks/5/",
        json={**TASK, "meta": {"m": 2}},
        match=[matchers.json_params_matcher({"meta": {"m": 2}}, strict_match=True)],
    )
    task = client.tasks.get(5)
    task.meta = {"m": 2}
    task.save()
    assert task.meta == {"m": 2}
    assert len(responses.calls) == 2  # no GET after the PATCH


@responses.activate
def test_set_tags_body(client: Client) -> None:
    responses.get(f"{BASE}/tasks/5/", json=TASK)
    responses.post(
        f"{BASE}/tasks/set_tags/",
        json={},
        match=[
            matchers.json_params_matcher(
                {"ids": [5], "tags": [3, 4], "action": "remove"}, strict_match=True
            )
        ],
    )
    client.tasks.get(5).set_tags([3, 4], action="remove")
    assert responses.calls[1].request.headers["Content-Type"] == "application/json"


@responses.activate
def test_run_body_and_job_update(client: Client) -> None:
    responses.post(
        f"{BASE}/plugins/yolo/run/",
        json={"id": 9, "status": "PENDING", "action": "train"},
        match=[
            matchers.json_params_matcher(
                {"action": "train", "params": {"e": 1}, "agent": 2, "language": "ko"},
                strict_match=True,
            )
        ],
    )
    responses.patch(
        f"{BASE}/jobs/9/",
        json={"id": 9, "status": "SUCCEEDED"},
        match=[matchers.json_params_matcher({"status": "SUCCEEDED"}, strict_match=True)],
    )
    job = client.plugins.run("yolo", action="train", params={"e": 1}, agent=2)
    job.update(status=JobStatus.SUCCEEDED)
    assert job.status is JobStatus.SUCCEEDED


@responses.activate
def test_filter_query_strings(client: Client) -> None:
    responses.get(f"{BASE}/sdk/assignments/", json={"count": 0, "next": None, "results": []})
    list(
        client.assignments.filter(tasks=[1, 2], status_label="completed", workshop=4)
        .order_by("-id", "created")
        .expand("task")
        .only("id", "task")
    )
    query = responses.calls[0].request.url.split("?", 1)[1]
    assert query == (
        "tasks=1%2C2&status_label=completed&workshop=4&ordering=-id%2Ccreated"
        "&expand=task&fields=id&fields=task&page_size=100&page=1"
    )


@responses.activate
def test_storage_get_sends_with_configuration(client: Client) -> None:
    responses.get(
        f"{BASE}/storages/3/",
        json={"id": 3, "provider": "gcp", "category": "external"},
        match=[matchers.query_param_matcher({"with_configuration": "true"})],
    )
    assert client.storages.get(3).provider == "gcp"


@responses.activate
def test_create_tasks_wire_shape(client: Client) -> None:
    responses.post(
        f"{BASE}/tasks/",
        json=[{"id": 1, "project": 7, "data_unit": 3}],
        status=201,
        match=[
            matchers.json_params_matcher(
                {"project": 7, "data": [{"data_unit": 3}]}, strict_match=True
            )
        ],
    )
    task = client.tasks.create(project=7, data_unit=3)
    assert task.data_unit_id == 3
    body = json.loads(responses.calls[0].request.body)
    assert body == {"project": 7, "data": [{"data_unit": 3}]}


@responses.activate
def test_a_short_bulk_answer_marks_the_rest_failed(client: Client) -> None:
    responses.post(f"{BASE}/data_units/", json=[{"id": 1, "data_collection": 1}], status=201)
    report = client.data_units.bulk_create(
        [{"data_collection": 1, "files": {}}, {"data_collection": 1, "files": {}}]
    )
    assert [item.ok for item in report.items] == [True, False]
    assert "fewer objects" in str(report.items[1].error)


@responses.activate
def test_an_odd_server_object_is_a_clear_error_without_values(client: Client) -> None:
    responses.get(f"{BASE}/tasks/5/", json={"id": 5, "tags": "secret-value-123"})
    with pytest.raises(ClientError, match="unexpected Task from the server: tags") as info:
        client.tasks.get(5)
    assert "secret-value-123" not in str(info.value)


def test_close_stops_the_read_ahead_threads(client: Client) -> None:
    client.page_fetcher = ReadAheadFetcher()
    before = set(threading.enumerate())
    with responses.RequestsMock() as mock:
        nxt = f"{BASE}/sdk/tasks/?page=2"
        mock.get(f"{BASE}/sdk/tasks/", json={"count": 2, "next": nxt, "results": [{"id": 1}]})
        mock.get(f"{BASE}/sdk/tasks/", json={"count": 2, "next": None, "results": [{"id": 2}]})
        assert [t.id for t in client.tasks.all().page_size(1)] == [1, 2]
    threads = [
        t for t in threading.enumerate() if t.name.startswith("synapse-pages") and t not in before
    ]
    assert threads
    assert all(t.is_alive() for t in threads)
    client.close()
    for thread in threads:
        thread.join(2)
    assert not any(t.is_alive() for t in threads)


@responses.activate
def test_listed_objects_track_in_place_changes_and_pickle(client: Client) -> None:
    import copy
    import pickle

    rows = [{**TASK, "id": i, "meta": {"m": i}} for i in (1, 2)]
    responses.get(f"{BASE}/sdk/tasks/", json={"count": 2, "next": None, "results": rows})
    first, second = list(client.tasks.all())
    assert first.changed_fields == set()
    assert first.meta is not None
    first.meta["m"] = 99
    assert first.changed_fields == {"meta"}
    assert second.changed_fields == set()
    for clone in (pickle.loads(pickle.dumps(first)), copy.copy(first), copy.deepcopy(first)):
        assert clone.changed_fields == {"meta"}
        assert clone.meta == {"m": 99}
    responses.patch(
        f"{BASE}/tasks/1/",
        json={**rows[0], "meta": {"m": 99}},
        match=[matchers.json_params_matcher({"meta": {"m": 99}}, strict_match=True)],
    )
    first.save()
    assert first.changed_fields == set()


@responses.activate
def test_an_odd_object_in_a_page_is_a_clear_error(client: Client) -> None:
    rows = [TASK, {**TASK, "id": 6, "tags": "oops-not-a-list"}]
    responses.get(f"{BASE}/sdk/tasks/", json={"count": 2, "next": None, "results": rows})
    with pytest.raises(ClientError, match="unexpected Task from the server: tags"):
        list(client.tasks.all())


@responses.activate
def test_stable_cursor_walk_follows_next_links_verbatim(client: Client) -> None:
    nxt = f"{BASE}/sdk/tasks/?project=1&pagination=cursor&ordering=-id&page_size=2&cursor=abc"
    responses.get(
        f"{BASE}/sdk/tasks/",
        match=[matchers.query_param_matcher(
            {"project": "1", "pagination": "cursor", "ordering": "-id", "page_size": "2"}
        )],
        json={"next": nxt, "previous": None, "results": [{**TASK, "id": 9}, {**TASK, "id": 8}]},
    )  # fmt: skip
    responses.get(nxt, json={"next": None, "previous": None, "results": [{**TASK, "id": 7}]})
    qs = client.tasks.filter(project=1).page_size(2)
    assert [t.id for t in qs.iterator(stable=True)] == [9, 8, 7]
    assert responses.calls[1].request.url == nxt


@responses.activate
def test_stable_keyset_walk_asks_for_ids_after_the_last(client: Client) -> None:
    page = "{}/sdk/tasks/?project=1&ordering=id&page_size=2"
    responses.get(
        f"{BASE}/sdk/tasks/",
        match=[matchers.query_param_matcher({"project": "1", "ordering": "id", "page_size": "2"})],
        json={"count": 3, "next": page.format(BASE) + "&page=2", "previous": None,
              "results": [{**TASK, "id": 1}, {**TASK, "id": 2}]},
    )  # fmt: skip
    responses.get(
        f"{BASE}/sdk/tasks/",
        match=[matchers.query_param_matcher(
            {"project": "1", "ordering": "id", "page_size": "2", "id__gt": "2"}
        )],
        json={"count": 1, "next": None, "previous": None, "results": [{**TASK, "id": 3}]},
    )  # fmt: skip
    qs = client.tasks.filter(project=1).order_by("id").page_size(2)
    assert [t.id for t in qs.iterator(stable=True)] == [1, 2, 3]
