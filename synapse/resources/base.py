"""The behaviour every resource shares: binding, dirty tracking, and the capabilities
(refresh, save, delete) that kinds opt into.

A resource is a pydantic model of one object of the backend. It remembers the client that
loaded it and the answer it was loaded from, so that `save()` sends only the
fields that changed. Fields the server sends that the model does not declare are kept
(``model_extra``) and sent back where a full update needs them.
"""

from __future__ import annotations

import copy
import difflib
import functools
import html
from collections.abc import Callable, Mapping, Sequence
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, TypeVar, overload

import pydantic
from pydantic import AliasChoices, AliasPath, BaseModel, ConfigDict, Field, JsonValue

import synapse.protocol as protocol
from synapse.context import awaiting
from synapse.display import html_cell
from synapse.enums import JobStatus, StorageCategory, StorageProvider
from synapse.errors import (
    ClientError,
    DeferredFieldError,
    InvalidInputError,
    MultipleObjectsReturned,
    NotFoundError,
    ReadOnlyFieldError,
)
from synapse.pagination import PageSource

if TYPE_CHECKING:
    from synapse.context import Context

__all__ = [
    "JsonDict",
    "Relation",
    "Resource",
    "TolerantJobStatus",
    "TolerantStorageCategory",
    "TolerantStorageProvider",
    "capabilities_of",
    "html_cell",
    "related_id",
]

JsonDict = dict[str, JsonValue]


def _id_of_related(value: Any) -> Any:
    """A relation arrives as an id, or as the whole object when expanded: its id."""
    if isinstance(value, dict):
        return value.get("id")
    return value


def related_id(wire: str) -> Any:
    """The id field of a relation sent as ``wire``: it parses in one pass (inside
    pydantic's core, no Python call per item) whether the server sent an id or the
    expanded object, whose ``id`` it takes; the object stays in the answer, where
    [`Relation`][synapse.resources.base.Relation] finds it without a request."""
    return Field(None, alias=wire, validation_alias=AliasChoices(AliasPath(wire, "id"), wire))


# Known wire values become enum members; values the SDK does not know stay strings.
TolerantJobStatus = Annotated[JobStatus | str, Field(union_mode="left_to_right")]
TolerantStorageCategory = Annotated[StorageCategory | str, Field(union_mode="left_to_right")]
TolerantStorageProvider = Annotated[StorageProvider | str, Field(union_mode="left_to_right")]

R = TypeVar("R", bound="Resource")


class Relation(Generic[R]):
    """A related object, loaded once on first access from the id held in ``id_field``.

    ``task.project`` reads ``task.project_id`` and asks the client, whose cache is keyed
    by (class, id). An answer that was expanded (``.expand("project")``) fills it with no
    request at all.
    """

    def __init__(self, id_field: str) -> None:
        self.id_field = id_field
        self.name = ""
        self._owner: type[Resource] | None = None

    def __set_name__(self, owner: type[Resource], name: str) -> None:
        self.name = name
        self._owner = owner

    def __repr__(self) -> str:
        owner = self._owner.__name__ if self._owner is not None else "?"
        return f"<Relation {owner}.{self.name} via {self.id_field}>"

    def __getstate__(self) -> dict[str, Any]:
        """What pickles: not the class looked up, nor the forward reference that
        ``Relation["Project"](...)`` records (it holds a code object)."""
        return {k: v for k, v in vars(self).items() if k not in ("target", "__orig_class__")}

    @functools.cached_property
    def target(self) -> type[R]:
        """The related object's class: the kind its id field is declared to point to
        (``fk:projects`` in `synapse.protocol`), imported on first need, so a family
        imports no other family (listing tasks loads no plugins)."""
        owner = self._owner
        assert owner is not None, "a Relation is used as a class attribute"
        kind = protocol.kind_of_resource(owner.__module__, owner.__name__)
        field = owner.model_fields[self.id_field]
        wire = kind.fields.get(field.alias or self.id_field, "") if kind is not None else ""
        if not wire.startswith("fk:"):
            raise TypeError(f"{owner.__name__}.{self.name}: its id field is not declared fk:")
        found: type[R] = protocol.KINDS[wire.removeprefix("fk:")].resource_class()
        return found

    @overload
    def __get__(self, obj: None, owner: type) -> Relation[R]: ...
    @overload
    def __get__(self, obj: Resource, owner: type) -> R | None: ...
    def __get__(self, obj: Resource | None, owner: type) -> Relation[R] | R | None:
        if obj is None:
            return self
        pk, found = self.known(obj)
        if pk is None or found is not None:
            return found
        # The client caches one object per id; each owner gets its own copy, so an
        # unsaved edit made through one task's project never shows on another's.
        found = copy.copy(obj._bound_client().related(self.target, pk))
        obj._expanded[self.name] = found
        return found

    def known(self, obj: Resource) -> tuple[Any, R | None]:
        """``(id, object)`` of ``obj``'s related object, the object None unless it is at
        hand without a request (set, or expanded in the answer): what both the attribute
        and the awaited `Resource.arelated` look at first."""
        pk = getattr(obj, self.id_field)
        if pk is None:
            return None, None
        expanded = obj._expanded.get(self.name)
        if expanded is not None and expanded.pk == pk:
            return pk, expanded  # type: ignore[return-value]
        field = type(obj).model_fields[self.id_field]
        sent = obj._meta.raw.get(field.alias or self.id_field)
        if isinstance(sent, Mapping) and sent.get("id") == pk:  # expanded in the answer
            found = self.target.from_api(obj._client, sent)
            obj._expanded[self.name] = found
            return pk, found
        return pk, None

    def __set__(self, obj: Resource, value: R | int | str | None) -> None:
        pk = value.pk if isinstance(value, Resource) else value
        setattr(obj, self.id_field, pk)
        if isinstance(value, Resource):
            obj._expanded[self.name] = value
        else:
            obj._expanded.pop(self.name, None)


