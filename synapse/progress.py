"""Progress bars: tqdm's, a widget in notebooks, that leave their last state as text.

A notebook saved with its outputs and opened without a kernel shows a widget as the
text it had when it was drawn ("0%|  | 0/20000"); a bar made here in a notebook also
prints its final line when it closes, so what is read later is where it ended.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

__all__ = ["progress_bar"]


def progress_bar(total: int | None, *, desc: str, unit: str, unit_scale: bool = False) -> Any:
    """A tqdm bar (``tqdm.auto``: a widget in a notebook, text elsewhere)."""
    from tqdm.auto import tqdm

    widget = any(base.__module__ == "tqdm.notebook" for base in tqdm.__mro__)
    cls = _texted(tqdm) if widget else tqdm
    return cls(total=total, desc=desc, unit=unit, unit_scale=unit_scale)


@functools.cache
def _texted(widget_bar: type) -> type:
    class TextedBar(widget_bar):  # type: ignore[misc]
        """The notebook bar, printing its final line as text when it closes."""

        def close(self) -> None:
            final = not self.disable and not getattr(self, "_texted", False)
            super().close()
            if final:
                self._texted = True
                print(self.format_meter(**self.format_dict), file=sys.stdout)

    return TextedBar
