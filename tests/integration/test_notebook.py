"""The example notebook, executed from top to bottom in a real kernel (its cells assert
what they did: rows read, checksum of the upload read back, the job's outcome)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOK = Path(__file__).parents[2] / "examples" / "notebook.ipynb"


def outputs(cell: Any) -> dict[str, str]:
    """Every output of a cell by MIME type (text streams under ``stream``)."""
    found: dict[str, str] = {}
    for output in cell.get("outputs", []):
        if output["output_type"] == "error":
            found["error"] = "\n".join(output["traceback"])
        if output["output_type"] == "stream":
            found["stream"] = found.get("stream", "") + output["text"]
        for mime, value in output.get("data", {}).items():
            found[mime] = found.get(mime, "") + (value if isinstance(value, str) else str(value))
    return found


def test_the_example_notebook_runs_end_to_end(tmp_path: Path) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not cell.get("outputs") for cell in notebook.cells if cell.cell_type == "code")
    runner = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    runner.execute()  # raises CellExecutionError on the first failing cell
    cells = [outputs(c) for c in notebook.cells if c.cell_type == "code"]
    by_source = {c.source.splitlines()[0]: o for c, o in zip(
        [c for c in notebook.cells if c.cell_type == "code"], cells, strict=True
    )}  # fmt: skip
    assert "<table>" in by_source["task = client.tasks.get(456)"]["text/html"]
    queryset = by_source['tasks = client.tasks.filter(project=backend.big_project).order_by("id")']
    assert "20000 Task objects (first 10)" in queryset["text/html"]
    frame = by_source["frame = tasks.to_pandas(progress=True)"]
    assert "application/vnd.jupyter.widget-view+json" in frame  # the progress bar
    # ... and its final state as text, for whoever reads the saved notebook later.
    assert "20000/20000" in frame["stream"]
    assert "datetime64[us, UTC]" in frame["text/plain"]
    assert "image/png" in by_source['counts = frame["status_label"].value_counts().sort_index()']
    upload = by_source["import hashlib"]
    assert "application/vnd.jupyter.widget-view+json" in upload
    assert "SUCCEEDED" in by_source["plugin = client.plugins.get(1)"]["text/plain"]
    exported = by_source["from synapse.local.seed import seed_training"]
    assert "application/vnd.jupyter.widget-view+json" in exported  # the export's progress bar
    assert "100%" in exported["stream"]
    assert "'skipped:UNSUPPORTED_TOOL'" in exported["text/plain"]
    assert (
        "'would_write'"
        in by_source['project.tasks.export("yolo", "predictions", media=False)']["text/plain"]
    )
    assert not [o for o in cells if "error" in o]
