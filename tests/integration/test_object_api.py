"""The object API against the local backend, over real HTTP."""

from __future__ import annotations

import copy
import json
import pickle
import warnings
from typing import Any

import pytest

from synapse import (
    Assignment,
    Client,
    DataCollection,
    DeferredFieldError,
    InvalidInputError,
    Job,
    JobFailed,
    JobStatus,
    JobTimeoutError,
    NotFoundError,
    Plugin,
    Project,
    ReadOnlyFieldError,
    StorageCategory,
    StorageProvider,
    Task,
    UnknownFieldWarning,
    UnknownFilterError,
)
from synapse.local import LocalBackend, ManualClock
from synapse.local.kinds import KINDS
from synapse.local.seed import DEMO_AGENT_TOKEN


def paths(backend: LocalBackend) -> list[str]:
    return [f"{r.method} {r.path}" for r in backend.requests]


# ------------------------------------------------------------------ managers


def test_projects_manager(synapse_client: Client, demo: dict[str, Any]) -> None:
    project = synapse_client.projects.get(demo["project"])
    assert isinstance(project, Project)
    assert project.title == "Street scene labeling"
    assert synapse_client.projects.count() == 2  # the demo project and the documentation one
    created = synapse_client.projects.create(title="New", category="image")
    assert created.id is not None
    assert synapse_client.projects.get(created.id) == created
    made, was_created = synapse_client.projects.get_or_create(ids=[created.id])
    assert (made, was_created) == (created, False)


def test_create_takes_related_objects(synapse_client: Client, demo: dict[str, Any]) -> None:
    collection = synapse_client.data_collections.get(demo["data_collection"])
    project = synapse_client.projects.create(title="linked", data_collection=collection)
    assert project.data_collection_id == collection.id
    assert project.data_collection == collection


def test_every_manager_lists_or_gets(synapse_client: Client, demo: dict[str, Any]) -> None:
    c = synapse_client
    assert c.tasks.filter(project=demo["project"]).count() == 12
    assert c.task_tags.filter(project=demo["project"]).count() == 2
    assert c.assignments.filter(project=demo["project"]).count() == 6
    assert c.agents.first() is not None
    assert c.plugins.get(demo["plugins"]["yolo-trainer"]).code == "yolo-trainer"
    assert [r.version for r in c.plugin_releases.filter(plugin="yolo-trainer")] == [
        "1.0.0",
        "1.1.0",
    ]
    assert c.plugin_releases.get("coco-export@1.0.0").version == "1.0.0"
    assert c.storages.filter(category=StorageCategory.EXTERNAL).get().provider == (
        StorageProvider.AMAZON_S3
    )
    assert c.models.first() is not None
    assert c.data_collections.get(demo["data_collection"]).specification("image_1") is not None
    assert c.data_units.filter(data_collection=demo["data_collection"]).count() == 12
    version = demo["ground_truth_version"]
    assert (
        c.ground_truth_events.filter(category="train", ground_truth_dataset_versions=[version])
    ).count() == 2
    assert (
        c.ground_truth_events.filter(
            categories=["test", "validation"], ground_truth_dataset_versions=[version]
        ).count()
        == 2
    )
    assert c.ground_truths.filter(ground_truth_dataset_versions=[1]).count() == 4
    version = c.ground_truth_versions.get(demo["ground_truth_version"])
    assert version.version == "v1"
    assert c.ground_truth_versions.filter(is_archived=False).count() == 2  # demo + docs
    assert c.data_files.verify_checksums(["nope"]) == []


def test_get_by_filters_and_its_errors(synapse_client: Client, demo: dict[str, Any]) -> None:
    task = synapse_client.tasks.get(id=3)
    assert task.id == 3
    assert synapse_client.tasks.get(pk=3).id == 3  # Django's name for the key
    assert synapse_client.tasks.get(pk=3, project=demo["project"]).id == 3
    assert [t.id for t in synapse_client.tasks.filter(pk__in=[3, 4]).order_by("id")] == [3, 4]
    with pytest.raises(InvalidInputError, match="an id or filters, not both"):
        synapse_client.tasks.get(3, pk=3)
    with pytest.raises(Task.DoesNotExist) as missing:
        synapse_client.tasks.get(id=999)
    assert isinstance(missing.value, NotFoundError)
    with pytest.raises(Task.MultipleObjectsReturned):
        synapse_client.tasks.get(project=demo["project"])
    with pytest.raises(Project.DoesNotExist):
        synapse_client.projects.get(12345)
    assert not issubclass(Task.DoesNotExist, Project.DoesNotExist)


