"""A walk through the Synapse SDK, end to end.

``make demo`` runs it against a local backend seeded with demo data. To run it against a
real backend, set SYNAPSE_BASE_URL and SYNAPSE_ACCESS_TOKEN and run
``python examples/quickstart.py``.
"""

from __future__ import annotations

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

        step("Upload a file")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "notes.txt"
            path.write_text("hello from the quickstart\n")
            data_file = client.data_files.create(file=path)
            print(f"  {data_file!r}")

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