_RELATIONS: dict[type, dict[str, tuple[str, Relation[Any]]]] = {}
_RELATED_IDS: dict[type, frozenset[str]] = {}


def _related_id_fields(cls: type[BaseModel]) -> frozenset[str]:
    """The fields of ``cls`` declared with [`related_id()`][synapse.resources.base.related_id]."""
    found = _RELATED_IDS.get(cls)
    if found is None:
        found = _RELATED_IDS[cls] = frozenset(
            name
            for name, field in cls.model_fields.items()
            if isinstance(field.validation_alias, AliasChoices)
        )
    return found


F = TypeVar("F", bound=Callable[..., Any])


class _Capability:
    """A method an object has only when its kind declares the capability behind it
    (``save`` needs ``update``): the declaration in `synapse.protocol` is the one list.
    Without it the attribute does not exist (``hasattr(Job, "delete")`` is false)."""

    def __init__(self, needs: str, func: Callable[..., Any]) -> None:
        self.needs = needs
        self.func = func
        self.__doc__ = func.__doc__
        self.name = func.__name__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type) -> Any:
        if self.needs not in capabilities_of(owner):
            raise AttributeError(
                f"{owner.__name__} has no {self.name}(): the backend offers no {self.needs} for it"
            )
        return self.func.__get__(obj, owner)


def capability(needs: str) -> Callable[[F], F]:
    """Declare a method as given by a capability of the object's kind."""

    def wrap(func: F) -> F:
        return _Capability(needs, func)  # type: ignore[return-value]

    return wrap


def capabilities_of(cls: type) -> frozenset[str]:
    """What the kind of a resource class declares it can do (nothing when undeclared)."""
    kind = protocol.kind_of_resource(cls.__module__, cls.__qualname__)
    return kind.capabilities if kind else frozenset()


_ADAPTERS: dict[type, pydantic.TypeAdapter[Any]] = {}


