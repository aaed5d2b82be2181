"""Typed resources of the Synapse backend, one module per family."""

from synapse.resources.annotation import Assignment, Project, Task, TaskTag
from synapse.resources.base import Relation, Resource
from synapse.resources.data import DataCollection, DataFile, DataUnit, FileSpecification
from synapse.resources.integration import (
    Agent,
    Job,
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
