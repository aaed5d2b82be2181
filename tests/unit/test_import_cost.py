"""``import synapse`` and building a client stay light: the models (and pydantic), the
pipeline extras and the local backend load when first used."""

from __future__ import annotations

import pickle
import subprocess
import sys
import threading

import pytest

import synapse
from synapse import Client

FAMILIES = (
    "synapse.resources.annotation",
    "synapse.resources.data",
    "synapse.resources.integration",
    "synapse.resources.ml",
)
HEAVY = ("pydantic", "pandas", "pyarrow", "dask", "tqdm", "starlette", "synapse.local",
         "synapse.resources", *FAMILIES, "synapse.managers", "synapse.partitions",
         "synapse.training", "synapse.annotations", "PIL", "numpy", "synapse.methods",
         "synapse.uploads", "synapse.downloads")  # fmt: skip


CLIENT = "synapse.Client('https://api.synapse.test', 't' * 20)"


def loaded_after(code: str) -> list[str]:
    probe = f"{code}; import sys; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return eval(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]  # noqa: S307


def test_importing_and_building_a_client_loads_nothing_heavy() -> None:
    assert loaded_after("import synapse") == []
    assert (
        loaded_after("import synapse; synapse.Client('https://api.synapse.test', 't' * 20)") == []
    )
    assert loaded_after("from synapse import QuerySet, Client") == []
    # a tool probing for a name the package does not have (IPython's display hooks)
    assert loaded_after("import synapse; hasattr(synapse, '_repr_html_')") == []


def test_the_method_api_loads_when_first_named() -> None:
    assert "synapse.methods" in loaded_after("from synapse import BackendClient")
    assert "synapse.methods" in loaded_after("import synapse; synapse.BackendClient")


def test_the_first_use_of_a_manager_loads_its_models() -> None:
    loaded = loaded_after(
        "import synapse; synapse.Client('https://api.synapse.test', 't' * 20).tasks"
    )
    assert "pydantic" in loaded
    assert "synapse.resources" in loaded
    assert "pandas" not in loaded


def test_a_listing_loads_only_its_own_family() -> None:
    """Listing tasks (and reading a task's relations' ids) loads the annotation family
    only; a related kind's family loads when that relation is followed."""
    loaded = loaded_after(f"import synapse; {CLIENT}.tasks.filter(project=1)")
    assert [m for m in loaded if m in FAMILIES] == ["synapse.resources.annotation"]
    assert "synapse.uploads" not in loaded
    assert "synapse.downloads" not in loaded
    followed = loaded_after("import synapse; synapse.Task.data_unit.target")
    assert "synapse.resources.data" in followed
    assert "synapse.resources.integration" not in followed


def test_every_relation_reaches_the_kind_its_id_field_is_declared_to_point_to() -> None:
    """``task.project`` is a Project, ``job.plugin_release`` a PluginRelease...: each
    relation is named after the kind its declared ``fk:`` field points to."""
    from synapse import protocol

    seen = 0
    for kind in protocol.KINDS.values():
        resource = kind.resource_class()
        for name, (_wire, relation) in resource._relations().items():
            assert relation.target is protocol.KINDS[f"{name}s"].resource_class(), name
            seen += 1
    assert seen == 10


def test_a_relation_pickles_and_finds_its_class_again() -> None:
    import pickle

    from synapse.resources.annotation import Project, Task

    assert Task.project.target is Project  # looked up and cached before pickling
    copy = pickle.loads(pickle.dumps(Task.project))
    assert (copy.name, copy.id_field, copy.target) == ("project", "project_id", Project)


def test_a_relation_whose_id_field_is_not_declared_fk_is_refused() -> None:
    from pydantic import Field

    from synapse.resources.base import Relation, Resource

    class Widget(Resource):  # no kind declares it
        project_id: int | None = Field(default=None, alias="project")
        project = Relation["Resource"]("project_id")

    with pytest.raises(TypeError, match=r"Widget\.project: its id field is not declared fk"):
        Widget.project.target  # noqa: B018


def test_resource_classes_are_there_on_first_use() -> None:
    from synapse.resources.annotation import Task

    assert synapse.Task is Task
    assert "Task" in dir(synapse)
    with pytest.raises(AttributeError, match="no attribute 'Tsak'"):
        synapse.Tsak  # noqa: B018


def test_a_manager_is_made_once_per_client_even_from_threads() -> None:
    client = Client("https://api.synapse.test", "t" * 20)
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(client.jobs)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(m) for m in seen}) == 1
    assert client.jobs is seen[0]
    assert client.manager_for(synapse.Job) is client.jobs
    copy = pickle.loads(pickle.dumps(client))
    assert copy.jobs is not client.jobs
    assert copy.jobs.client is copy


def test_a_relation_says_what_it_is_and_a_wrong_name_lists_the_right_ones() -> None:
    import asyncio

    from synapse.resources.annotation import Task

    assert repr(Task.data_unit) == "<Relation Task.data_unit via data_unit_id>"
    task = Task.model_validate({"id": 1, "project": 2})
    with pytest.raises(synapse.InvalidInputError, match="no relation 'projct'; it has 'project'"):
        asyncio.run(task.arelated("projct"))
