"""Class ids: the project's configured classes in their order, then classes only seen in
the data (lexically), numbered contiguously, so two exports of a project agree."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["configured_classes", "normalize_class"]


def normalize_class(name: str) -> str:
    """A class label as it is compared and written: trimmed, Unicode NFC."""
    return unicodedata.normalize("NFC", name.strip())


def configured_classes(configuration: Any, tools: Iterable[str] | None = None) -> list[str]:
    """Class codes of a project ``configuration``, in configured order, first one wins.

    Reads the schema shape ``{"classification": {tool: {"classification_schema":
    [{"code": ...}]}}}``, the older ``{"classification": {tool: [names]}}`` and a flat
    ``{"classes": [{"code", "tool"}]}``. ``tools`` keeps only the classes of those tools.
    """
    wanted = set(tools) if tools is not None else None
    found: list[str] = []

    def take(tool: Any, code: Any) -> None:
        if isinstance(code, str) and code.strip() and (wanted is None or tool in wanted):
            name = normalize_class(code)
            if name not in found:
                found.append(name)

    if not isinstance(configuration, Mapping):
        return found
    by_tool = configuration.get("classification")
    if isinstance(by_tool, Mapping):
        for tool, entry in by_tool.items():
            schema = entry.get("classification_schema") if isinstance(entry, Mapping) else entry
            for item in schema if isinstance(schema, list) else []:
                take(tool, item.get("code") if isinstance(item, Mapping) else item)
    classes = configuration.get("classes")
    for item in classes if isinstance(classes, list) else []:
        if isinstance(item, Mapping):
            take(item.get("tool"), item.get("code"))
    return found


class ClassRegistry:
    """Configured classes first, then the observed ones; ids assigned once all are seen."""

    def __init__(self, configured: Iterable[str]) -> None:
        self.configured = list(dict.fromkeys(configured))
        self.observed: set[str] = set()

    def see(self, name: str) -> str:
        name = normalize_class(name)
        self.observed.add(name)
        return name

    def names(self) -> list[str]:
        known = set(self.configured)
        return self.configured + sorted(self.observed - known)

    def ids(self, start: int = 0) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.names(), start=start)}


def counts_by(items: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def as_mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
