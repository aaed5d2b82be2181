"""Fields that only() leaves out are not None: reading one says it was not fetched."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synapse import Client, DeferredFieldError


def test_a_field_left_out_by_only_raises_naming_only(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    task = synapse_client.tasks.filter(project=demo["project"]).only("meta")[0]
    assert task.id is not None
    assert isinstance(task.meta, dict)  # asked for: there
    with pytest.raises(DeferredFieldError, match=r"Task\.status_label was not fetched.*only"):
        _ = task.status_label
    with pytest.raises(DeferredFieldError):
        _ = task.project  # a relation whose id was not fetched
    assert getattr(task, "data", "absent") == "absent"  # an AttributeError, as hasattr expects
    assert "status_label" not in task._repr_html_()
    with pytest.raises(DeferredFieldError):
        _ = pickle.loads(pickle.dumps(task)).status_label


def test_saving_an_only_object_sends_what_changed_and_loads_the_rest(
    synapse_client: Client, synapse_backend: Any, demo: dict[str, Any]
) -> None:
    query = synapse_client.tasks.filter(project=demo["project"])
    before = query[0]
    task = query.only("id")[0]
    task.meta = {"checked": True}
    synapse_backend.clear_requests()
    task.save()
    patches = [r for r in synapse_backend.requests if r.method == "PATCH"]
    assert len(patches) == 1
    again = synapse_client.tasks.get(task.id)
    assert again.meta == {"checked": True}
    assert again.data == before.data  # nothing that was not fetched was overwritten
    assert task.status_label == again.status_label  # loaded from the answer


def test_refresh_loads_every_field(synapse_client: Client, demo: dict[str, Any]) -> None:
    task = synapse_client.tasks.filter(project=demo["project"]).only("id")[0]
    task.refresh()
    assert task.status_label == synapse_client.tasks.get(task.id).status_label


def test_a_kind_updated_whole_refuses_to_put_what_only_left_out(
    synapse_client: Client, synapse_backend: Any, demo: dict[str, Any]
) -> None:
    plugin = synapse_client.plugins.only("name").first()
    assert plugin is not None
    plugin.name = "renamed"
    synapse_backend.clear_requests()
    with pytest.raises(DeferredFieldError, match=r"updated whole \(PUT\)"):
        plugin.save()
    assert [r for r in synapse_backend.requests if r.method in ("PUT", "PATCH")] == []
    plugin.refresh()
    plugin.name = "renamed"
    plugin.save()  # whole again: the PUT carries every field
    assert synapse_client.plugins.get(plugin.id).name == "renamed"


# -- field names: a field is asked for by its attribute name or by its wire name


def test_only_sends_wire_names_for_attribute_names(
    synapse_client: Client, synapse_backend: Any, demo: dict[str, Any]
) -> None:
    query = synapse_client.tasks.filter(project=demo["project"])
    whole = query[0]
    synapse_backend.clear_requests()
    task = query.only("project_id", "schema_name")[0]
    sent = synapse_backend.requests[-1].query
    assert ("fields=project" in sent, "fields=schema" in sent) == (True, True)
    assert ("project_id" in sent, "schema_name" in sent) == (False, False)
    assert (task.project_id, task.schema_name) == (whole.project_id, whole.schema_name)
    assert task.project_id is not None  # read, not deferred (the demo has no schema)
    with pytest.raises(DeferredFieldError):
        _ = task.status_label


def test_only_a_name_the_server_does_not_send_is_an_error_not_bare_objects(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    """``only("mta")``: the server leaves out a field it does not have, so the objects
    would hold nothing asked for; it raises with a did-you-mean instead."""
    query = synapse_client.tasks.filter(project=demo["project"])
    with pytest.raises(DeferredFieldError, match="no field 'mta'; did you mean 'meta'"):
        query.only("mta")[0]
    with pytest.raises(DeferredFieldError, match="no field 'mta'"):
        list(query.only("meta", "mta"))
    tasks = list(query.only("meta"))
    assert tasks
    assert all(isinstance(t.meta, dict) for t in tasks)


@pytest.mark.parametrize("names", [("project_id", "id"), ("project", "id")])
def test_values_read_a_field_by_either_name_keyed_as_asked(
    synapse_client: Client, demo: dict[str, Any], names: tuple[str, str]
) -> None:
    query = synapse_client.tasks.filter(project=demo["project"]).order_by("id")
    expected = [(t.project_id, t.id) for t in query]
    rows = list(query.values(*names))
    assert [tuple(r[n] for n in names) for r in rows] == expected
    assert all(list(r) == list(names) for r in rows)
    assert list(query.values_list(*names)) == expected
    assert list(query.values_list(names[0], flat=True)) == [p for p, _ in expected]


def test_frames_read_a_column_named_by_its_attribute(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    pytest.importorskip("pandas")
    query = synapse_client.tasks.filter(project=demo["project"]).order_by("id")
    expected = [(t.id, t.project_id, t.schema_name) for t in query]
    frame = query.to_pandas(columns=["id", "project_id", "schema_name"])
    assert list(frame.columns) == ["id", "project_id", "schema_name"]
    rows = frame.astype(object).where(frame.notna(), None)
    assert list(rows.itertuples(index=False, name=None)) == expected
    table = query.to_arrow(columns=["project_id"])
    assert table.column("project_id").to_pylist() == [p for _, p, _ in expected]


@pytest.mark.parametrize(
    "read",
    [
        lambda q: list(q.values("id", "projct")),
        lambda q: list(q.values_list("projct", flat=True)),
        lambda q: q.to_pandas(columns=["id", "projct"]),
    ],
    ids=["values", "values_list", "to_pandas"],
)
def test_a_field_the_server_does_not_send_is_an_error_not_nulls(
    synapse_client: Client, demo: dict[str, Any], read: Any
) -> None:
    pytest.importorskip("pandas")
    query = synapse_client.tasks.filter(project=demo["project"])
    with pytest.raises(DeferredFieldError, match=r"no field 'projct'; did you mean 'project"):
        read(query)


_TASK_NAMES = [  # (attribute, wire) of Task fields whose wire value is the attribute's
    ("id", "id"),
    ("project_id", "project"),
    ("schema_name", "schema"),
    ("status_label", "status_label"),
    ("is_discarded", "is_discarded"),
    ("count_assignments", "count_assignments"),
]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    picks=st.lists(
        st.tuples(st.sampled_from(_TASK_NAMES), st.booleans()),
        min_size=1,
        max_size=5,
        unique_by=lambda p: p[0],
    )
)
def test_values_by_any_mix_of_names_equal_the_objects_fields(
    synapse_client: Client, demo: dict[str, Any], picks: list[tuple[tuple[str, str], bool]]
) -> None:
    names = [attribute if by_attribute else wire for (attribute, wire), by_attribute in picks]
    query = synapse_client.tasks.filter(project=demo["project"]).order_by("id")[:5]
    objects = list(query)
    attributes = [attribute for (attribute, _), _ in picks]

    def fields_of(task: Any) -> dict[str, Any]:
        return {n: getattr(task, a) for n, a in zip(names, attributes, strict=True)}

    expected = [fields_of(t) for t in objects]
    assert list(query.values(*names)) == expected
    assert [fields_of(t) for t in query.only(*names)] == expected


def test_a_relation_id_by_its_attribute_name_is_the_id_even_when_expanded(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    query = synapse_client.tasks.filter(project=demo["project"]).order_by("id")
    ids = [t.data_unit_id for t in query]
    assert all(isinstance(i, int) for i in ids)
    expanded = query.expand("data_unit")
    assert [r["data_unit_id"] for r in expanded.values("data_unit_id")] == ids
    assert list(expanded.values_list("data_unit_id", flat=True)) == ids
    nested = [r["data_unit"] for r in expanded.values("data_unit")]  # the wire's name: as sent
    assert [n["id"] for n in nested] == ids


def test_only_keeps_the_kinds_key_where_it_is_not_id(
    synapse_client: Client, demo: dict[str, Any]
) -> None:
    events = synapse_client.ground_truth_events.all()
    whole = list(events)
    assert whole
    narrow = list(events.only("category"))
    assert [e.pk for e in narrow] == [e.pk for e in whole]  # pgh_id, not None
    assert all(e.pk is not None for e in narrow)
    assert [e.category for e in narrow] == [e.category for e in whole]
