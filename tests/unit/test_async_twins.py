"""Every public method of a manager or a resource that sends has an awaited ``a``-twin,
so that an ``AsyncClient`` can do all a ``Client`` can (issue 22, item 2): the methods
without one are listed here, each with why."""

from __future__ import annotations

import inspect

import pytest
from pydantic import BaseModel

from synapse import protocol
from synapse.aio.managers import async_manager_class
from synapse.aio.query import AsyncQuerySet
from synapse.managers import manager_class

#: Manager methods that build a query or a path: they send nothing themselves.
QUERY_BUILDERS = {
    "all", "detail_path", "detail_query", "exclude", "expand", "filter", "none", "only",
    "order_by", "page_size", "raw_filter", "stable_walk", "values", "values_list",
}  # fmt: skip
#: Picklable pieces for dask workers, each read by a sync client in its own process:
#: there is no loop to await them on.
FOR_DASK = {"partitions", "to_dask"}
NO_TWIN_MANAGER = QUERY_BUILDERS | FOR_DASK
#: A query's methods with no twin beyond those: the training exporter (a whole
#: pipeline of listings and downloads, left for later, as import_annotations).
NO_TWIN_QUERY = (
    QUERY_BUILDERS - {"detail_path", "detail_query", "stable_walk"} | FOR_DASK | {"export"}
)
#: Resource methods with no twin, and why.
NO_TWIN_RESOURCE = {
    "from_api": "builds an object from JSON: sends nothing",
    "from_api_many": "builds objects from JSON: sends nothing",
    "arelated": "the awaited form of a relation attribute (task.project)",
    "specification": "reads this object's specifications: sends nothing",
    "wait": "its twin is await_() (await is a keyword)",
    "await_": "wait()'s twin",
    "import_annotations": "a whole importer (synapse.training): left for later",
}


MIXINS = "synapse.aio.managers"


def _public(cls: type) -> set[str]:
    return {
        name
        for name in dir(cls)
        if not name.startswith("_")
        and callable(getattr(cls, name, None))
        and not inspect.isclass(getattr(cls, name))
    }


def _untwinned(names: set[str]) -> set[str]:
    return {n for n in names if f"a{n}" not in names and not (n[:1] == "a" and n[1:] in names)}


@pytest.mark.parametrize("name", sorted(protocol.KINDS))
def test_each_sending_manager_method_has_an_awaited_twin(name: str) -> None:
    manager = async_manager_class(manager_class(name))
    assert _untwinned(_public(manager)) - NO_TWIN_MANAGER == set()


@pytest.mark.parametrize("name", sorted(protocol.KINDS))
def test_each_sending_resource_method_has_an_awaited_twin(name: str) -> None:
    resource = protocol.KINDS[name].resource_class()
    assert _untwinned(_public(resource) - _public(BaseModel)) - set(NO_TWIN_RESOURCE) == set()


@pytest.mark.parametrize("name", sorted(protocol.KINDS))
def test_a_twin_takes_the_same_arguments(name: str) -> None:
    manager = async_manager_class(manager_class(name))
    resource = protocol.KINDS[name].resource_class()
    for cls in (manager, resource):
        names = _public(cls)
        for twin in sorted(n for n in names if n[:1] == "a" and n[1:] in names):
            sync, awaited = getattr(cls, twin[1:]), getattr(cls, twin)
            if not inspect.iscoroutinefunction(awaited) or awaited.__module__ == MIXINS:
                continue  # a builder, an iterator, or a capability's (acreate takes any kind's)
            params = inspect.signature(sync).parameters
            twin_params = inspect.signature(awaited).parameters
            # threads become tasks: no pool to give, a number of tasks for a number of workers
            renamed = {"max_workers": "concurrency"}
            expected = [renamed.get(p, p) for p in params if p != "executor"]
            assert expected == list(twin_params), f"{cls}.{twin}"


def test_each_sending_query_method_has_an_awaited_twin() -> None:
    assert _untwinned(_public(AsyncQuerySet)) - NO_TWIN_QUERY == set()
