"""The kinds reference page (``docs/kinds.md``), generated from the declarations.

``python -m synapse.reference > docs/kinds.md`` writes it; a test checks the file is what
the declarations say, so the documented filters and orderings cannot drift.
"""

from __future__ import annotations

import synapse.resources  # noqa: F401 - imports every resource module, and so every kind
from synapse.managers import KINDS, CreateMixin, DeleteMixin, GetMixin, ListMixin, UpdateMixin

__all__ = ["kinds_markdown"]

_CAPABILITIES = (
    (GetMixin, "get"),
    (ListMixin, "list"),
    (CreateMixin, "create"),
    (UpdateMixin, "save"),
    (DeleteMixin, "delete"),
)


def _type_name(ftype: object) -> str:
    return ftype.__name__ if isinstance(ftype, type) else str(ftype)


def kinds_markdown() -> str:
    """One section per kind: its attribute, paths, capabilities, filters, orderings."""
    lines = [
        "# Kinds, filters and orderings",
        "",
        "Generated from the SDK's declarations (`python -m synapse.reference`). Filter",
        "names and `order_by()` fields not listed here raise before any request; see",
        "[unknown filters](migration.md#filters-the-sdk-does-not-know-yet) to send one",
        "anyway. Filter types: `id` an id or an object, `ids` a list of them, `code` a",
        "plugin code, `date` a date or datetime, an enum name its values in any case.",
        "",
    ]
    for name, kind in sorted(KINDS.items()):
        capabilities = [label for mixin, label in _CAPABILITIES if issubclass(kind, mixin)]
        lines += [f"## `client.{name}`: {kind.resource.__name__}", ""]
        lines.append(f"- path: `{kind.path}`" + (
            f", listed at `{kind.list_path_override}`" if kind.list_path_override else ""
        ))  # fmt: skip
        lines.append(f"- capabilities: {', '.join(capabilities)}")
        if issubclass(kind, ListMixin):
            filters = kind.filters.allowed()
            shown = ", ".join(f"`{f}` ({_type_name(t)})" for f, t in sorted(filters.items()))
            lines.append(f"- filters: {shown or 'none'}")
            lines.append(f"- orderings: {', '.join(f'`{o}`' for o in sorted(kind.orderings))}")
            if kind.cursor_pagination:
                lines.append("- stable iteration: the backend's cursor pagination")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(kinds_markdown(), end="")
