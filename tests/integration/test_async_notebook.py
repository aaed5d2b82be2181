"""In a real Jupyter kernel (a running event loop): the async client works with top-level
``await``, and the sync client, which starts no loop, works beside it (issue 22)."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

CELLS = [
    "from synapse.local import LocalBackend\n"
    "from synapse.local.seed import seed_demo\n"
    "backend = LocalBackend().start()\n"
    "ids = seed_demo(backend.backend)",
    "from synapse import AsyncClient, Client\n"
    "client = AsyncClient(backend.url, backend.token, page_size=5)\n"
    "print('async count', await client.tasks.filter(project=ids['project']).acount())",
    "print('async ids', [t.id async for t in client.tasks.order_by('id')[:3]])",
    "sync = Client(backend.url, backend.token)\n"
    "print('sync count', sync.tasks.filter(project=ids['project']).count())",
    "await client.aclose()\nsync.close()\nbackend.stop()\nprint('closed')",
]


def test_top_level_await_and_the_sync_client_in_a_running_kernel(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    runner = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    runner.execute()  # raises CellExecutionError on the first failing cell
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        for output in cell.get("outputs", [])
        if output["output_type"] == "stream"
    )
    assert "async count 12" in printed
    assert "async ids [1, 2, 3]" in printed
    assert "sync count 12" in printed
    assert "closed" in printed
