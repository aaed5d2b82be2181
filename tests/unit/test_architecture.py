"""The shape of the package, checked: layers without cycles, one declaration per kind,
one HTTP path, one home for errors."""

from __future__ import annotations

import ast
import importlib
import re
from pathlib import Path

import synapse
import synapse.resources
from synapse import Client, errors, protocol
from synapse.managers import KINDS, manager_class

ROOT = Path(synapse.__file__).parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Every import between synapse modules, including those under TYPE_CHECKING and
    inside functions."""
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_the_import_graph_has_no_cycle() -> None:
    graph = import_graph()
    assert len(graph) > 30
    assert "synapse.resources.base" in graph["synapse.resources.annotation"]
    assert cycles(graph) == []


def test_the_cycle_finder_finds_cycles() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_method_api_has_no_path_and_sends_nothing_itself() -> None:
    tree = ast.parse((ROOT / "methods.py").read_text())
    paths = [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[a-z_]+/([a-z_{}]+/)*", node.value)
    ]
    assert paths == []
    requests_sent = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in ("request", "send")
    ]
    assert requests_sent == []


def test_only_the_transport_imports_the_http_library() -> None:
    graph_sources = {
        module_name(p): p.read_text()
        for p in ROOT.rglob("*.py")
        if not module_name(p).startswith("synapse.local")
    }
    importing = sorted(
        name
        for name, source in graph_sources.items()
        if re.search(r"^\s*(import|from) (requests|urllib3)\b", source, re.MULTILINE)
    )
    assert importing == ["synapse.http"]


def client_stub() -> dict[str, str]:
    """The typed stub of the client's managers: ``name: ManagerClass`` under
    ``if TYPE_CHECKING`` in the class body."""
    tree = ast.parse((ROOT / "client.py").read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Client")
    return {
        node.target.id: ast.unparse(node.annotation)
        for block in cls.body
        if isinstance(block, ast.If) and ast.unparse(block.test) == "TYPE_CHECKING"
        for node in block.body
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
    }


def test_the_client_stub_names_each_declared_kind_and_its_manager() -> None:
    stub = client_stub()
    assert set(stub) == set(protocol.KINDS)
    client = Client("https://api.synapse.test", "t" * 20)
    for name, kind in protocol.KINDS.items():
        manager = getattr(client, name)
        assert type(manager) is manager_class(name) is KINDS[name]
        assert stub[name] == type(manager).__name__  # what mypy sees is what runs
        assert type(manager).__module__ == kind.module  # loaded from where it is declared
        resource = getattr(importlib.import_module(kind.module), kind.resource_name)
        assert client.manager_for(resource) is manager is client.manager_for(manager.resource)
        assert kind.resource_name in synapse.__all__
        assert getattr(synapse, kind.resource_name) is manager.resource


def test_every_error_class_lives_in_errors_and_is_exported() -> None:
    homes = {}
    for path in ROOT.rglob("*.py"):
        name = module_name(path)
        if name.startswith("synapse.local"):
            continue  # the server's own errors are never raised to users
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                bases = {getattr(b, "id", getattr(b, "attr", "")) for b in node.bases}
                if any(b.endswith(("Error", "Exception", "Warning", "Failed")) for b in bases):
                    homes[node.name] = name
    assert homes
    assert {n: m for n, m in homes.items() if m != "synapse.errors"} == {}
    for name in homes:
        assert getattr(synapse, name) is getattr(errors, name)
        assert name in (errors.__doc__ or ""), f"{name} is missing from the drawn tree"


def test_the_kinds_page_is_what_the_declarations_say() -> None:
    from synapse.reference import kinds_markdown

    page = ROOT.parent / "docs" / "kinds.md"
    assert page.read_text() == kinds_markdown(), "run: python -m synapse.reference > docs/kinds.md"
    assert "`project` (id)" in page.read_text()


def test_docstrings_use_mkdocstrings_cross_references_not_sphinx_roles() -> None:
    role = re.compile(r":(class|meth|func|attr|data|mod|exc):`")
    offenders = [
        f"{path.relative_to(ROOT.parent)}:{n}"
        for path in ROOT.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if role.search(line)
    ]
    assert offenders == []


def test_docstrings_use_markdown_code_blocks_not_rest_literals() -> None:
    """mkdocstrings renders Markdown: a reST ``::`` literal block shows as text."""
    offenders = []
    for path in ROOT.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node) or ""
                if any(line.rstrip().endswith("::") for line in doc.splitlines()):
                    offenders.append(f"{path.relative_to(ROOT.parent)}:{getattr(node, 'name', '')}")
    assert offenders == []


def test_user_docs_never_point_to_a_protocol_section() -> None:
    """Users do not have the wire contract document: neither the pages nor the API
    reference (the docstrings) may send them to "protocol 4.2"."""
    section = re.compile(r"protocol (section )?\d")
    pages = [ROOT.parent / "README.md", *(ROOT.parent / "docs").glob("*.md")]
    sources = [p for p in ROOT.rglob("*.py") if "local" not in p.parts]
    offenders = [
        f"{path.name}:{n}"
        for path in [*pages, *sources]
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if section.search(line)
    ]
    assert offenders == []


def test_no_test_waits_on_the_wall_clock() -> None:
    """Tests move clocks (a `ManualClock`, an injected sleep); they never sleep or poll
    against a deadline."""
    # (``sleep(0)`` waits for nothing: it gives the event loop one turn)
    sleeping = re.compile(r"\btime\.(sleep|monotonic|time)\(|\bsleep\((?!0\))\d")
    offenders = [
        f"{path.relative_to(ROOT.parent)}:{n}"
        for path in (ROOT.parent / "tests").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), start=1)
        if sleeping.search(line) and "sleeping = re.compile" not in line
    ]
    assert offenders == []


def test_no_property_test_has_a_wall_clock_deadline() -> None:
    """Hypothesis fails an example that runs past its deadline: a wall-clock assertion.
    The suite's profile (tests/conftest.py) turns it off for every property test."""
    from hypothesis import settings

    assert settings.default.deadline is None


