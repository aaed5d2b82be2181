"""The declarations are consistent in themselves: every filter reads a declared field
(of its kind, or of the kind its join reaches), orderings and expansions name declared
fields, the cursor ordering is an ordering. A typo in a declaration fails here."""

from __future__ import annotations

import pytest

import synapse.protocol as protocol

BY_TABLE = {k.table: k for k in protocol.KINDS.values()}


def fields_of(kind: protocol.Kind) -> set[str]:
    return {*kind.fields, "id", kind.pk}


@pytest.mark.parametrize("name", sorted(protocol.KINDS))
def test_each_filter_reads_a_declared_field(name: str) -> None:
    kind = protocol.KINDS[name]
    for filter_name, declared in kind.allowed_filters().items():
        if declared.refused:
            assert declared.note, f"{name}.{filter_name}: a refusal says why"
            continue
        if declared.lookup in ("text", "limit", "offset"):
            continue
        where = kind
        if declared.join is not None:
            where = BY_TABLE[declared.join.table]
            # the key is a field of the side that holds it, pointing at the other side
            holder = where if declared.join.reverse else kind
            assert declared.join.key in holder.fields, f"{name}.{filter_name}: join key"
        assert declared.field in fields_of(where), f"{name}.{filter_name}: {declared.field}"
        if declared.choices:
            assert declared.type == "str", f"{name}.{filter_name}: choices of a string"


@pytest.mark.parametrize("name", sorted(protocol.KINDS))
def test_orderings_expansions_and_cursor_name_declared_fields(name: str) -> None:
    kind = protocol.KINDS[name]
    assert kind.orderings <= fields_of(kind)
    assert set(kind.default_expand) <= set(kind.expansions)
    for relation in kind.expansions:
        wire = kind.fields[relation]
        assert wire.startswith("fk:") or wire == "json", f"{name}: expand {relation}"
    if kind.cursor is not None:
        assert kind.cursor.lstrip("-") in kind.orderings
        assert "list" in kind.capabilities


def test_resources_and_paths_are_unique() -> None:
    kinds = list(protocol.KINDS.values())
    assert len({k.resource for k in kinds}) == len(kinds)
    assert len({k.table for k in kinds}) == len(kinds)
    for kind in kinds:
        assert kind.path.endswith("/")
        assert kind.path.strip("/")
        assert kind.capabilities <= set(protocol.CAPABILITIES)


def test_every_id_filter_target_is_a_declared_kind_or_table() -> None:
    from synapse.filters import FilterSet

    tables = {
        wire.removeprefix("fk:")
        for kind in protocol.KINDS.values()
        for wire in kind.fields.values()
        if wire.startswith("fk:")
    }
    for name, kind in protocol.KINDS.items():
        targets = FilterSet.of(kind).targets
        assert set(targets.values()) <= set(protocol.KINDS) | tables, name
        for filter_name, target in targets.items():
            declared = kind.filters.get(filter_name) or protocol.COMMON_FILTERS[filter_name]
            assert declared.type in ("id", "ids")
            if declared.field == "id" and declared.join is None:
                assert target == name  # the kind's own ids
    assert FilterSet.of(protocol.KINDS["tasks"]).targets["project"] == "projects"
    assert "users" not in FilterSet.of(protocol.KINDS["assignments"]).targets  # plain ints