class _State:
    """What an instance knows besides its fields (kept in a slot: cheaper than pydantic's
    private attributes, which matters when listing 100,000 objects).

    ``raw`` is the server's answer for this object. Objects of a listed page keep only a
    reference to the page's bytes and their index, and parse it when ``raw`` is asked for
    (to see what changed in place): a page's bytes are smaller than its parsed dicts.
    """

    __slots__ = ("_raw", "client", "deleted", "dirty", "expanded", "source")

    def __init__(
        self,
        client: Context | None = None,
        raw: Mapping[str, Any] | None = None,
        expanded: dict[str, Resource] | None = None,
        source: tuple[PageSource, int] | None = None,
    ) -> None:
        self.client = client
        self._raw = raw
        self.source = source
        self.expanded: dict[str, Resource] = expanded if expanded is not None else {}
        self.dirty: frozenset[str] = frozenset()
        self.deleted = False

    @property
    def raw(self) -> Mapping[str, Any]:
        if self._raw is None:
            self._raw = self.source[0].item(self.source[1]) if self.source else {}
        return self._raw

    @raw.setter
    def raw(self, value: Mapping[str, Any]) -> None:
        self._raw = value
        self.source = None

    def copy(self) -> _State:
        clone = _State(self.client, dict(self.raw), dict(self.expanded))
        clone.dirty = self.dirty
        clone.deleted = self.deleted
        return clone

    def __getstate__(self) -> dict[str, Any]:
        return {
            "client": self.client,
            "raw": self.raw,
            "expanded": self.expanded,
            "dirty": self.dirty,
            "deleted": self.deleted,
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["client"], state["raw"], state["expanded"])  # type: ignore[misc]
        self.dirty = state["dirty"]
        self.deleted = state["deleted"]


