"""The async face's shape, checked: one declaration per kind serves both clients, httpx
stays in one module, and the sync side never depends on the async one."""

from __future__ import annotations

import re
from pathlib import Path

import synapse
import synapse.protocol as protocol
import synapse.resources  # declares every kind
from synapse.aio import AsyncClient, AsyncQuerySet
from synapse.managers import (
    CreateMixin,
    DeleteMixin,
    GetMixin,
    ListMixin,
    UpdateMixin,
    manager_class,
)

ROOT = Path(synapse.__file__).parent

TWINS = {
    GetMixin: ("aget", "afetch"),
    ListMixin: ("afirst", "alast", "acount", "aexists", "aiterator", "ain_bulk"),
    CreateMixin: ("acreate", "abulk_create", "aget_or_create"),
    UpdateMixin: ("asave",),
    DeleteMixin: ("adelete",),
}


_TYPE_CHECKING = re.compile(r"^if TYPE_CHECKING:\n(?:(?:    .*)?\n)+", re.M)


def sources() -> dict[str, str]:
    return {
        ".".join(p.relative_to(ROOT.parent).with_suffix("").parts): p.read_text()
        for p in ROOT.rglob("*.py")
        if "local" not in p.parts
    }


def test_each_async_manager_is_its_kinds_declared_manager_with_async_twins() -> None:
    client = AsyncClient("https://api.synapse.test", "t" * 20)
    assert set(protocol.KINDS) <= set(dir(client))
    for name in protocol.KINDS:
        kind = manager_class(name)
        manager = getattr(client, name)
        assert isinstance(manager, kind)  # paths, filters, orderings: the one declaration
        assert client.manager_for(kind.resource) is manager
        for capability, verbs in TWINS.items():
            for verb in verbs:
                assert hasattr(manager, verb) == issubclass(kind, capability), (name, verb)
        if issubclass(kind, ListMixin):
            query = manager.all()
            assert isinstance(query, AsyncQuerySet)
            assert query._plan().path == kind.list_path.fget(manager)  # type: ignore[attr-defined]


def test_only_the_async_http_module_imports_httpx() -> None:
    """At run time: other modules name its types under ``TYPE_CHECKING`` at most."""
    importing = sorted(
        name
        for name, source in sources().items()
        if re.search(r"^\s*(import|from) httpx\b", re.sub(_TYPE_CHECKING, "", source), re.M)
    )
    assert importing == ["synapse.aio.http"]


def test_the_sync_side_never_imports_the_async_side() -> None:
    importing = sorted(
        name
        for name, source in sources().items()
        if not name.startswith("synapse.aio") and re.search(r"(import|from) synapse\.aio\b", source)
    )
    assert importing == ["synapse.__init__"]  # the package's lazy __getattr__ only
