"""The awaited twins of the sending methods that had none (issue 22, item 2), over real
HTTP against the local backend with no worker thread: each one's effect read back."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from synapse import Client, DeferredFieldError, InvalidInputError
from synapse.aio import AsyncClient
from synapse.errors import NotFoundError
from synapse.local import LocalBackend
from synapse.local.seed import DEMO_AGENT_TOKEN
from synapse.resources import DataCollection, Job, PluginRelease
from tests.integration.test_async_transfers import make_file, threadless

pytestmark = [pytest.mark.anyio, pytest.mark.usefixtures("journal_in_tmp")]

KIB = 1024


@pytest.fixture
def client(synapse_backend: LocalBackend, monkeypatch: pytest.MonkeyPatch) -> AsyncClient:
    """An async client whose worker-thread paths refuse: what it does is on the loop."""
    return threadless(AsyncClient(synapse_backend.url, synapse_backend.token), monkeypatch)


async def test_tags_are_set_through_the_managers_and_the_objects(
    client: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    async with client:
        tag = await client.task_tags.afirst()
        assert tag is not None
        await client.tasks.aset_tags([1, 2], [tag])
        assert [(await client.tasks.aget(pk)).tags for pk in (1, 2)] == [[tag.id], [tag.id]]
        record = synapse_backend.requests[-3]
        assert (record.method, record.path) == ("POST", "/tasks/set_tags/")

        task = await client.tasks.aget(1)
        await task.aset_tags(tag, action="remove")
        await task.arefresh()
        assert task.tags == []

        await client.assignments.aset_tags([1], [5])
        assignment = await client.assignments.aget(1)
        assert 5 in (assignment.tags or [])
        await assignment.aset_tags([5], action="remove")
        await assignment.arefresh()
        assert 5 not in (assignment.tags or [])
        with pytest.raises(InvalidInputError, match="action"):
            await task.aset_tags(tag, action="toggle")


async def test_aupdate_stores_the_fields_of_any_updatable_kind(
    client: AsyncClient, demo: dict[str, Any]
) -> None:
    async with client:
        task = await client.tasks.aget(1)
        await task.aupdate(meta={"checked": True})
        assert task.meta == {"checked": True}
        assert (await client.tasks.aget(1)).meta == {"checked": True}
        project = await client.projects.aget(demo["project"])
        await project.aupdate(title="Renamed")
        assert (await client.projects.aget(demo["project"])).title == "Renamed"
        with pytest.raises(InvalidInputError, match="no field 'titel'"):
            await project.aupdate(titel="x")


async def test_aupdate_of_an_object_a_sync_client_loaded_is_refused_before_any_change(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    task = synapse_client.tasks.get(1)
    with pytest.raises(InvalidInputError, match=r"aupdate\(\) needs an object loaded by"):
        await task.aupdate(meta={"x": 1})
    assert task.changed_fields == set()


async def test_agents_health_check(client: AsyncClient, demo: dict[str, Any]) -> None:
    async with client:
        assert (await client.agents.ahealth_check(DEMO_AGENT_TOKEN))["status"] == "connected"
        with pytest.raises(NotFoundError):
            await client.agents.ahealth_check("f" * 40)


async def test_a_plugin_is_run_and_its_job_logs_read_and_written(
    client: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    async with client:
        job = await client.plugins.arun("coco-export", action="export", params={"n": 1})
        assert isinstance(job, Job)
        assert (await client.jobs.aget(job.id)).params == {"n": 1}  # type: ignore[arg-type]
        logs = await client.jobs.aconsole_logs(job.id)  # type: ignore[arg-type]
        assert "job queued: coco-export" in logs["logs"][0]
        entry = {"event": "message", "data": {"content": "hello"}, "job": job.id}
        created = await client.jobs.acreate_logs(entry)
        assert synapse_backend.backend.load("logs", created["id"])["data"] == {"content": "hello"}


async def test_a_release_is_created_from_the_plugin(
    client: AsyncClient, demo: dict[str, Any], tmp_path: Path
) -> None:
    archive = make_file(tmp_path / "plugin.zip", 3 * KIB)
    async with client:
        plugin = await client.plugins.aget(demo["plugins"]["coco-export"])
        release = await plugin.acreate_release("9.1.0", archive, requirements=["numpy"])
        stored = await client.plugin_releases.aget(release.id)
        assert isinstance(stored, PluginRelease)
        assert (stored.plugin_id, stored.version, stored.requirements) == (
            plugin.id,
            "9.1.0",
            ["numpy"],
        )


async def test_a_unit_is_uploaded_step_by_step_and_downloaded(
    client: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any], tmp_path: Path
) -> None:
    image = make_file(tmp_path / "frame.png", 5 * KIB, seed=7)
    async with client:
        # as an answer without the expansion lists it: the specifications' ids only
        listed = DataCollection.from_api(
            client, {"id": demo["data_collection"], "file_specifications": [1, 2]}
        )
        synapse_backend.clear_requests()
        with pytest.raises(InvalidInputError, match="unknown file specification"):
            await listed.acheck_files({"video": image})
        assert [r.method for r in synapse_backend.requests] == ["GET"]  # the specifications
        assert await listed.acheck_files({"image_1": image}) == {"image_1": image}

        payload = await client.data_units.aupload_payload(
            listed.id, {"image_1": image}, {"frame": 3}, "city"
        )
        assert await client.data_files.averify_checksums(
            [payload["files"]["image_1"]["checksum"], "nope"]
        ) == [payload["files"]["image_1"]["checksum"]]
        (unit,) = await client.data_units.acreate_many([payload])
        stored = await client.data_units.aget(unit.id)
        assert (stored.meta, stored.groups) == ({"frame": 3}, ["city"])
        files = await stored.adownload(tmp_path / "unit")
        assert files["image_1"].read_bytes() == image.read_bytes()
        assert files["image_1"] == tmp_path / "unit" / "image_1" / "frame.png"


async def test_a_model_file_is_downloaded(
    client: AsyncClient, demo: dict[str, Any], tmp_path: Path
) -> None:
    archive = make_file(tmp_path / "model.zip", 9 * KIB, seed=3)
    async with client:
        model = await client.models.acreate(name="detector", file=archive, plugin="yolo-trainer")
        saved = await model.adownload(tmp_path / "out" / "m.zip")
        assert saved.read_bytes() == archive.read_bytes()
        folder = await model.adownload(f"{tmp_path / 'models'}/")  # a folder, made
        assert folder.parent == tmp_path / "models"


async def test_a_task_is_annotated_through_the_manager(
    client: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    async with client:
        await client.tasks.aannotate(2, {"action": "save", "data": {"boxes": [1]}}, "any")
        record = synapse_backend.requests[-1]
        assert (record.method, record.path, record.query) == (
            "PUT",
            "/tasks/2/annotate_task_data/",
            "schema=any",
        )
        assert (await client.tasks.aget(2)).status_label == "in_progress"


async def test_a_query_tags_its_objects_with_their_ids_then_one_request(
    client: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    async with client:
        tag = await client.task_tags.acreate(project=demo["project"], name="fresh")
        query = client.tasks.filter(project=demo["project"])[:3]
        ids = [t.id async for t in query]
        assert len(ids) == 3
        synapse_backend.clear_requests()
        await query.aset_tags([tag])
        assert [r.path for r in synapse_backend.requests] == ["/sdk/tasks/", "/tasks/set_tags/"]
        assert [t.id async for t in client.tasks.filter(tags=[tag])] == ids
        synapse_backend.clear_requests()
        assert await client.tasks.filter(project=10**6).aset_tags([tag]) is None
        assert [r.path for r in synapse_backend.requests] == ["/sdk/tasks/"]  # no ids: no tags
        with pytest.raises(AttributeError, match="no tags"):
            await client.projects.all().aset_tags([tag])


async def test_asave_of_a_kind_updated_whole_refuses_to_put_what_only_left_out(
    client: AsyncClient, synapse_backend: LocalBackend, demo: dict[str, Any]
) -> None:
    async with client:
        plugin = await client.plugins.only("name").afirst()
        assert plugin is not None
        description = (await client.plugins.aget(plugin.id)).description
        plugin.name = "renamed"
        synapse_backend.clear_requests()
        with pytest.raises(DeferredFieldError, match=r"updated whole \(PUT\)"):
            await plugin.asave()
        assert [r for r in synapse_backend.requests if r.method in ("PUT", "PATCH")] == []
        stored = await client.plugins.aget(plugin.id)
        assert (stored.name, stored.description) != ("renamed", None)
        assert stored.description == description


async def test_a_manager_gives_every_object_as_a_table(
    client: AsyncClient, synapse_client: Client, demo: dict[str, Any]
) -> None:
    expected = synapse_client.task_tags.to_pandas(["id", "name"], progress=False)
    async with client:
        frame = await client.task_tags.ato_pandas(["id", "name"], progress=False)
        table = await client.task_tags.ato_arrow(["id", "name"], flatten=True)
    assert frame.to_dict("records") == expected.to_dict("records")
    assert len(expected) > 1
    assert table.to_pylist() == expected.to_dict("records")


async def test_the_training_pipelines_run_from_an_async_client_through_run_sync(
    synapse_backend: LocalBackend, tmp_path: Path
) -> None:
    """docs/async.md: export and import have no awaited twin; ``run_sync`` runs them
    with the async client's own connection (the same files as the sync client's)."""
    from synapse.local.seed import seed_training

    training = seed_training(synapse_backend.backend, tasks=6)
    async with AsyncClient(synapse_backend.url, synapse_backend.token) as client:
        query = client.tasks.filter(project=training["project"])
        report = await client.run_sync(query.export, "yolo", tmp_path / "ds", media=False)
        assert (tmp_path / "ds" / "data.yaml").is_file()
        assert report.tasks == 6
        project = await client.projects.aget(training["project"])
        shutil.copytree(tmp_path / "ds" / "labels", tmp_path / "predict" / "labels")
        imported = await client.run_sync(
            project.import_annotations,
            tmp_path / "predict",
            "yolo",
            as_predictions=True,
            classes=tmp_path / "ds" / "data.yaml",
        )
        assert imported.by_status() == {"written": 10, "submitted": 2}