class Resource(BaseModel):
    """Base of every resource: binding to a client, change tracking, equality by id.

    What an object can do on the server comes from the capabilities its kind declares
    in [`synapse.protocol`][synapse.protocol]: ``refresh()`` (get), ``save()`` and
    ``update()`` (update), ``delete()`` (delete), each going through the kind's manager.
    A kind the backend cannot delete has no ``delete``. Assignments are validated; assigning a
    read-only field raises [`ReadOnlyFieldError`][synapse.errors.ReadOnlyFieldError].
    """

    model_config = ConfigDict(
        extra="allow",
        validate_assignment=True,
        populate_by_name=True,
        ignored_types=(Relation, _Capability),
        protected_namespaces=(),
        # Validators are built on first use, not at import: `import synapse` stays
        # cheap for a notebook or a CLI that uses a few kinds.
        defer_build=True,
    )

    #: Fields the server computes; assigning them raises.
    _read_only: ClassVar[frozenset[str]] = frozenset(
        {"id", "created", "modified", "created_at", "updated_at"}
    )
    #: Fields the server accepts on update; None means every field not read-only.
    _writable: ClassVar[frozenset[str] | None] = None
    #: Fields shown by ``repr``.
    _repr_fields: ClassVar[tuple[str, ...]] = ("id",)
    #: The field that identifies an object (``pgh_id`` for ground-truth events).
    _pk_field: ClassVar[str] = "id"

    DoesNotExist: ClassVar[type[NotFoundError]] = NotFoundError
    MultipleObjectsReturned: ClassVar[type[MultipleObjectsReturned]] = MultipleObjectsReturned

    __slots__ = ("_state",)
    if TYPE_CHECKING:  # a plain slot, not a pydantic private attribute (those cost per object)
        _state: _State

    id: int | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__name__
        # Named where pickle finds them (module + qualified name): errors cross process
        # pools, and a pool must be able to rebuild ``Task.DoesNotExist``.
        where = {"__module__": cls.__module__}
        cls.DoesNotExist = type(
            "DoesNotExist",
            (NotFoundError,),
            {**where, "__qualname__": f"{name}.DoesNotExist"},
        )
        cls.MultipleObjectsReturned = type(
            "MultipleObjectsReturned",
            (MultipleObjectsReturned,),
            {**where, "__qualname__": f"{name}.MultipleObjectsReturned"},
        )

    # ------------------------------------------------------------------ building

    @classmethod
    def from_api(cls: type[R], client: Context | None, data: Mapping[str, Any]) -> R:
        """An instance bound to ``client`` from an answer of the server."""
        expanded: dict[str, Resource] = {}
        values = data
        for name, (wire, relation) in cls._relations().items():
            value = data.get(wire)
            if isinstance(value, Mapping):
                if values is data:
                    values = dict(data)
                expanded[name] = relation.target.from_api(client, value)
                values[wire] = value.get("id")  # type: ignore[index]
        try:
            obj = cls.model_validate(values)
        except pydantic.ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)
            )  # without the values, which may hold credentials
            raise ClientError(f"unexpected {cls.__name__} from the server: {problems}") from None
        object.__setattr__(obj, "_state", _State(client, values, expanded))
        return obj

    @classmethod
    def from_api_many(
        cls: type[R], client: Context | None, items: Sequence[Mapping[str, Any]]
    ) -> list[R]:
        """Instances for a page of answers: one validation call for the whole page."""
        adapter = _ADAPTERS.get(cls)
        if adapter is None:
            adapter = _ADAPTERS[cls] = pydantic.TypeAdapter(list[cls])  # type: ignore[valid-type]
        try:
            objects: list[R] = adapter.validate_python(items)
        except pydantic.ValidationError:
            return [cls.from_api(client, item) for item in items]  # raises the clear error
        for obj, item in zip(objects, items, strict=True):
            object.__setattr__(obj, "_state", _State(client, item, {}))
        return objects

    @classmethod
    def _relations(cls) -> dict[str, tuple[str, Relation[Any]]]:
        """The class's relations by attribute name, with the wire name of their id field."""
        found = _RELATIONS.get(cls)
        if found is None:
            found = {}
            for klass in reversed(cls.__mro__):
                for name, value in vars(klass).items():
                    if isinstance(value, Relation):
                        field = cls.model_fields[value.id_field]
                        found[name] = (field.alias or value.id_field, value)
            _RELATIONS[cls] = found
        return found

    @property
    def _meta(self) -> _State:
        try:
            found: Any = self._state
        except AttributeError:  # built directly, not loaded through a client
            found = None
        if isinstance(found, _State):
            return found
        # A listed page binds (client, page bytes, index); objects built directly, nothing.
        listed = type(found) is tuple
        state = _State(found[0], source=(found[1], found[2])) if listed else _State()
        object.__setattr__(self, "_state", state)
        return state

    @property
    def _client(self) -> Context | None:
        return self._meta.client

    @property
    def _expanded(self) -> dict[str, Resource]:
        return self._meta.expanded

    # ------------------------------------------------------------------ identity

    @property
    def pk(self) -> Any:
        """The value that identifies this object on the server."""
        return getattr(self, self._pk_field, None)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Resource):
            return NotImplemented
        if self.pk is None or other.pk is None:
            return self is other
        return type(self) is type(other) and self.pk == other.pk

    def __hash__(self) -> int:
        if self.pk is None:
            return id(self)
        return hash((type(self), self.pk))

    def __getattr__(self, name: str) -> Any:
        # Only reached when normal lookup fails: a field missing from the object was
        # left out by only() (the listing removes what it did not fetch).
        if name in type(self).model_fields:
            raise DeferredFieldError(
                f"{type(self).__name__}.{name} was not fetched: the query that listed it "
                "used only(...); name the field in only(), or refresh() the object"
            )
        return super().__getattr__(name)  # type: ignore[misc]

    def __repr__(self) -> str:
        parts = []
        for name in self._repr_fields:
            value = getattr(self, name, None)
            if isinstance(value, Enum):
                value = value.value
            if value is not None:
                parts.append(f"{name}={value!r}")
        flags = " (changed)" if self.changed_fields else ""
        flags += " (deleted)" if self._meta.deleted else ""
        return f"<{type(self).__name__} {' '.join(parts)}{flags}>"

    __str__ = __repr__

    def _repr_html_(self) -> str:
        rows = []
        for name, field in type(self).model_fields.items():
            if field.repr is False or name not in self.__dict__:  # not fetched (only())
                continue
            value = html_cell(getattr(self, name))
            rows.append(f"<tr><th style='text-align:left'>{name}</th><td>{value}</td></tr>")
        title = html.escape(repr(self))
        return f"<table><caption>{title}</caption>{''.join(rows)}</table>"

    # ------------------------------------------------------------------ change tracking

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            super().__setattr__(name, value)
            return
        relation = getattr(type(self), name, None)
        if isinstance(relation, Relation):
            relation.__set__(self, value)
            return
        fields = type(self).model_fields
        extra = self.__pydantic_extra__ or {}
        if name not in fields and name not in extra:
            known = [*fields, *extra, *self._relations()]
            close = difflib.get_close_matches(name, known, n=2)
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise AttributeError(
                f"{type(self).__name__} has no field {name!r}{hint} "
                "(nor did the server send one: it would store a stray key)"
            )
        if name in self._read_only or (
            self._writable is not None
            and name in type(self).model_fields
            and name not in self._writable
        ):
            raise ReadOnlyFieldError(f"{type(self).__name__}.{name} is read-only")
        try:
            super().__setattr__(name, value)
        except pydantic.ValidationError as exc:
            raise InvalidInputError(f"invalid {type(self).__name__}.{name}: {exc}") from exc
        state = self._meta
        state.dirty = state.dirty | {name}

    @property
    def changed_fields(self) -> set[str]:
        """Fields whose value differs from what the server sent: assigned a new value, or
        changed in place. Assigning the same value back is no change; nested models are
        compared by their wire form."""
        state = self._meta
        raw = state.raw
        changed = set()
        related_ids = _related_id_fields(type(self))
        for name, field in type(self).model_fields.items():
            if name in self._read_only:
                continue
            wire = field.alias or name
            value = raw.get(wire)
            if name in related_ids:
                value = _id_of_related(value)  # an expanded relation: compare its id
            if name not in state.dirty and not isinstance(value, (dict, list)):
                continue  # a scalar can only change by assignment
            if wire not in raw and name in state.dirty:
                changed.add(name)  # a field the server did not send, now set
            elif getattr(self, name) != value and self._wire_value(name, wire) != value:
                changed.add(name)
        return changed

    def _wire_value(self, name: str, wire: str) -> Any:
        """One field as it would go on the wire (nested models as plain JSON)."""
        dumped = self.model_dump(mode="json", by_alias=True, include={name}, exclude_unset=True)
        return dumped.get(wire)

    def _wire_changes(self) -> dict[str, Any]:
        dumped = self.model_dump(mode="json", by_alias=True, include=self.changed_fields)
        return dumped

    def _wire_body(self) -> dict[str, Any]:
        """Every writable field, as a full update (PUT) sends it."""
        exclude = set(self._read_only)
        if self._writable is not None:
            exclude |= set(type(self).model_fields) - set(self._writable)
        return self.model_dump(mode="json", by_alias=True, exclude=exclude, exclude_none=True)

    # ------------------------------------------------------------------ server calls

    def _bound_client(self) -> Context:
        if self._client is None:
            raise InvalidInputError(
                f"this {type(self).__name__} is not bound to a client; "
                "load or create it through a client's manager"
            )
        return self._client

    def _manager(self) -> Any:
        """The manager of this kind on the client that loaded the object."""
        return self._bound_client().manager_for(type(self))

    def _amanager(self, verb: str) -> Any:
        """The manager of this kind, for an awaited call: a clear error when the object
        was loaded by a sync ``Client`` (whose managers have no ``a`` methods)."""
        awaiting(self._bound_client(), verb)
        return self._manager()

    def _saved_pk(self) -> Any:
        if self.pk is None:
            raise InvalidInputError(f"this {type(self).__name__} has no id yet; save it first")
        return self.pk

    def _load(self, data: Mapping[str, Any]) -> None:
        """Take the server's answer as the new clean state, in place."""
        fresh = type(self).from_api(self._client, data)
        for name in type(self).model_fields:
            self.__dict__[name] = fresh.__dict__[name]
        object.__setattr__(self, "__pydantic_fields_set__", set(fresh.model_fields_set))
        if fresh.__pydantic_extra__ is not None:
            object.__setattr__(self, "__pydantic_extra__", dict(fresh.__pydantic_extra__))
        state = self._meta
        state.raw = fresh._meta.raw
        state.expanded = fresh._meta.expanded
        state.dirty = frozenset()

    # ------------------------------------------------------------------ capabilities

    @capability("get")
    def refresh(self) -> None:
        """Reload from the server, dropping unsaved changes."""
        self._load(self._manager().fetch(self._saved_pk()))

    @capability("update")
    def save(self) -> None:
        """Send the changed fields (PATCH; a full PUT for kinds the backend updates whole)
        and reload from the answer; a new object (no id) is created. Nothing is sent when
        nothing changed."""
        self._manager().save(self)

    @capability("update")
    def update(self, **fields: Any) -> None:
        """Set fields and save them in one request."""
        self._set_fields(fields)
        self.save()

    def _set_fields(self, fields: Mapping[str, Any]) -> None:
        """What `update` and `aupdate` set before saving: all or nothing. A name the
        kind lacks, a value refused, or a whole-object update of an object that only()
        trimmed leaves the object as it was (no edit left to a later save)."""
        for name in fields:
            if name not in type(self).model_fields and not isinstance(
                getattr(type(self), name, None), Relation
            ):
                raise InvalidInputError(f"{type(self).__name__} has no field {name!r}")
        state = self._meta
        before = (dict(self.__dict__), state.dirty, dict(state.expanded))
        try:
            for name, value in fields.items():
                setattr(self, name, value)
            self._manager()._check_whole(self)
        except Exception:
            self.__dict__.clear()
            self.__dict__.update(before[0])
            state.dirty, state.expanded = before[1], before[2]
            raise

    @capability("delete")
    def delete(self) -> None:
        """Delete on the server; the object cannot be saved afterwards."""
        self._manager().delete(self._saved_pk())
        self._meta.deleted = True

    @capability("get")
    async def arefresh(self) -> None:
        """`refresh()` awaited (an object loaded by an ``AsyncClient``)."""
        self._load(await self._amanager("arefresh").afetch(self._saved_pk()))

    @capability("update")
    async def asave(self) -> None:
        """`save()` awaited (an object loaded by an ``AsyncClient``)."""
        await self._amanager("asave").asave(self)

    @capability("update")
    async def aupdate(self, **fields: Any) -> None:
        """`update()` awaited (an object loaded by an ``AsyncClient``)."""
        manager = self._amanager("aupdate")  # checked before any field is set
        self._set_fields(fields)
        await manager.asave(self)

    @overload
    async def arelated(self, relation: Relation[R]) -> R | None: ...
    @overload
    async def arelated(self, relation: str) -> Any: ...
    async def arelated(self, relation: Relation[Any] | str) -> Any:
        """A related object loaded with ``await`` (an object loaded by an ``AsyncClient``,
        whose attribute ``task.project`` cannot wait): ``await task.arelated(Task.project)``
        (typed) or ``await task.arelated("project")``. Loaded once, cached as the
        attribute's; None when the id is."""
        if isinstance(relation, str):
            relations = type(self)._relations()
            found = relations.get(relation)
            if found is None:
                raise InvalidInputError(
                    f"{type(self).__name__} has no relation {relation!r}; it has "
                    f"{', '.join(map(repr, relations)) or 'none'}"
                )
            relation = found[1]
        elif relation not in (held for _, held in type(self)._relations().values()):
            raise InvalidInputError(f"that relation is not one of {type(self).__name__}'s")
        pk, known = relation.known(self)
        if pk is None or known is not None:
            return known
        load = getattr(self._bound_client(), "arelated", None)
        if load is None:
            raise InvalidInputError(
                f"arelated() needs a {type(self).__name__} loaded by an AsyncClient; this one "
                f"was loaded by a sync client: read its attribute ({relation.name})"
            )
        loaded = copy.copy(await load(relation.target, pk))
        self._expanded[relation.name] = loaded
        return loaded

    @capability("delete")
    async def adelete(self) -> None:
        """`delete()` awaited (an object loaded by an ``AsyncClient``)."""
        await self._amanager("adelete").adelete(self._saved_pk())
        self._meta.deleted = True

    # ------------------------------------------------------------------ copying

    def __deepcopy__(self: R, memo: dict[int, Any] | None = None) -> R:
        memo = {} if memo is None else memo
        memo[id(self._client)] = self._client  # a copy stays bound to the same client
        clone = super().__deepcopy__(memo)
        state = copy.deepcopy(self._meta, memo)
        object.__setattr__(clone, "_state", state)
        return clone

    def __copy__(self: R) -> R:
        clone = super().__copy__()
        object.__setattr__(clone, "_state", self._meta.copy())
        return clone

    def __getstate__(self) -> dict[Any, Any]:
        state = super().__getstate__()
        state["_state"] = self._meta
        return state

    def __setstate__(self, state: dict[Any, Any]) -> None:
        meta = state.pop("_state", None) or _State()
        super().__setstate__(state)
        object.__setattr__(self, "_state", meta)
