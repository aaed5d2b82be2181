"""Typed resources of the Synapse backend, one module per family.

Each family is imported on first use of one of its classes (``synapse.resources.Task``
loads the annotation family only): where a kind's class lives is declared once, in
`synapse.protocol`.
"""

from typing import TYPE_CHECKING, Any

from synapse.resources.base import Relation, Resource

if TYPE_CHECKING:
    from synapse.resources.annotation import Assignment, Project, Task, TaskTag
    from synapse.resources.data import DataCollection, DataFile, DataUnit, FileSpecification
    from synapse.resources.integration import Agent, Job, Plugin, PluginRelease, Storage
    from synapse.resources.ml import GroundTruth, GroundTruthDatasetVersion, GroundTruthEvent, Model

__all__ = [
    "Agent",
    "Assignment",
    "DataCollection",
    "DataFile",
    "DataUnit",
    "FileSpecification",
    "GroundTruth",
    "GroundTruthDatasetVersion",
    "GroundTruthEvent",
    "Job",
    "Model",
    "Plugin",
    "PluginRelease",
    "Project",
    "Relation",
    "Resource",
    "Storage",
    "Task",
    "TaskTag",
]


def __getattr__(name: str) -> Any:
    """A kind's resource class (or the data family's ``FileSpecification``), its family
    imported now."""
    from synapse.protocol import KINDS

    if name == "FileSpecification":
        from synapse.resources.data import FileSpecification

        return FileSpecification
    for kind in KINDS.values():
        if kind.resource_name == name:
            found = kind.resource_class()
            globals()[name] = found
            return found
    raise AttributeError(f"module 'synapse.resources' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
