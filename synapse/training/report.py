"""What an export or an import did, item by item: nothing is dropped silently."""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

__all__ = ["ExportReport", "ImportItem", "ImportReport", "Note"]


@dataclass(frozen=True)
class Note:
    """One annotation (or image) the format could not hold as it was, and why.

    ``kind`` is ``skipped`` (not written) or ``lossy`` (written, with something lost).
    """

    kind: str
    reason: str
    task: int | None
    media: str | None = None
    annotation: str | None = None
    tool: str | None = None
    detail: str = ""


@dataclass
class ExportReport:
    """The result of [`export()`][synapse.training.export.export]."""

    format: str
    dest: Path
    images: dict[str, int] = field(default_factory=dict)  # per split
    annotations: dict[str, int] = field(default_factory=dict)  # written, per split
    tasks: int = 0
    classes: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    downloaded: int = 0
    cached: int = 0
    files: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> list[Note]:
        return [n for n in self.notes if n.kind == "skipped"]

    @property
    def lossy(self) -> list[Note]:
        return [n for n in self.notes if n.kind == "lossy"]

    def counts(self) -> dict[str, int]:
        """Notes counted by ``kind:reason``."""
        out: dict[str, int] = {}
        for note in self.notes:
            key = f"{note.kind}:{note.reason}"
            out[key] = out.get(key, 0) + 1
        return out

    def write(self) -> Path:
        """``export_report.json`` (summary and every note) and ``export_report.csv``."""
        summary = {
            "format": self.format,
            "tasks": self.tasks,
            "images": self.images,
            "annotations": self.annotations,
            "classes": self.classes,
            "downloaded": self.downloaded,
            "cached": self.cached,
            "counts": self.counts(),
            "notes": [asdict(n) for n in self.notes],
        }
        path = self.dest / "export_report.json"
        path.write_text(json.dumps(summary, indent=1, ensure_ascii=False))
        _write_csv(self.dest / "export_report.csv", [asdict(n) for n in self.notes], Note)
        return path

    def __repr__(self) -> str:
        return (
            f"<ExportReport {self.format} tasks={self.tasks} images={self.images} "
            f"annotations={self.annotations} notes={self.counts()}>"
        )


@dataclass
class ImportItem:
    """One annotated image of an import and what became of it.

    ``status``: ``written``, ``would_write`` (dry run), ``unmatched`` (no task has this
    file), ``invalid`` (no valid annotation), ``submitted`` (the task holds a submitted
    annotation; left alone), ``refused`` (the server answered with an error).
    """

    file: str
    status: str
    task: int | None = None
    media: str | None = None
    annotations: int = 0
    invalid: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class ImportReport:
    """The result of [`import_annotations()`][synapse.training.importing.import_annotations]."""

    format: str
    items: list[ImportItem] = field(default_factory=list)

    def by_status(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item.status] = out.get(item.status, 0) + 1
        return out

    def __repr__(self) -> str:
        return f"<ImportReport {self.format} {self.by_status()}>"


def _write_csv(path: Path, rows: list[dict[str, Any]], kind: Any) -> None:
    names = [f.name for f in fields(kind)]
    with path.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=names)
        writer.writeheader()
        writer.writerows(rows)
