"""How objects show in notebooks: HTML table cells."""

from __future__ import annotations

import datetime as dt
import html
from enum import Enum
from typing import Any

__all__ = ["html_cell"]


def html_cell(value: Any, limit: int = 200) -> str:
    """A value as notebook table text: dates as ISO text, enums as their wire value."""
    if isinstance(value, (dt.datetime, dt.date)):
        text = value.isoformat()
    elif isinstance(value, Enum):
        text = str(value.value)
    elif value is None:
        text = ""
    else:
        text = value if isinstance(value, str) else repr(value)
    text = html.escape(text)
    return text[:limit] + "…" if len(text) > limit else text
