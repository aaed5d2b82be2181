"""Adding a kind is one declaration plus its resource model: a throwaway kind declared
here is reachable through the object API, the method API, the local backend and its
OpenAPI document, with nothing else written for it."""

from __future__ import annotations

import inspect
from collections.abc import Iterator

import pytest
import requests

import synapse
import synapse.managers
import synapse.protocol as protocol
from synapse import BackendClient, Client, UnknownFilterError
from synapse.local import LocalBackend
from synapse.protocol import Filter, Kind, Methods
from synapse.resources.base import Resource


class Widget(Resource):
    """The throwaway kind's model: all it needs besides its declaration."""

    name: str | None = None
    size: int | None = None


WIDGETS = Kind(
    "widgets",
    f"{__name__}:Widget",
    "widgets/",
    frozenset({"get", "list", "create", "update"}),
    fields={"name": "str", "size": "int"},
    filters={"name": Filter("str", "name"), "size__gte": Filter("int", "size", "gte")},
    orderings=frozenset({"id", "size"}),
    methods=Methods(get="widget", list="widgets", list_shape="full"),
)


@pytest.fixture
def declared() -> Iterator[Kind]:
    protocol.declare(WIDGETS)
    try:
        yield WIDGETS
    finally:
        protocol.withdraw("widgets")
        synapse.managers.KINDS.pop("widgets", None)
        vars(synapse).pop("Widget", None)


def test_a_kind_declared_once_is_reachable_everywhere(declared: Kind) -> None:
    with LocalBackend() as backend, Client(backend.url, backend.token) as client:
        widgets = client.widgets  # the client's attribute, from the registry
        made = widgets.create(name="gear", size=3)
        widgets.create(name="cog", size=9)
        assert isinstance(made, Widget)
        assert made.pk is not None
        assert widgets.get(made.pk).name == "gear"
        assert [w.name for w in widgets.filter(size__gte=5)] == ["cog"]
        assert widgets.filter(name="gear").count() == 1
        assert [w.size for w in widgets.order_by("-size")] == [9, 3]
        made.size = 4
        made.save()  # the update capability gives save()
        assert widgets.get(made.pk).size == 4
        assert not hasattr(made, "delete")  # not declared, not offered
        with pytest.raises(UnknownFilterError, match="size__gte"):
            widgets.filter(size__gt=5)
        assert client.manager_for(Widget) is widgets
        assert synapse.Widget is Widget

        old_style = BackendClient(backend.url, backend.token)
        assert old_style.get_widget(widget_id=made.pk)["size"] == 4  # type: ignore[attr-defined]
        page = old_style.list_widgets(params={"size__gte": 5})  # type: ignore[attr-defined]
        assert [w["name"] for w in page["results"]] == ["cog"]
        items, count = old_style.list_widgets(list_all=True)  # type: ignore[attr-defined]
        assert count == 2
        assert sorted(w["size"] for w in items) == [4, 9]
        assert "widget_id" in inspect.signature(old_style.get_widget).parameters  # type: ignore[attr-defined]

        document = requests.get(f"{backend.url}/openapi.json", timeout=10).json()
        assert set(document["paths"]["/widgets/"]) == {"get", "post"}
        assert set(document["paths"]["/widgets/{pk}/"]) == {"get", "patch"}
        names = {p["name"] for p in document["paths"]["/widgets/"]["get"]["parameters"]}
        assert {"name", "size__gte"} <= names


def test_a_withdrawn_kind_is_gone() -> None:
    assert "widgets" not in protocol.KINDS
    with pytest.raises(AttributeError):
        _ = Client("https://api.synapse.test", "t" * 20).widgets  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        _ = BackendClient("https://api.synapse.test", "t" * 20).list_widgets  # type: ignore[attr-defined]