def documented_layers() -> dict[str, int]:
    """Each module of the map in docs/architecture.md with its depth (0 is the top); a
    folder (``clients/``) stands for every module under it."""
    page = (ROOT.parent / "docs" / "architecture.md").read_text()
    block = page.split("## Layers", 1)[1].split("```", 2)[1]
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    layers: dict[str, int] = {}
    depth = 0
    for line in block.strip("\n").splitlines():
        names = re.findall(r"(?<!\S)([\w/]+\.py|[\w]+/)(?!\S)", line)
        if not names:
            continue  # a description going on under the line above
        for name in names:
            where = ROOT.parent / name if name.startswith("synapse/") else ROOT / name
            if name.endswith("/"):
                layers.update({m: depth for m, p in modules.items() if where in p.parents})
            else:
                layers[module_name(where)] = depth
        depth += 1
    return layers


def module_level_imports(path: Path) -> set[str]:
    """The synapse modules a module imports when it loads (not under TYPE_CHECKING,
    not inside functions)."""
    modules = {module_name(p) for p in ROOT.rglob("*.py")}
    found: set[str] = set()

    def visit(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, (ast.If, ast.Try)):
                visit(node.body)
                visit(getattr(node, "orelse", []))
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                targets = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
            found.update(t for t in targets if t in modules)

    visit(ast.parse(path.read_text()).body)
    return found


def test_the_layer_map_is_the_import_order() -> None:
    layers = documented_layers()
    sources = {module_name(p): p for p in ROOT.rglob("*.py")}
    client_side = {name for name in sources if not name.startswith("synapse.local")}
    assert set(layers) == client_side, "every module of the client side is on the map"
    assert layers["synapse.protocol"] == max(layers.values())  # the bottom layer
    upward = sorted(
        f"{name} -> {target}"
        for name in client_side
        for target in module_level_imports(sources[name]) - {name}
        if target in layers and layers[target] < layers[name]
    )
    assert upward == []
