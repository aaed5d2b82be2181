"""From a task query to a training-ready dataset (COCO, YOLO, Pascal VOC, ImageFolder),
and model predictions back into tasks. Loaded only when used: ``import synapse`` does
not import it."""

from __future__ import annotations

from synapse.training.export import FORMATS, export
from synapse.training.importing import import_annotations
from synapse.training.report import ExportReport, ImportReport, Note
from synapse.training.splits import Split

__all__ = [
    "FORMATS",
    "ExportReport",
    "ImportReport",
    "Note",
    "Split",
    "export",
    "import_annotations",
]
