"""The API reference, built as the docs site builds it, shows each resource's fields and
the methods it inherits (Task's save/update/refresh), and builds without a warning."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_reference_shows_fields_and_inherited_methods(tmp_path: Path) -> None:
    pytest.importorskip("mkdocs")
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-2000:]
    page = (tmp_path / "reference" / "index.html").read_text()
    task = set(re.findall(r'id="synapse\.resources\.annotation\.Task\.([a-z_]+)"', page))
    assert {"save", "update", "refresh", "delete", "annotate"} <= task  # inherited too
    assert {"status_label", "data", "meta"} <= task  # the fields
