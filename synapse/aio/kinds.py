"""The typed stub of each kind's async manager, for mypy and editors only.

At run time `async_manager_class` makes ``AsyncTaskManager`` and the others from the
declared kinds; here the same classes are spelt out with their resource, so that
``client.tasks`` on an `AsyncClient` is an ``AsyncTaskManager`` (``aget`` gives a `Task`,
``all()`` an ``AsyncQuerySet[Task]``). A test keeps this stub and the declarations in step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synapse.aio.managers import AsyncCreate, AsyncDelete, AsyncGet, AsyncList, AsyncUpdate
    from synapse.context import Context
    from synapse.resources.annotation import (
        Assignment,
        AssignmentManager,
        Project,
        ProjectManager,
        Task,
        TaskManager,
        TaskTag,
        TaskTagManager,
    )
    from synapse.resources.data import (
        DataCollection,
        DataCollectionManager,
        DataFile,
        DataFileManager,
        DataUnit,
        DataUnitManager,
    )
    from synapse.resources.integration import (
        Agent,
        AgentManager,
        Job,
        JobManager,
        Plugin,
        PluginManager,
        PluginRelease,
        PluginReleaseManager,
        Storage,
        StorageManager,
    )
    from synapse.resources.ml import (
        GroundTruth,
        GroundTruthDatasetVersion,
        GroundTruthEvent,
        GroundTruthEventManager,
        GroundTruthManager,
        GroundTruthVersionManager,
        Model,
        ModelManager,
    )

    class AsyncProjectManager(
        AsyncGet[Project],
        AsyncList[Project],
        AsyncCreate[Project],
        AsyncUpdate[Project],
        AsyncDelete[Project],
        ProjectManager,
    ):
        """`async_manager_class(ProjectManager)`."""

    class AsyncTaskManager(
        AsyncGet[Task],
        AsyncList[Task],
        AsyncCreate[Task],
        AsyncUpdate[Task],
        AsyncDelete[Task],
        TaskManager,
    ):
        """`async_manager_class(TaskManager)`."""

        client: Context  # spelt out: mypy cannot infer it through these modules' cycle

    class AsyncTaskTagManager(
        AsyncGet[TaskTag],
        AsyncList[TaskTag],
        AsyncCreate[TaskTag],
        AsyncUpdate[TaskTag],
        AsyncDelete[TaskTag],
        TaskTagManager,
    ):
        """`async_manager_class(TaskTagManager)`."""

    class AsyncAssignmentManager(
        AsyncGet[Assignment], AsyncList[Assignment], AsyncUpdate[Assignment], AssignmentManager
    ):
        """`async_manager_class(AssignmentManager)`."""

        client: Context  # spelt out: mypy cannot infer it through these modules' cycle

    class AsyncAgentManager(AsyncList[Agent], AgentManager):
        """`async_manager_class(AgentManager)`."""

    class AsyncPluginManager(
        AsyncGet[Plugin],
        AsyncList[Plugin],
        AsyncCreate[Plugin],
        AsyncUpdate[Plugin],
        AsyncDelete[Plugin],
        PluginManager,
    ):
        """`async_manager_class(PluginManager)`."""

    class AsyncPluginReleaseManager(
        AsyncGet[PluginRelease],
        AsyncList[PluginRelease],
        AsyncCreate[PluginRelease],
        PluginReleaseManager,
    ):
        """`async_manager_class(PluginReleaseManager)`."""

    class AsyncJobManager(AsyncGet[Job], AsyncList[Job], AsyncUpdate[Job], JobManager):
        """`async_manager_class(JobManager)`."""

    class AsyncStorageManager(
        AsyncGet[Storage], AsyncList[Storage], AsyncCreate[Storage], StorageManager
    ):
        """`async_manager_class(StorageManager)`."""

    class AsyncModelManager(
        AsyncGet[Model],
        AsyncList[Model],
        AsyncCreate[Model],
        AsyncUpdate[Model],
        AsyncDelete[Model],
        ModelManager,
    ):
        """`async_manager_class(ModelManager)`."""

    class AsyncDataCollectionManager(
        AsyncGet[DataCollection],
        AsyncList[DataCollection],
        AsyncCreate[DataCollection],
        AsyncUpdate[DataCollection],
        AsyncDelete[DataCollection],
        DataCollectionManager,
    ):
        """`async_manager_class(DataCollectionManager)`."""

    class AsyncDataFileManager(AsyncGet[DataFile], AsyncCreate[DataFile], DataFileManager):
        """`async_manager_class(DataFileManager)`."""

    class AsyncDataUnitManager(
        AsyncGet[DataUnit],
        AsyncList[DataUnit],
        AsyncCreate[DataUnit],
        AsyncUpdate[DataUnit],
        AsyncDelete[DataUnit],
        DataUnitManager,
    ):
        """`async_manager_class(DataUnitManager)`."""

    class AsyncGroundTruthEventManager(AsyncList[GroundTruthEvent], GroundTruthEventManager):
        """`async_manager_class(GroundTruthEventManager)`."""

    class AsyncGroundTruthManager(AsyncList[GroundTruth], GroundTruthManager):
        """`async_manager_class(GroundTruthManager)`."""

    class AsyncGroundTruthVersionManager(
        AsyncGet[GroundTruthDatasetVersion],
        AsyncList[GroundTruthDatasetVersion],
        GroundTruthVersionManager,
    ):
        """`async_manager_class(GroundTruthVersionManager)`."""
