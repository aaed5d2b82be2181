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


#: Notes an export report keeps in memory; every note is in ``export_report.csv``.
KEEP_NOTES = 10_000


@dataclass
class ExportReport:
    """The result of [`export()`][synapse.training.export.export].

    Every note is counted (``counts()``) and written to ``export_report.csv`` as it comes;
    ``notes`` holds the first ``KEEP_NOTES`` of them (``notes_total`` says how many there
    are), so memory stays bounded however many tasks are exported.
    """

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
    notes_total: int = 0
    _counts: dict[str, int] = field(default_factory=dict, repr=False)
    _csv: Any = field(default=None, repr=False)
    _csv_file: Any = field(default=None, repr=False)
    _sink: Any = field(default=None, repr=False)  # a shard's notes go to its own file

    def open(self) -> None:
        """Start ``export_report.csv`` (notes are written to it as they are added)."""
        self._csv_file = (self.dest / "export_report.csv").open("w", newline="")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=[f.name for f in fields(Note)])
        self._csv.writeheader()

    def add(self, notes: list[Note]) -> None:
        for note in notes:
            key = f"{note.kind}:{note.reason}"
            self._counts[key] = self._counts.get(key, 0) + 1
            self.notes_total += 1
            if len(self.notes) < KEEP_NOTES:
                self.notes.append(note)
            if self._csv is not None:
                self._csv.writerow(asdict(note))
            if self._sink is not None:
                self._sink.write(json.dumps(asdict(note)) + "\n")

    @property
    def skipped(self) -> list[Note]:
        return [n for n in self.notes if n.kind == "skipped"]

    @property
    def lossy(self) -> list[Note]:
        return [n for n in self.notes if n.kind == "lossy"]

    def counts(self) -> dict[str, int]:
        """All the notes counted by ``kind:reason``."""
        return dict(self._counts)

    def write(self) -> Path:
        """``export_report.json``: the summary, the counts and the notes kept in memory
        (all of them are in ``export_report.csv``)."""
        summary = {
            "format": self.format,
            "tasks": self.tasks,
            "images": self.images,
            "annotations": self.annotations,
            "classes": self.classes,
            "downloaded": self.downloaded,
            "cached": self.cached,
            "counts": self.counts(),
            "notes_total": self.notes_total,
            "notes": [asdict(n) for n in self.notes],
        }
        path = self.dest / "export_report.json"
        path.write_text(json.dumps(summary, indent=1, ensure_ascii=False))
        self.close()
        return path

    def close(self) -> None:
        """Finish ``export_report.csv`` (also on a failed export: it lists the notes so far)."""
        if self._csv_file is not None:
            self._csv_file.close()
            self._csv = self._csv_file = None

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
