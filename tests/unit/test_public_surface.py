"""The public surface of managers and querysets is exactly what is declared here: the
wire helpers the method API uses are private, and a new public name fails this test
until it is added (and documented) on purpose."""

from __future__ import annotations

import ast
import inspect
from typing import Any

import pytest

from synapse import protocol
from synapse.managers import MIXINS, Manager, manager_class
from synapse.query import QuerySet
from synapse.resources.integration import Plugin, PluginManager, RunOptions

#: What every manager shows: its kind's facts and the paths built from them.
BASE = {
    "cursor_pagination",
    "default_expand",
    "detail_path",
    "detail_query",
    "filters",
    "full_update",
    "kind",
    "list_path",
    "name",
    "orderings",
    "path",
    "resource",
}
#: The query verbs: a QuerySet's public API.
QUERY_VERBS = {
    "all", "count", "exclude", "exists", "expand", "export", "filter", "first", "get",
    "in_bulk", "iterator", "last", "none", "only", "order_by", "page_size", "partitions",
    "raw_filter", "set_tags", "to_arrow", "to_dask", "to_pandas", "values", "values_list",
}  # fmt: skip
#: What each capability adds to a manager.
VERBS: dict[protocol.Capability, set[str]] = {
    "get": {"get", "fetch"},
    "list": QUERY_VERBS - {"get", "export", "set_tags"} | {"stable_walk"},
    "create": {"create", "bulk_create", "get_or_create"},
    "update": {"save"},
    "delete": {"delete"},
}
#: The verbs a kind has of its own, beyond its capabilities.
OWN = {
    "tasks": {"annotate", "aannotate", "set_tags", "aset_tags"},
    "assignments": {"set_tags", "aset_tags"},
    "agents": {"health_check", "ahealth_check"},
    "plugins": {"run", "arun"},
    "jobs": {"console_logs", "aconsole_logs", "create_logs", "acreate_logs"},
    "data_files": {"upload_many", "aupload_many", "verify_checksums", "averify_checksums"},
    "data_units": {"create_many", "acreate_many", "upload_payload", "aupload_payload"},
}
#: Wire helpers of the method API: never public.
INTERNAL = {
    "create_json",
    "fetch_page",
    "send_update",
    "detail_params",
    "list_path_override",
    "run_json",
    "verify_checksums_json",
}


def public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


@pytest.mark.parametrize("name", sorted(protocol.KINDS))
def test_each_manager_shows_exactly_its_declared_verbs(name: str) -> None:
    kind = protocol.KINDS[name]
    expected = set(BASE) | OWN.get(name, set())
    for capability in kind.capabilities:
        expected |= VERBS[capability]
    assert public(manager_class(name)) == expected
    assert not public(manager_class(name)) & INTERNAL


def test_the_declared_verbs_are_the_mixins_own() -> None:
    # The table above is checked against the code, so that it cannot drift either way.
    assert public(Manager) == BASE - {"kind", "resource"}  # those two are bound per kind
    for capability, mixin in MIXINS.items():
        assert {n for n in vars(mixin) if not n.startswith("_")} == VERBS[capability]
    assert set(OWN) <= set(protocol.KINDS)


def test_a_queryset_shows_only_query_verbs() -> None:
    assert public(QuerySet) == QUERY_VERBS


@pytest.mark.parametrize(
    "name", sorted(n for n, k in protocol.KINDS.items() if "list" in k.capabilities)
)
def test_managers_proxy_the_query_verbs(name: str) -> None:
    # Django's from_queryset: client.tasks.exclude(...) needs no .all(); get() is the
    # manager's own (by id), export() is for tasks' querysets.
    missing = QUERY_VERBS - public(manager_class(name))
    assert missing <= {"get", "export", "set_tags"}
    assert "export" in missing


def _options(function: Any, skip: int) -> list[tuple[str, Any]]:
    parameters = list(inspect.signature(function).parameters.values())[skip:]
    return [(p.name, p.default) for p in parameters]


def test_plugin_run_signatures_are_the_declared_run_options() -> None:
    declared = [
        (name, parameter.default)
        for name, parameter in inspect.signature(RunOptions).parameters.items()
    ]
    assert [name for name, _ in declared][:3] == ["action", "params", "agent"]
    assert _options(Plugin.run, skip=1) == declared  # self
    assert _options(Plugin.arun, skip=1) == declared  # the async twin takes the same
    assert _options(PluginManager.run, skip=2) == declared  # self, plugin
    assert set(RunOptions.wire_names().values()) == {
        "action", "params", "agent", "storage_id", "version", "job_id", "debug", "language",
    }  # fmt: skip


def test_run_options_body_sends_only_what_is_given() -> None:
    options = RunOptions.from_wire({"action": "go", "storage_id": 3, "debug": None})
    assert options.body() == {"action": "go", "storage_id": 3, "language": "ko"}
    assert RunOptions(params={"a": 1}, language="en").body() == {
        "params": {"a": 1},
        "language": "en",
    }


def test_the_queryset_holds_the_query_only() -> None:
    # Tables, Dask, export, display and tags live in their own modules: the QuerySet's
    # verbs for them only delegate (a docstring, an import, a call, at most a check).
    import textwrap

    from synapse.frames import Tabular

    assert not issubclass(QuerySet, Tabular)
    for name in ("to_pandas", "to_arrow", "partitions", "to_dask", "export", "set_tags"):
        source = textwrap.dedent(inspect.getsource(getattr(QuerySet, name)))
        body = ast.parse(source).body[0].body  # type: ignore[attr-defined]
        statements = [s for s in body if not isinstance(s, (ast.Expr, ast.ImportFrom))]
        assert len(statements) <= 3, name
    html = textwrap.dedent(inspect.getsource(QuerySet._repr_html_))
    assert len(ast.parse(html).body[0].body) == 2  # type: ignore[attr-defined]


def test_upload_many_has_one_home_without_a_detour_through_the_client() -> None:
    # It lived in resources/bulk, reached from DataCollection through Context and the
    # client to dodge an import cycle; it now lives beside DataCollection.
    from synapse import Client
    from synapse.aio.client import AsyncClient
    from synapse.context import Context
    from synapse.resources import data

    for holder in (Context, Client, AsyncClient):
        assert not hasattr(holder, "upload_many")
    assert callable(data._upload_many)
    imported = {
        node.module
        for node in ast.walk(ast.parse(inspect.getsource(data)))
        if isinstance(node, ast.ImportFrom) and node.module
    }
    assert "synapse.resources.annotation" not in imported  # tasks come by kind name
    assert "synapse.client" not in imported


def test_the_old_run_request_model_has_the_declared_options() -> None:
    # The old package's model (kept at its import path) names the same options on the
    # wire, with the same defaults.
    from synapse.clients.backend.models import PluginRunRequest

    wire = RunOptions.wire_names()
    defaults = {
        wire[name]: p.default for name, p in inspect.signature(RunOptions).parameters.items()
    }
    fields = PluginRunRequest.model_fields
    assert set(fields) == set(defaults)
    assert {name: f.default for name, f in fields.items()} == defaults
