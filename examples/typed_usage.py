"""What ``mypy --strict`` knows about the object API (checked by ``make test``).

Nothing here runs at import; ``check_types`` shows the types a user's editor sees.
"""

from __future__ import annotations

from typing_extensions import assert_type

from synapse import (
    AsyncClient,
    BackendClient,
    Client,
    DataFile,
    DataUnit,
    Job,
    Project,
    QuerySet,
    Task,
)
from synapse.aio import AsyncQuerySet, AsyncValuesQuerySet
from synapse.aio.kinds import AsyncTaskManager


def check_types(client: Client) -> None:
    tasks = client.tasks.filter(project=1).order_by("-id")
    assert_type(tasks, QuerySet[Task])
    assert_type(client.tasks.first(), Task | None)
    assert_type(client.tasks.get(5), Task)
    assert_type(tasks[0], Task)
    assert_type(tasks[:10], QuerySet[Task])
    assert_type(client.projects.count(), int)
    task = client.tasks.get(5)
    assert_type(task.project, Project | None)
    assert_type(task.data_unit, DataUnit | None)
    assert_type(client.projects.get(1).tasks, QuerySet[Task])
    job = client.plugins.get(7).run(action="train", params={"epochs": 3})
    assert_type(job, Job)
    assert_type(job.wait(timeout=60), Job)
    assert_type(job.logs(), list[str])
    for item in client.tasks.filter(project=1).iterator():
        assert_type(item, Task)


def check_backend_client() -> None:
    with BackendClient("https://api.synapse.sh", access_token="token") as client:
        assert_type(client, BackendClient)
        assert_type(client.tasks.first(), Task | None)


async def check_async_types(client: AsyncClient) -> None:
    assert_type(client.tasks, AsyncTaskManager)
    tasks = client.tasks.filter(project=1).order_by("-id")
    assert_type(tasks, AsyncQuerySet[Task])
    assert_type(await client.tasks.aget(5), Task)
    assert_type(await client.tasks.afirst(), Task | None)
    assert_type(await tasks.afirst(), Task | None)
    assert_type(await client.projects.acount(), int)
    assert_type(await client.jobs.aget(3), Job)
    async for item in client.tasks.filter(project=1):
        assert_type(item, Task)
    assert_type(await client.tasks.aget_or_create(id=5), tuple[Task, bool])
    assert_type(await (await client.tasks.aget(5)).arelated(Task.project), Project | None)
    rows = tasks.values("id", "meta")[:10]
    assert_type(rows, AsyncValuesQuerySet)
    assert_type(await rows.acount(), int)
    assert_type(await tasks.values_list("id", flat=True).aexists(), bool)
    async for row in tasks.values_list("id", "meta", named=True):
        print(row)
    assert_type(await client.data_files.acreate("frame.png"), DataFile)
    print(await tasks.ato_pandas(["id", "meta"]), await tasks.ato_arrow())
