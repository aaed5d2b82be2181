"""The async face's shape, checked: one declaration per kind serves both clients, httpx
stays in one module, and the sync side never depends on the async one."""

from __future__ import annotations

import ast
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


def async_stub() -> tuple[dict[str, str], dict[str, list[str]]]:
    """``AsyncClient``'s typed stub (``name: ManagerClass`` under ``if TYPE_CHECKING``)
    and the bases of each class that `synapse.aio.kinds` spells out for mypy."""
    client_tree = ast.parse((ROOT / "aio" / "client.py").read_text())
    cls = next(
        n for n in client_tree.body if isinstance(n, ast.ClassDef) and n.name == "AsyncClient"
    )
    attributes = {
        node.target.id: ast.unparse(node.annotation)
        for block in cls.body
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in block.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }
    kinds_tree = ast.parse((ROOT / "aio" / "kinds.py").read_text())
    classes = {
        node.name: [ast.unparse(base) for base in node.bases]
        for node in ast.walk(kinds_tree)
        if isinstance(node, ast.ClassDef)
    }
    return attributes, classes


def test_the_async_client_stub_is_what_runs_for_each_declared_kind() -> None:
    attributes, classes = async_stub()
    assert set(attributes) == set(protocol.KINDS)
    assert set(classes) == set(attributes.values())
    client = AsyncClient("https://api.synapse.test", "t" * 20)
    for name, kind in protocol.KINDS.items():
        made = type(getattr(client, name))
        assert attributes[name] == made.__name__  # what mypy sees is what runs
        resource = kind.resource_name
        *twins, declared = made.__bases__
        assert declared is manager_class(name)
        expected = [f"{twin.__name__}[{resource}]" for twin in twins] + [declared.__name__]
        assert classes[made.__name__] == expected, name
