"""The kinds reference page (``docs/kinds.md``), generated from the protocol declarations.

``python -m synapse.reference > docs/kinds.md`` writes it; a test checks the file is what
[`synapse.protocol`][synapse.protocol] says, so the documented filters and orderings
cannot drift.
"""

from __future__ import annotations

from synapse.protocol import CAPABILITIES, KINDS, Filter

__all__ = ["kinds_markdown"]

_LABELS = {"get": "get", "list": "list", "create": "create", "update": "save", "delete": "delete"}


def _filter(name: str, declared: Filter) -> str:
    kind = declared.type.removeprefix("enum:")
    if declared.choices:
        kind += ": " + " / ".join(declared.choices)
    return f"`{name}` ({kind})"


def kinds_markdown() -> str:
    """One section per kind: its attribute, paths, capabilities, filters, orderings."""
    lines = [
        "# Kinds, filters and orderings",
        "",
        "Generated from the protocol declarations (`python -m synapse.reference`). Filter",
        "names and `order_by()` fields not listed here raise before any request; see",
        "[unknown filters](migration.md#filters-the-sdk-does-not-know-yet) to send one",
        "anyway. Filter types: `id` an id or an object, `ids` a list of them, `code` a",
        "plugin code, `date` a date or datetime, an enum name its values in any case.",
        "",
    ]
    for name, kind in sorted(KINDS.items()):
        capabilities = [_LABELS[c] for c in CAPABILITIES if c in kind.capabilities]
        lines += [f"## `client.{name}`: {kind.resource_name}", ""]
        lines.append(
            f"- path: `{kind.path}`" + (f", listed at `{kind.list_path}`" if kind.list_path else "")
        )
        lines.append(f"- capabilities: {', '.join(capabilities)}")
        for action in kind.actions:
            lines.append(f"- action: `{action.method} {kind.path}{action.path}`")
        if "list" in kind.capabilities:
            allowed = kind.allowed_filters()
            shown = ", ".join(_filter(n, f) for n, f in sorted(allowed.items()) if not f.refused)
            lines.append(f"- filters: {shown or 'none'}")
            refused = sorted(n for n, f in allowed.items() if f.refused)
            if refused:
                names = ", ".join(f"`{n}`" for n in refused)
                lines.append(f"- refused (no documented meaning): {names}")
            lines.append(f"- orderings: {', '.join(f'`{o}`' for o in sorted(kind.orderings))}")
            if kind.cursor:
                lines.append("- stable iteration: the backend's cursor pagination")
        if kind.note:
            lines.append(f"- note: {kind.note}")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(kinds_markdown(), end="")
