"""Progress bars leave their final state as text in a notebook (read later without a
kernel), and nothing more elsewhere."""

from __future__ import annotations

import io

import pytest
from tqdm import tqdm as text_tqdm

from synapse.progress import _texted, progress_bar


def test_a_notebook_bar_prints_its_final_line_once(capsys: pytest.CaptureFixture[str]) -> None:
    bar_class = _texted(text_tqdm)  # the notebook's widget bar stands behind it in use
    bar = bar_class(total=3, desc="rows", unit="rows", file=io.StringIO())
    bar.update(3)
    bar.close()
    bar.close()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("rows: 100%")
    assert "3/3" in lines[0]


def test_outside_a_notebook_the_bar_is_tqdms_own(capsys: pytest.CaptureFixture[str]) -> None:
    bar = progress_bar(2, desc="x", unit="B")
    assert not any(c.__module__ == "tqdm.notebook" for c in type(bar).__mro__)
    assert type(bar).__name__ != "TextedBar"
    bar.update(2)
    bar.close()
    assert capsys.readouterr().out == ""
