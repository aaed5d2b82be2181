"""Every Python example of the README and of docs/ runs, against the local backend.

Each document's ``python`` blocks run in order, in one namespace, from a folder holding
the files they name, with the public host and token of the examples pointed at a local
backend seeded with the demo world. A block that only illustrates (a declaration, a
signature) says so right above it with ``<!-- not run: why -->``, and is skipped.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest

from synapse.local import LocalBackend

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
BLOCK = re.compile(r"(<!-- not run: [^>]+-->\s*\n)?```python\n(.*?)```", re.S)
FILES = ["frame.png", "huge.tif", "model.zip", "plugin.zip", "a.png", "a.json", "weights.zip",
         "frames/0001.png", "frames/0001.json", "frames/0002.png"]  # fmt: skip


def blocks(document: Path) -> list[str]:
    return [code for skip, code in BLOCK.findall(document.read_text()) if not skip]


@pytest.mark.parametrize("document", [d for d in DOCUMENTS if blocks(d)], ids=lambda d: d.name)
def test_the_documents_examples_run(
    document: Path, synapse_backend: LocalBackend, tmp_path: Path, monkeypatch: Any
) -> None:
    from synapse.local.seed import seed_demo

    seed_demo(synapse_backend.backend)
    if document.name in ("training.md", "README.md"):  # what `--seed training` adds
        from synapse.local.seed import seed_training

        seed_training(synapse_backend.backend)
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"\\x89PNG example bytes " + name.encode())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SYNAPSE_BASE_URL", synapse_backend.url)
    monkeypatch.setenv("SYNAPSE_ACCESS_TOKEN", synapse_backend.token)
    namespace: dict[str, Any] = {"__name__": "__main__"}  # run as a script would be
    for number, code in enumerate(blocks(document), start=1):
        code = code.replace("https://api.synapse.sh", synapse_backend.url)
        code = code.replace('access_token="..."', f"access_token={synapse_backend.token!r}")
        try:
            exec(compile(code, f"{document.name}, block {number}", "exec"), namespace)  # noqa: S102
        except Exception as exc:
            raise AssertionError(
                f"{document.name}, block {number} failed: {exc!r}\n{code}"
            ) from exc
    os.environ.pop("SYNAPSE_PROFILE", None)


def test_examples_that_start_worker_processes_guard_them() -> None:
    """Spawned workers import the script again: without the guard each would start the
    pool (or cluster) again. Every runnable block that starts processes has it."""
    starts = re.compile(r"ProcessPoolExecutor\(|LocalCluster\(|processes=True")
    unguarded = [
        f"{document.name}: {code.splitlines()[0]}"
        for document in DOCUMENTS
        for code in blocks(document)
        if starts.search(code) and 'if __name__ == "__main__":' not in code
    ]
    assert unguarded == []