def test_bad_input_raises_before_any_request(
    synapse_client: Client, synapse_backend: LocalBackend
) -> None:
    synapse_backend.clear_requests()
    with pytest.raises(UnknownFilterError, match="did you mean 'project'"):
        synapse_client.tasks.filter(projects=1)
    with pytest.raises(UnknownFilterError, match="created__gt"):
        synapse_client.tasks.filter(created_after="2024-01-01")
    with pytest.raises(UnknownFilterError, match="'tasks'"):
        synapse_client.assignments.filter(task=1)
    with pytest.raises(InvalidInputError, match="expects an id"):
        synapse_client.tasks.filter(project="abc")
    with pytest.raises(InvalidInputError, match="True or False"):
        synapse_client.tasks.filter(is_discarded="no")
    with pytest.raises(InvalidInputError, match="status"):
        synapse_client.jobs.filter(status="DONE")
    with pytest.raises(InvalidInputError):
        synapse_client.tasks.get("../admin")
    with pytest.raises(InvalidInputError, match="provider"):
        synapse_client.storages.create(name="s", category="external", provider=7)
    assert synapse_backend.requests == []


# ------------------------------------------------------------------ QuerySet


def test_queryset_is_lazy_and_caches(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    synapse_backend.clear_requests()
    qs = synapse_client.tasks.filter(project=demo["project"]).order_by("-id").page_size(5)
    assert synapse_backend.requests == []
    assert len(qs) == 12
    assert len(synapse_backend.requests) == 3
    assert [t.id for t in qs][:3] == [12, 11, 10]
    assert bool(qs)
    assert qs.count() == 12
    assert len(synapse_backend.requests) == 3  # everything above came from the cache


def test_slices_fetch_only_what_they_need(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    qs = synapse_client.tasks.filter(project=demo["project"]).order_by("id")
    synapse_backend.clear_requests()
    assert [t.id for t in qs[:10]] == list(range(1, 11))
    assert len(synapse_backend.requests) == 1
    assert "page_size=10" in synapse_backend.requests[0].query
    assert qs[4].id == 5
    assert "page_size=1" in synapse_backend.requests[-1].query
    assert [t.id for t in qs[3:7][1:3]] == [5, 6]
    assert list(qs[20:30]) == []
    with pytest.raises(ValueError, match="negative"):
        qs[-1]
    with pytest.raises(IndexError):
        qs[50]


def test_count_exists_first(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    synapse_backend.clear_requests()
    assert synapse_client.tasks.filter(project=demo["project"]).count() == 12
    assert "page_size=1" in synapse_backend.requests[-1].query
    assert synapse_client.tasks.filter(project=demo["project"])[3:5].count() == 2
    assert synapse_client.tasks.filter(project=999).exists() is False
    assert synapse_client.tasks.filter(project=999).first() is None
    first = synapse_client.tasks.filter(project=demo["project"]).order_by("-id").first()
    assert first is not None
    assert first.id == 12


def test_iterator_streams_without_caching(synapse_client: Client, demo: dict[str, Any]) -> None:
    qs = synapse_client.tasks.filter(project=demo["project"]).page_size(5)
    seen = [t.id for t in qs.iterator()]
    assert seen == list(range(1, 13))
    assert qs._result_cache is None


def test_only_and_expand(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    slim = synapse_client.tasks.only("data_unit").first()
    assert slim is not None
    assert slim.data_unit_id == 1
    with pytest.raises(DeferredFieldError):  # not fetched: not None either
        _ = slim.meta
    synapse_backend.clear_requests()
    tasks = list(synapse_client.tasks.filter(project=demo["project"]).expand("data_unit"))
    units = [t.data_unit for t in tasks]
    assert all(u is not None and u.files for u in units)
    assert len(synapse_backend.requests) == 1  # relations came from the list answer


# ------------------------------------------------------------------ instances


def test_save_sends_changed_fields_and_reloads(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    project = synapse_client.projects.get(demo["project"])
    assert project.changed_fields == set()
    project.description = "changed"
    assert project.changed_fields == {"description"}
    synapse_backend.clear_requests()
    project.save()
    assert paths(synapse_backend) == [f"PATCH /projects/{project.id}/"]
    assert project.changed_fields == set()
    assert synapse_client.projects.get(demo["project"]).description == "changed"
    project.save()  # nothing changed: nothing sent
    assert len(synapse_backend.requests) == 2


def test_in_place_changes_are_tracked(synapse_client: Client, demo: dict[str, Any]) -> None:
    project = synapse_client.projects.get(demo["project"])
    assert project.configuration is not None
    project.configuration["classes"] = []
    assert project.changed_fields == {"configuration"}
    project.save()
    assert synapse_client.projects.get(demo["project"]).configuration == {"classes": []}


def test_read_only_and_validated_assignment(synapse_client: Client, demo: dict[str, Any]) -> None:
    task = synapse_client.tasks.get(1)
    with pytest.raises(ReadOnlyFieldError):
        task.id = 5
    with pytest.raises(ReadOnlyFieldError):
        task.created = None
    with pytest.raises(InvalidInputError):
        task.tags = "not a list"  # type: ignore[assignment]
    job = synapse_client.plugins.get(1).run(action="train")
    with pytest.raises(ReadOnlyFieldError):
        job.action = "other"


def test_update_refresh_delete(synapse_client: Client, demo: dict[str, Any]) -> None:
    project = synapse_client.projects.create(title="temp")
    project.update(title="renamed")
    other = synapse_client.projects.get(project.id)  # type: ignore[arg-type]
    assert other.title == "renamed"
    other.update(title="again")
    project.title = "unsaved"
    project.refresh()
    assert project.title == "again"
    assert project.changed_fields == set()
    project.delete()
    with pytest.raises(InvalidInputError, match="deleted"):
        project.save()
    with pytest.raises(Project.DoesNotExist):
        synapse_client.projects.get(other.id)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="no field"):
        other.update(titel="x")


def test_unknown_fields_are_kept_and_round_trip(
    synapse_client: Client, synapse_backend: Any, demo: dict[str, Any]
) -> None:
    """A newer server's field the SDK does not declare: kept on the object and sent
    back whole by a save (plugins are updated by PUT)."""
    with pytest.warns(UnknownFieldWarning, match="future_field"):
        made = synapse_client.plugins.create(code="p9", name="P9", future_field={"x": 1})
    assert made.model_extra == {}  # the local backend, like the real one, drops it
    # ...so the field comes from a server that knows it: put there directly
    doc = synapse_backend.backend.store.get(KINDS["plugins"], made.id)
    synapse_backend.backend.store.save(KINDS["plugins"], {**doc, "future_field": {"x": 1}})
    plugin = synapse_client.plugins.get(made.id)  # type: ignore[arg-type]
    assert plugin.model_extra == {"future_field": {"x": 1}}
    sent: list[Any] = []
    handle = synapse_client.transport.http.handle
    synapse_client.transport.http.handle = lambda r: sent.append(r) or handle(r)  # type: ignore[method-assign,func-returns-value]
    plugin.name = "renamed"
    plugin.save()  # a PUT: the whole object, unknown fields included
    (put,) = [r for r in sent if r.method == "PUT"]
    assert json.loads(put.content)["future_field"] == {"x": 1}
    again = synapse_client.plugins.get(plugin.id)  # type: ignore[arg-type]
    assert again.name == "renamed"
    assert again.model_extra is not None
    assert again.model_extra["future_field"] == {"x": 1}


def test_equality_repr_and_html(synapse_client: Client, demo: dict[str, Any]) -> None:
    a = synapse_client.tasks.get(1)
    b = synapse_client.tasks.first()
    assert a == b
    assert hash(a) == hash(b)
    assert a != synapse_client.tasks.get(2)
    assert a != synapse_client.projects.get(1)
    assert repr(a) == "<Task id=1 project_id=1 data_unit_id=1>"
    assert "<table>" in a._repr_html_()
    storage = synapse_client.storages.get(1)
    assert "location" not in repr(storage)
    assert "configuration" not in storage._repr_html_()


def test_pickle_and_copy_keep_dirty_state(synapse_client: Client, demo: dict[str, Any]) -> None:
    task = synapse_client.tasks.get(1)
    task.meta = {"dirty": True}
    clone = pickle.loads(pickle.dumps(task))
    assert clone.changed_fields == {"meta"}
    assert clone._client is not None
    assert clone._client.transport.http._session is None  # type: ignore[attr-defined]
    clone.save()  # works from its own lazily made session
    assert synapse_client.tasks.get(1).meta == {"dirty": True}
    shallow = copy.copy(task)
    deep = copy.deepcopy(task)
    assert shallow.changed_fields == deep.changed_fields == {"meta"}
    assert deep._client is synapse_client
    shallow.tags = [1]
    assert task.changed_fields == {"meta"}


# ------------------------------------------------------------------ relations


def test_relations_load_once_and_are_cached(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    tasks = list(synapse_client.tasks.filter(project=demo["project"])[:3])
    synapse_backend.clear_requests()
    projects = [t.project for t in tasks]
    assert all(isinstance(p, Project) for p in projects)
    assert paths(synapse_backend) == [f"GET /projects/{demo['project']}/"]
    unit = tasks[0].data_unit
    assert unit is not None
    collection = unit.data_collection
    assert isinstance(collection, DataCollection)
    project = projects[0]
    assert project is not None
    project.update(title="fresh")  # saving through the client invalidates its cache
    assert tasks[1].project is not None
    assert tasks[1].project.title == "Street scene labeling"  # its own copy, as Django's
    reloaded = synapse_client.tasks.get(tasks[1].id)  # type: ignore[arg-type]
    assert reloaded.project is not None
    assert reloaded.project.title == "fresh"


def test_related_managers(synapse_client: Client, demo: dict[str, Any]) -> None:
    project = synapse_client.projects.get(demo["project"])
    assert project.tasks.count() == 12
    assert all(isinstance(a, Assignment) for a in project.assignments)
    collection = synapse_client.data_collections.get(demo["data_collection"])
    assert collection.data_units.count() == 12
    plugin = synapse_client.plugins.get(demo["plugins"]["yolo-trainer"])
    assert [r.version for r in plugin.releases] == ["1.0.0", "1.1.0"]
    release = plugin.releases.first()
    assert release is not None
    assert release.plugin == plugin
    job = plugin.run(action="train")
    assert job.plugin_release is not None
    assert job.plugin_release.version == "1.1.0"


def test_setting_a_relation(synapse_client: Client, demo: dict[str, Any]) -> None:
    task = synapse_client.tasks.get(1)
    other = synapse_client.projects.create(title="other")
    task.project = other
    assert task.project_id == other.id
    assert task.changed_fields == {"project_id"}


# ------------------------------------------------------------------ actions


def test_annotate(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    task = synapse_client.tasks.get(2)
    task.annotate({"boxes": [1]}, action="save", schema="any")
    assert task.data == {"boxes": [1]}
    assert task.status_label == "in_progress"
    record = synapse_backend.requests[-1]
    assert (record.method, record.path, record.query) == (
        "PUT",
        "/tasks/2/annotate_task_data/",
        "schema=any",
    )
    with pytest.raises(InvalidInputError, match="action"):
        task.annotate({}, action="publish")


def test_set_tags_on_instances_and_querysets(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    tag = synapse_client.task_tags.first()
    assert tag is not None
    task = synapse_client.tasks.get(1)
    task.set_tags([tag])
    task.refresh()
    assert task.tags == [tag.id]
    task.set_tags(tag, action="remove")
    task.refresh()
    assert task.tags == []
    qs = synapse_client.tasks.filter(project=demo["project"])[:4]
    synapse_backend.clear_requests()
    qs.set_tags([tag])
    assert [r.path for r in synapse_backend.requests][-1] == "/tasks/set_tags/"
    assert len(synapse_backend.requests) == 2  # the ids, then one set-tags request
    assert synapse_client.tasks.filter(tags=[tag]).count() >= 4
    assignment = synapse_client.assignments.get(1)
    assignment.set_tags([5])
    assignment.refresh()
    assert 5 in (assignment.tags or [])


def test_run_wait_and_logs(
    synapse_client: Client, demo: dict[str, Any], clock: ManualClock
) -> None:
    job = synapse_client.plugins.get(demo["plugins"]["yolo-trainer"]).run(
        action="train", params={"epochs": 2}
    )
    assert isinstance(job, Job)
    assert job.status == JobStatus.PENDING
    assert job.wait(poll=0.02) is job
    assert job.status is JobStatus.SUCCEEDED
    assert 0.1 <= clock() < 0.2  # two job steps of 0.05 s, seen through polls backing off
    assert len(job.logs()) == 3
    by_code = synapse_client.plugins.run("coco-export", action="export")
    assert by_code.params == {}


def test_failed_job_raises_with_logs(
    synapse_client: Client, demo: dict[str, Any], clock: ManualClock
) -> None:
    job = synapse_client.plugins.run("broken-plugin", action="train")
    with pytest.raises(JobFailed) as info:
        job.wait(poll=0.02)
    assert info.value.job.status == JobStatus.FAILED
    assert "failed" in info.value.logs[-1]


def test_wait_times_out(synapse_client: Client, demo: dict[str, Any], clock: ManualClock) -> None:
    job = synapse_client.plugins.run("coco-export", action="export")
    job.update(status=JobStatus.RUNNING)  # the local backend stops moving it
    with pytest.raises(JobTimeoutError):
        job.wait(timeout=0.1, poll=0.02)
    assert clock() == pytest.approx(0.1)  # it waited its timeout, in polls, and gave up
    job.update(status=JobStatus.SUCCEEDED)
    assert synapse_client.jobs.get(job.id).status == JobStatus.SUCCEEDED  # type: ignore[arg-type]
    assert synapse_client.jobs.filter(status=JobStatus.SUCCEEDED).count() == 1


def test_agents_health_check(synapse_client: Client, demo: dict[str, Any]) -> None:
    answer = synapse_client.agents.health_check(DEMO_AGENT_TOKEN)
    assert answer["status"] == "connected"
    with pytest.raises(NotFoundError):
        synapse_client.agents.health_check("f" * 40)


def test_storages_create(synapse_client: Client, demo: dict[str, Any]) -> None:
    storage = synapse_client.storages.create(
        name="bucket",
        category=StorageCategory.EXTERNAL,
        provider=StorageProvider.AMAZON_S3,
        configuration={"bucket_name": "b"},
    )
    assert storage.provider is StorageProvider.AMAZON_S3
    assert synapse_client.storages.get(storage.id).configuration == {"bucket_name": "b"}  # type: ignore[arg-type]
    by_string = synapse_client.storages.create(name="x", category="internal", provider="smb")
    assert by_string.category is StorageCategory.INTERNAL


def test_unknown_enum_values_from_the_server_are_tolerated(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    synapse_client.request(
        "POST", "storages/", data={"name": "n", "category": "external", "provider": "dropbox"}
    )
    storage = synapse_client.storages.filter(category=StorageCategory.EXTERNAL).order_by("-id")[0]
    assert storage.provider == "dropbox"


def test_bulk_create_reports_each_item(synapse_client: Client, demo: dict[str, Any]) -> None:
    report = synapse_client.tasks.bulk_create(
        [
            {"project": demo["project"], "data_unit": 1},
            {"project": 999, "data_unit": 2},
            {"project": demo["project"], "data_unit": 3},
        ],
        batch_size=10,
    )
    assert [item.ok for item in report.items] == [True, False, True]
    assert [t.data_unit_id for t in report.created] == [1, 3]
    projects = synapse_client.projects.bulk_create([{"title": "a"}, {"title": "b"}])
    assert [p.title for p in projects.created] == ["a", "b"]


def test_plugin_save_uses_put(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    plugin = synapse_client.plugins.get(1)
    assert isinstance(plugin, Plugin)
    plugin.description = "updated"
    plugin.save()
    assert synapse_backend.requests[-1].method == "PUT"


def test_repr_of_listed_objects_parses_their_page_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import json as real_json
    from types import SimpleNamespace

    import synapse.pagination as pagination

    with LocalBackend(tasks=1000) as backend, Client(backend.url, backend.token) as client:
        tasks = list(client.tasks.filter(project=backend.big_project).page_size(500))
        parses: list[int] = []

        def counting_loads(content: Any, **kwargs: Any) -> Any:
            parses.append(len(content))
            return real_json.loads(content, **kwargs)

        monkeypatch.setattr(pagination, "json", SimpleNamespace(loads=counting_loads))
        shown = [repr(t) for t in tasks]
        assert all("(changed)" not in line for line in shown)
        assert all(t.changed_fields == set() for t in tasks)
        assert len(parses) == 2  # one parse per page of 500, not one per object
        tasks[3].meta = {"edited": True}
        assert tasks[3].changed_fields == {"meta"}
        assert len(parses) == 2


def test_order_by_is_checked_against_the_kinds_orderable_fields(
    synapse_client: Client, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="did you mean 'id'"):
        synapse_client.tasks.order_by("-idd")
    with pytest.raises(InvalidInputError, match="orderable: "):
        synapse_client.jobs.order_by("colour")
    assert synapse_backend.requests == []
    newest = synapse_client.tasks.filter(project=demo["project"]).order_by("-id").first()
    assert newest is not None
    assert newest.id == 12


@pytest.mark.parametrize(
    ("kind", "fields", "meant"),
    [
        ("projects", {"titel": "x"}, "title"),
        ("projects", {"title": "x", "descripton": "y"}, "description"),
        ("plugins", {"code": "p", "nme": "P"}, "name"),
        ("tasks", {"project": 1, "data_unit": 1, "mata": {"a": 1}}, "meta"),
        ("storages", {"nmae": "s", "provider": "amazon_s3"}, "name"),
        ("plugin_releases", {"plugin": 1, "version": "1", "confg": {}}, "config"),
    ],
)
def test_a_near_miss_of_a_declared_field_is_refused_before_sending(
    synapse_client: Client,
    synapse_backend: Any,
    kind: str,
    fields: dict[str, Any],
    meant: str,
) -> None:
    manager = getattr(synapse_client, kind)
    before = manager.count()
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match=f"did you mean '{meant}'"):
        manager.create(**fields)
    if hasattr(manager, "bulk_create"):
        report = manager.bulk_create([fields])
        assert isinstance(report.failed[0].error, InvalidInputError)
    assert synapse_backend.requests == []
    assert manager.count() == before


def test_a_task_is_created_from_its_attribute_names_too(
    synapse_client: Client, synapse_backend: Any, demo: dict[str, Any]
) -> None:
    """``project_id=``/``data_unit_id=`` (the Task's attributes) name the same fields as
    ``project=``/``data_unit=``, in ``create`` and ``bulk_create``."""
    unit = synapse_client.data_units.filter(data_collection=demo["data_collection"]).first()
    assert unit is not None
    task = synapse_client.tasks.create(project_id=demo["project"], data_unit_id=unit.id)
    stored = synapse_client.tasks.get(task.id)
    assert (stored.project_id, stored.data_unit_id) == (demo["project"], unit.id)
    report = synapse_client.tasks.bulk_create(
        [{"project_id": demo["project"], "data_unit_id": unit.id, "meta": {"n": 2}}]
    )
    assert report.ok
    (made,) = report.created
    assert synapse_client.tasks.get(made.id).meta == {"n": 2}


def test_an_object_of_another_kind_is_refused_by_an_id_filter(
    synapse_client: Client, synapse_backend: Any, demo: dict[str, Any]
) -> None:
    project = synapse_client.projects.get(demo["project"])
    plugin = synapse_client.plugins.first()
    assert plugin is not None
    task = synapse_client.tasks.get(1)
    expected = synapse_client.tasks.filter(project=project.id).count()
    assert synapse_client.tasks.filter(project=project).count() == expected
    synapse_backend.clear_requests()
    with pytest.raises(InvalidInputError, match="'project' takes Project ids or objects, got a"):
        synapse_client.tasks.filter(project=plugin).count()
    with pytest.raises(InvalidInputError, match="'ids' takes Task ids"):
        list(synapse_client.tasks.filter(ids=[task, project]))
    assert synapse_backend.requests == []


def test_a_field_the_protocol_declares_is_created_without_a_warning(
    synapse_client: Client,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", UnknownFieldWarning)
        project = synapse_client.projects.create(title="p", count_max_assignments_per_task=2)
    again = synapse_client.projects.get(project.id)
    assert again.model_extra is not None
    assert again.model_extra["count_max_assignments_per_task"] == 2
