"""A walk through the Synapse SDK, end to end.

``make demo`` runs it against a local backend seeded with demo data. To run it against a
real backend, set SYNAPSE_BASE_URL and SYNAPSE_ACCESS_TOKEN and run
``python examples/quickstart.py``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from synapse import Client, JobFailed, NotFoundError, StorageCategory, StorageProvider


def step(title: str) -> None:
    print(f"\n== {title}")


def main() -> None:
    with Client() as client:  # reads SYNAPSE_BASE_URL and SYNAPSE_ACCESS_TOKEN
        print(f"Connected: {client!r}")

        step("Projects")
        for project in client.projects.all():
            print(f"  {project!r}")
        project = client.projects.all()[0]

        step("Tasks: lazy, filtered, paginated")
        tasks = client.tasks.filter(project=project).order_by("id").page_size(5)
        print(f"  {tasks.count()} tasks in {project.title!r} (one small request)")
        print(f"  first three: {[t.id for t in tasks[:3]]} (one request for 3)")
        for task in tasks.expand("data_unit").iterator():  # 5 per request, nothing cached
            unit = task.data_unit  # filled from the same answer: no extra request
            print(f"  {task!r} files: {sorted(unit.files or {}) if unit else []}")

        step("Annotate a task and tag it")
        first = tasks.first()
        if first is None:
            raise SystemExit("the project has no tasks")
        task = first
        task.annotate({"boxes": [{"class": "car", "xywh": [12, 30, 100, 60]}]}, action="submit")
        print(f"  {task!r} now holds {task.data}")
        urgent = client.task_tags.filter(project=project).first()
        if urgent is not None:
            task.set_tags([urgent])
            task.refresh()
            print(f"  tagged {urgent.name!r}: tags are now {task.tags}")
        task.meta = {"reviewed_by": "quickstart"}
        print(f"  changed fields: {task.changed_fields}; save() sends only those")
        task.save()

        step("Tasks as a table")
        try:
            table = client.tasks.filter(project=project).to_pandas(
                ["id", "status_label", "created"]
            )
        except ImportError as missing:  # pandas is an optional extra
            print(f"  {missing}")
        else:
            print(f"  {len(table)} rows, columns {list(table.columns)}, built from the JSON")
            print(f"  types: {', '.join(f'{c} {t}' for c, t in table.dtypes.items())}")

        step("Assignments of the project")
        for assignment in project.assignments[:3]:
            print(f"  {assignment!r} on {assignment.task!r}")

        step("Run a plugin and wait for its job")
        plugin = client.plugins.get(1)
        print(f"  {plugin!r} releases: {[r.version for r in plugin.releases]}")
        job = plugin.run(action="train", params={"epochs": 1})
        print(f"  started {job!r}")
        job.wait(poll=0.2)
        print(f"  finished {job!r}")
        for line in job.logs():
            print(f"    {line}")
        try:
            client.plugins.run("broken-plugin", action="train").wait(poll=0.2)
        except JobFailed as failure:
            print(f"  {type(failure).__name__}: {failure}")

        step("Storages")
        for storage in client.storages.filter(category=StorageCategory.INTERNAL):
            print(f"  {storage!r}")
        created = client.storages.create(
            name="Scratch bucket",
            category=StorageCategory.EXTERNAL,
            provider=StorageProvider.MINIO,
            configuration={"bucket_name": "scratch"},
        )
        print(f"  created {created!r}")

        step("Uploads: chunked, resumable, with a progress bar")
        with tempfile.TemporaryDirectory() as tmp:
            weights = Path(tmp) / "detector.zip"
            weights.write_bytes(os.urandom(6 * 1024 * 1024))
            upload = client.chunked_upload(weights, chunk_size=1024 * 1024, progress=True)
            print(f"  chunked upload {upload['id']}: {upload['size']:,} bytes, md5 checked")
            model = client.models.create(
                name=f"detector-{upload['id'][:6]}", file=weights, plugin="yolo-trainer"
            )
            print(f"  {model!r}")
            collection = client.data_collections.get(project.data_collection_id or 1)
            frame = Path(tmp) / "frame_new.png"
            frame.write_bytes(b"PNG new frame")
            unit = collection.upload({"image_1": frame}, meta={"source": "quickstart"})
            print(f"  {unit!r} with files {sorted(unit.files or {})}")
            report = collection.upload_many(
                [{"files": {"image_1": frame}, "meta": {"n": n}} for n in range(5)],
                project=project,
            )
            print(f"  upload_many: {report!r}")
            saved = unit.download(Path(tmp) / "downloaded")
            print(f"  downloaded {[p.name for p in saved.values()]}")

        step("Errors are typed")
        try:
            client.projects.get(999_999)
        except NotFoundError as error:
            print(f"  {type(error).__qualname__}: {error}")
        try:
            client.tasks.filter(projet=1)
        except ValueError as error:
            print(f"  {type(error).__name__}: {error}")


if __name__ == "__main__":
    main()
