"""``make demo`` as a newcomer runs it: the quickstart against a local backend seeded
with the demo world, in a process of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_quickstart_runs_end_to_end() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "synapse.local.cli", "run", "--seed", "demo", "--",
         sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    out = run.stdout
    assert "== Tasks as a table" in out
    assert "columns ['id', 'status_label', 'created'], built from the JSON" in out
    assert "created datetime64[us, UTC]" in out
    assert "UnknownFilterError" in out  # the last step ran
