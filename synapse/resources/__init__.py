"""Typed resources of the Synapse backend, one module per family."""

from synapse.resources.annotation import Assignment, Project, Task, TaskTag
from synapse.resources.base import ReadOnlyFieldError, Relation, Resource
from synapse.resources.data import DataCollection, DataFile, DataUnit, FileSpecification
from synapse.resources.integration import (
    Agent,
    Job,
    JobFailed,
    JobTimeoutError,
    Plugin,
    PluginRelease,
    Storage,
)
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
    "JobFailed",
    "JobTimeoutError",
    "Model",
    "Plugin",
    "PluginRelease",
    "Project",
    "ReadOnlyFieldError",
    "Relation",
    "Resource",
    "Storage",
    "Task",
    "TaskTag",
]
