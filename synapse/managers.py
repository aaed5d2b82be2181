"""Managers: the entry point to each kind of resource on a client (``client.tasks``).

A manager is composed of the capabilities its endpoints support:
[`GetMixin`][synapse.managers.GetMixin]
(``get``), [`ListMixin`][synapse.managers.ListMixin] (``filter``, ``all``, ``count``...),
[`UpdateMixin`][synapse.managers.UpdateMixin]
(``save``), [`DeleteMixin`][synapse.managers.DeleteMixin] (``delete``),
[`CreateMixin`][synapse.managers.CreateMixin]
(``create``, ``bulk_create``, ``get_or_create``). A kind without a list endpoint has no
``filter()``; calling it is an ``AttributeError`` rather than a request that cannot work.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar

import synapse.protocol as protocol
from synapse.encoding import find_set, set_for_dict
from synapse.errors import (
    ClientError,
    DeferredFieldError,
    InvalidInputError,
    NotFoundError,
    UnknownFieldWarning,
)
from synapse.executors import check_count
from synapse.filters import FilterSet
from synapse.frames import field_names, refuse_near_miss, wire_column
from synapse.pagination import StableWalk
from synapse.query import QuerySet
from synapse.steps import Send, drive
from synapse.transport import Call
from synapse.urls import PathParam, build_path

if TYPE_CHECKING:
    from synapse.context import Context
    from synapse.partitions import Partition, PartitionKind
    from synapse.resources.base import Resource
    from synapse.values import ValuesQuerySet

__all__ = [
    "KINDS",
    "BulkItem",
    "BulkReport",
    "CreateMixin",
    "DeleteMixin",
    "GetMixin",
    "ListMixin",
    "Manager",
    "UpdateMixin",
    "batched",
    "bulk_in_batches",
    "manager_class",
    "rows_of",
    "settle",
]

T = TypeVar("T", bound="Resource")


#: Every declared kind: the client's attribute name -> its manager class.
KINDS: dict[str, type[Manager[Any]]] = {}


class Manager(Generic[T]):
    """The object API of one kind: its declaration in [`synapse.protocol`][synapse.protocol]
    (paths, filters, orderings, expansions, capabilities) made into methods.

    A subclass names its kind (``name = "tasks"``) and is registered in `KINDS`; every
    other fact is read from the declaration, and the capability mixins it is made of
    are checked against the declared capabilities when the class is created. A kind
    with no behaviour of its own gets a manager composed from its capabilities
    ([`manager_class`][synapse.managers.manager_class]).
    """

    #: The client's attribute for this kind (``"tasks"``): declaring it registers the kind.
    name: ClassVar[str] = ""
    #: The kind's declaration.
    kind: ClassVar[protocol.Kind]
    resource: type[T]
    #: Collection path for create and details, e.g. ``"tasks/"``.
    path: str = ""
    #: Path listed by ``filter()``/``all()``, when it differs (``"sdk/tasks/"``).
    _list_path_override: str | None = None
    filters: FilterSet = FilterSet()
    #: Fields the list can be ordered by (``order_by("-created")``), checked before sending.
    orderings: frozenset[str] = frozenset({"id"})
    #: Relations always expanded when listing or getting (``file_specifications``).
    default_expand: tuple[str, ...] = ()
    #: Query parameters always sent when getting one object (``with_configuration``).
    _detail_params: Mapping[str, Any] = {}
    #: The list endpoint offers the backend's cursor pagination (``pagination=cursor``).
    cursor_pagination: bool = False
    #: The backend updates this kind whole (PUT) rather than by changed fields (PATCH).
    full_update: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" in cls.__dict__ and cls.name:
            _bind(cls, protocol.KINDS[cls.name])
            KINDS[cls.name] = cls

    def __init__(self, client: Context) -> None:
        self.client = client

    @property
    def list_path(self) -> str:
        return self._list_path_override or self.path

    def detail_path(self, pk: PathParam) -> str:
        """``<path><pk>/``, with the id checked to be one path segment."""
        return build_path(f"{self.path}{{}}/", pk)

    def detail_query(self) -> dict[str, Any]:
        """What every request about one object asks for, so that an answer to a GET, a
        PATCH or a PUT has the same shape (``expand``, ``with_configuration``)."""
        query = dict(self._detail_params)
        if self.default_expand:
            query["expand"] = list(self.default_expand)
        return query

    def _build(self, data: Any) -> T:
        if not isinstance(data, Mapping):
            raise ClientError(f"expected a {self.resource.__name__} object, got {data!r:.100}")
        return self.resource.from_api(self.client, data)

    def _built_rows(self, steps: Generator[Any, Any, Any]) -> Generator[Any, Any, list[T]]:
        """The objects of a batch answer (one object, a list, or ``{"results": [...]}``)
        that ``steps`` return."""
        return [self._build(row) for row in rows_of((yield from steps))]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of {self.resource.__name__}>"


class GetMixin(Manager[T]):
    """``get(pk)``: one object by id."""

    def get(self, pk: PathParam | None = None, /, **filters: Any) -> T:
        """The object with this id, or the one object matching ``filters``.

        Raises ``<Resource>.DoesNotExist`` (a [`NotFoundError`][synapse.errors.NotFoundError]).
        """
        pk = self._lookup("get", pk, filters)
        if pk is None:
            found: T = self.all().get(**filters)  # type: ignore[attr-defined]
            return found
        return drive(self.client.transport, self._get_steps(pk))

    def _lookup(self, verb: str, pk: PathParam | None, filters: dict[str, Any]) -> Any:
        """The id ``get``/``aget`` look up, or None to look up by ``filters`` (checked
        now). ``get(id=5)`` and Django's ``get(pk=5)`` are ``get(5)``."""
        keys = (self.resource._pk_field, "pk")
        if pk is None and len(filters) == 1 and next(iter(filters)) in keys:
            pk = filters.popitem()[1]
        if pk is None:
            if not filters:
                raise InvalidInputError(f"{verb}() needs an id or filters")
            if not isinstance(self, ListMixin):
                raise InvalidInputError(f"{self.resource.__name__} cannot be looked up by filters")
        elif filters:
            raise InvalidInputError(f"{verb}() takes an id or filters, not both")
        return pk

    def _get_steps(self, pk: PathParam) -> Generator[Send, Any, T]:
        """``get(pk)`` as steps for either client's driver (the id checked now)."""
        call = self._detail_call(pk)
        self.client.forget(self.resource, pk)  # relations loaded from now on see this state
        return self._got(pk, call)

    def _got(self, pk: PathParam, call: Call) -> Generator[Send, Any, T]:
        try:
            data = yield Send(call)
        except NotFoundError as exc:
            if not isinstance(exc.response, dict):
                raise  # not the API's "no such object": the path itself is unknown
            raise self.resource.DoesNotExist(
                f"{self.resource.__name__} {pk!r} does not exist",
                status_code=exc.status_code,
                response=exc.response,
                method=exc.method,
                url=exc.url,
                request_id=exc.request_id,
            ) from exc
        return self._build(data)

    def _detail_call(self, pk: PathParam, params: Mapping[str, Any] | None = None) -> Call:
        """The GET of one object (with this kind's detail parameters and expansions, and
        ``params``); the id checked now."""
        query = {**self.detail_query(), **(params or {})}
        return Call("GET", self.detail_path(pk), params=query)

    def fetch(self, pk: PathParam, params: Mapping[str, Any] | None = None) -> Any:
        """The object's JSON as the server sends it (with this kind's detail parameters
        and expansions, and ``params``)."""
        return self.client.transport.answer(self._detail_call(pk, params))


class UpdateMixin(Manager[T]):
    """``save(obj)``: the changed fields as a PATCH, or the whole object as a PUT for
    kinds the backend only updates whole (``full_update``)."""

    def save(self, obj: T) -> None:
        """Send ``obj``'s changes and reload it from the answer; create it if it is new."""
        if obj._meta.deleted:
            raise InvalidInputError(f"this {type(obj).__name__} was deleted; it cannot be saved")
        if obj.pk is None:
            if not isinstance(self, CreateMixin):
                raise InvalidInputError(f"{type(obj).__name__} objects cannot be created")
            created = self.create(**obj._wire_body())
            obj._load(created._meta.raw)
            return
        steps = self._update_steps(obj)
        if steps is not None:
            drive(self.client.transport, steps)

    def _update_steps(self, obj: T) -> Generator[Send, Any, None] | None:
        """The update of a saved object as steps for either client's driver (checked
        now), or None when there is nothing to send."""
        if self.full_update:
            if not obj.changed_fields:
                return None  # an unchanged object: a PUT would only risk overwriting others
            self._check_whole(obj)
            body = obj._wire_body()
        else:
            body = obj._wire_changes()
            if not body:
                return None
        sent = {name: obj.__dict__.get(name) for name in obj._meta.dirty}
        return self._updated(obj, self._update_call(obj.pk, body), sent)

    def _check_whole(self, obj: T) -> None:
        """Refuse to update whole (PUT) an object that only() trimmed: what it left
        out would be sent as missing."""
        missing = [n for n in type(obj).model_fields if n not in obj.__dict__]
        if self.full_update and missing:
            raise DeferredFieldError(
                f"{type(obj).__name__} is updated whole (PUT), and {', '.join(missing)} "
                "were not fetched (only()): refresh() it, or list it without only()"
            )

    def _updated(self, obj: T, call: Call, sent: Mapping[str, Any]) -> Generator[Send, Any, None]:
        answer = yield Send(call)
        self.client.forget(self.resource, obj.pk)
        # Fields set again while the request was in flight (another task, another
        # thread) are not in the answer: they stay, still to be saved.
        later = {
            name: obj.__dict__[name]
            for name in obj._meta.dirty
            if name in obj.__dict__ and (name not in sent or obj.__dict__[name] is not sent[name])
        }
        if isinstance(answer, Mapping):
            obj._load(answer)
        obj.__dict__.update(later)
        obj._meta.dirty = frozenset(later)

    def _update_call(self, pk: PathParam, body: Mapping[str, Any]) -> Call:
        """The PATCH (or PUT) of ``body`` to the object."""
        method = "PUT" if self.full_update else "PATCH"
        return Call(method, self.detail_path(pk), params=self.detail_query(), data=dict(body))

    def _send_update(self, pk: PathParam, body: Mapping[str, Any]) -> Any:
        """PATCH (or PUT) ``body`` to the object and return the server's answer."""
        return self.client.transport.answer(self._update_call(pk, body))


class DeleteMixin(Manager[T]):
    """``delete(pk)``."""

    def delete(self, pk: PathParam) -> None:
        """Delete the object with this id."""
        self.client.transport.request("DELETE", self.detail_path(pk))
        self.client.forget(self.resource, pk)


class ListMixin(Manager[T]):
    """Lazy listing through [`QuerySet`][synapse.query.QuerySet]."""

    def stable_walk(self, ordering: tuple[str, ...] = ()) -> StableWalk:
        """How this kind is listed stably under concurrent writes, for a query ordered by
        ``ordering``: the backend's cursor where it offers one (newest first, as it
        requires), else keyset pagination on the primary key; a clear error when the
        endpoint offers neither or the ordering is not by the key."""
        key = self.resource._pk_field
        name = self.resource.__name__
        if len(ordering) > 1 or (ordering and ordering[0].lstrip("-") not in ("id", key)):
            raise InvalidInputError(
                f"a stable iteration is ordered by {key}; {name} is ordered by {ordering}"
            )
        descending = bool(ordering) and ordering[0].startswith("-")
        if self.cursor_pagination and (not ordering or descending):
            return StableWalk("cursor", key, descending=True)
        if f"{key}__gt" in self.filters.allowed() or f"{key}__lt" in self.filters.allowed():
            return StableWalk("keyset", key, descending=descending)
        raise InvalidInputError(
            f"{name} lists offer no stable iteration: no cursor pagination and no {key}__gt filter"
        )

    def all(self) -> QuerySet[T]:
        """Every object, lazily, page by page."""
        return QuerySet(self)

    def _fetch_page(
        self,
        params: Mapping[str, Any] | None = None,
        *,
        timeout: Any = None,
        path: str | None = None,
    ) -> Any:
        """One page of the list as the server sends it, for exactly these ``params``
        (``path``: a variant of the list, such as ``sdk/tasks/data/``)."""
        return self.client.transport.request(
            "GET", path or self.list_path, params=params, timeout=timeout
        )

    def filter(self, **filters: Any) -> QuerySet[T]:
        """Objects matching ``filters`` (checked against the backend's filters first)."""
        return self.all().filter(**filters)

    def order_by(self, *fields: str) -> QuerySet[T]:
        """All objects in this order (``-field`` for descending)."""
        return self.all().order_by(*fields)

    def expand(self, *relations: str) -> QuerySet[T]:
        """All objects, with these relations nested in the answer."""
        return self.all().expand(*relations)

    def only(self, *fields: str) -> QuerySet[T]:
        """All objects, with only these fields."""
        return self.all().only(*fields)

    def first(self) -> T | None:
        """The first object, or None."""
        return self.all().first()

    def exists(self) -> bool:
        """Whether there is any object."""
        return self.all().exists()

    def count(self) -> int:
        """How many objects there are (one small request)."""
        return self.all().count()

    def iterator(self) -> Iterator[T]:
        """Stream every object without caching."""
        return self.all().iterator()

    # The other query verbs, on the manager as on its QuerySet (Django's
    # ``Manager.from_queryset``): ``client.tasks.exclude(...)`` needs no ``.all()``.

    def none(self) -> QuerySet[T]:
        """An empty query: nothing is ever sent."""
        return self.all().none()

    def exclude(self, **filters: Any) -> QuerySet[T]:
        """All objects but those matching ``filters`` (by id)."""
        return self.all().exclude(**filters)

    def raw_filter(self, **params: Any) -> QuerySet[T]:
        """Filters sent as given, unknown names with a warning (see `QuerySet.raw_filter`)."""
        return self.all().raw_filter(**params)

    def page_size(self, size: int) -> QuerySet[T]:
        """All objects, fetched ``size`` per request."""
        return self.all().page_size(size)

    def last(self) -> T | None:
        """The last object (by id), or None."""
        return self.all().last()

    def in_bulk(self, ids: Iterable[Any]) -> dict[Any, T]:
        """The objects with these ids, by id."""
        return self.all().in_bulk(ids)

    def values(self, *fields: str) -> ValuesQuerySet:
        """Every object as a plain dict of wire values (a lazy query)."""
        return self.all().values(*fields)

    def values_list(self, *fields: str, flat: bool = False) -> ValuesQuerySet:
        """Every object as a tuple of wire values, or one value with ``flat=True``."""
        return self.all().values_list(*fields, flat=flat)

    def to_pandas(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> Any:
        """Every object as a DataFrame row (see `QuerySet.to_pandas`)."""
        return self.all().to_pandas(columns, flatten=flatten, progress=progress)

    def to_arrow(
        self,
        columns: Sequence[str] | None = None,
        *,
        flatten: bool = False,
        progress: bool | None = None,
    ) -> Any:
        """Every object as an Arrow table row (see `QuerySet.to_arrow`)."""
        return self.all().to_arrow(columns, flatten=flatten, progress=progress)

    def partitions(
        self,
        n: int | None = None,
        *,
        pages_per_partition: int | None = None,
        by: PartitionKind | None = None,
    ) -> list[Partition]:
        """Picklable pieces of the whole list (see `QuerySet.partitions`)."""
        return self.all().partitions(n, pages_per_partition=pages_per_partition, by=by)

    def to_dask(
        self,
        npartitions: int | None = None,
        *,
        columns: Sequence[str] | None = None,
        flatten: bool = False,
    ) -> Any:
        """A ``dask.dataframe`` over the whole list (see `QuerySet.to_dask`)."""
        return self.all().to_dask(npartitions, columns=columns, flatten=flatten)


@dataclass
class BulkItem(Generic[T]):
    """What happened to one item of a bulk call."""

    index: int
    item: Mapping[str, Any]
    result: T | None = None
    #: What stopped this item: a `ClientError`, or any other exception (a file gone).
    error: Exception | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass
class BulkReport(Generic[T]):
    """Per-item results of a bulk call; a failed item never loses the others."""

    items: list[BulkItem[T]] = field(default_factory=list)

    @property
    def created(self) -> list[T]:
        return [i.result for i in self.items if i.result is not None]

    @property
    def failed(self) -> list[BulkItem[T]]:
        return [i for i in self.items if i.error is not None]

    @property
    def ok(self) -> bool:
        return not self.failed

    def __repr__(self) -> str:
        return f"<BulkReport {len(self.created)} created, {len(self.failed)} failed>"


class CreateMixin(Manager[T]):
    """``create``, ``bulk_create`` and ``get_or_create``."""

    def _body(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Check ``fields`` against the resource model and give the wire body.

        Related objects may be given as objects (``project=project``): their ids are sent.
        """
        import pydantic

        from synapse.resources.base import Resource

        self._check_field_names(fields)
        values = {k: v.pk if isinstance(v, Resource) else v for k, v in fields.items()}
        misplaced = find_set(values)
        if misplaced:
            raise set_for_dict(f"{self.resource.__name__} field {misplaced!r}")
        try:
            draft = self.resource.model_validate(values)
        except pydantic.ValidationError as exc:
            raise InvalidInputError(f"invalid {self.resource.__name__}: {exc}") from exc
        return draft.model_dump(mode="json", by_alias=True, exclude_unset=True)

    def create(self, **fields: Any) -> T:
        """Create one object and return it as the server answered.

        A keyword the kind does not declare is sent as given, with an
        [`UnknownFieldWarning`][synapse.errors.UnknownFieldWarning] (the backend may know
        fields this SDK does not), unless it is a near miss of a declared one: then it is
        refused before sending (``titel=`` would be dropped by the server, and the object
        made without its title).
        """
        return self._build(self._create_json(self._body(fields)))

    def _checked_names(self, fields: Mapping[str, Any], *, warn: bool = True) -> dict[str, Any]:
        """``fields`` checked as `create` checks them (a near miss refused; ``warn``:
        the others warned of, unless the body is made by `_body` after), each named by
        its wire name (``data_unit_id=`` is sent as ``data_unit``): for a kind whose own
        create checks its fields by hand."""
        self._check_field_names(fields, warn=warn)
        return {wire_column(self.resource, name): value for name, value in fields.items()}

    def _check_field_names(self, fields: Mapping[str, Any], *, warn: bool = True) -> None:
        declared = self.resource.model_fields
        wire = protocol.KINDS[self.name].fields if self.name in protocol.KINDS else {}
        known = field_names(self.resource) | {*wire}
        unknown = [name for name in fields if name not in known]
        for name in unknown:
            refuse_near_miss(self.resource, name, wire)
        if unknown and warn:
            warnings.warn(
                f"{self.resource.__name__}: sending {unknown} as given; the SDK declares "
                f"{', '.join(sorted(declared))}",
                UnknownFieldWarning,
                stacklevel=4,
            )

    def _create_call(self, data: Any = None, **options: Any) -> Call:
        """The POST that creates: ``data`` as given (one object or a list; the form
        fields beside ``files=``), with the `Call` options given."""
        return Call("POST", self.path, data=data, **options)

    def _create_json(self, body: Any) -> Any:
        """POST ``body`` as given (one object or a list) and return the answer as sent."""
        return self.client.transport.answer(self._create_call(body))

    def bulk_create(
        self, items: Iterable[Mapping[str, Any]], *, batch_size: int = 100
    ) -> BulkReport[T]:
        """Create many objects; each item's outcome is in the report."""
        check_count("batch_size", batch_size)
        report: BulkReport[T] = BulkReport()
        for index, item in enumerate(items):
            entry: BulkItem[T] = BulkItem(index, item)
            try:
                entry.result = self.create(**item)
            except ClientError as exc:
                entry.error = exc
            report.items.append(entry)
        return report

    def get_or_create(
        self, defaults: Mapping[str, Any] | None = None, **lookup: Any
    ) -> tuple[T, bool]:
        """The object matching ``lookup``, or a new one made of ``lookup`` and ``defaults``."""
        if not isinstance(self, ListMixin):
            raise InvalidInputError(f"{self.resource.__name__} cannot be looked up by filters")
        try:
            found: T = (
                self.get(**lookup) if isinstance(self, GetMixin) else self.all().get(**lookup)
            )
            return found, False
        except self.resource.DoesNotExist:
            return self.create(**{**lookup, **(defaults or {})}), True


E = TypeVar("E")
V = TypeVar("V")


def settle(
    entries: Sequence[E],
    call: Callable[[Sequence[int]], Generator[Any, Any, Sequence[V]]],
    assign: Callable[[E, V], None],
) -> Generator[Any, Any, None]:
    """Send one batch request for ``entries``: each gets its result, or its error. As
    steps, for either client's driver (`synapse.steps.drive` or ``adrive``).

    ``call(indexes)`` gives the steps that send the entries at those indexes and return
    their results. When the server rejects the whole batch's content (400/422: nothing
    was applied), each entry is sent alone, so that the valid ones are created and each
    invalid one gets its own error. Any other failure (the batch may have been applied)
    is every entry's error, never resent. An answer with fewer objects than were sent
    marks the rest as failed, never as done.
    """
    from synapse.errors import InvalidInputError, ValidationError

    try:
        results = yield from call(range(len(entries)))
    except (ValidationError, InvalidInputError) as exc:  # refused: nothing was applied
        if len(entries) == 1:
            setattr(entries[0], "error", exc)  # noqa: B010 - entries of any report type
            return
        for index, entry in enumerate(entries):
            yield from settle([entry], lambda _, i=index: call([i]), assign)  # type: ignore[misc]
        return
    except Exception as exc:  # every entry's outcome, never a lost report
        for entry in entries:
            setattr(entry, "error", exc)  # noqa: B010 - entries of any report type
        return
    for entry, result in zip(entries, results, strict=False):
        assign(entry, result)
    for entry in entries[len(results) :]:
        setattr(entry, "error", ClientError("the server answered fewer objects than were sent"))  # noqa: B010


def bulk_in_batches(
    items: Sequence[tuple[int, Mapping[str, Any]]],
    batch_size: int,
    send: Callable[[list[Mapping[str, Any]]], Generator[Any, Any, Sequence[T]]],
) -> Generator[Any, Any, list[BulkItem[T]]]:
    """``(index, item)`` pairs sent ``batch_size`` at a time, one request per batch
    (the steps ``send`` gives), each item getting its result or its error (see
    `settle`)."""
    check_count("batch_size", batch_size)
    return _in_batches(items, batch_size, send)


def _in_batches(
    items: Sequence[tuple[int, Mapping[str, Any]]],
    batch_size: int,
    send: Callable[[list[Mapping[str, Any]]], Generator[Any, Any, Sequence[T]]],
) -> Generator[Any, Any, list[BulkItem[T]]]:
    done: list[BulkItem[T]] = []
    for batch in batched(items, batch_size):
        entries = [BulkItem[T](index, item) for index, item in batch]
        rows = [item for _, item in batch]
        yield from settle(entries, lambda picked, r=rows: send([r[i] for i in picked]), _set_result)  # type: ignore[misc]
        done.extend(entries)
    return done


def rows_of(answer: Any) -> list[Any]:
    """The rows of a batch create's answer: a list, ``{"results": [...]}``, or the one
    object."""
    if isinstance(answer, Mapping):
        rows = answer.get("results", [answer])
        if isinstance(rows, list):
            return rows
    elif isinstance(answer, list):
        return answer
    raise ClientError(f"expected a list of created objects, got {answer!r:.100}")


def _set_result(entry: BulkItem[Any], result: Any) -> None:
    entry.result = result


def batched(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """Consecutive slices of at most ``size`` items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


#: The mixin that gives each declared capability.
MIXINS: dict[protocol.Capability, type[Manager[Any]]] = {
    "get": GetMixin,
    "list": ListMixin,
    "create": CreateMixin,
    "update": UpdateMixin,
    "delete": DeleteMixin,
}


def _bind(cls: type[Manager[Any]], kind: protocol.Kind) -> None:
    """Give a manager class its kind's facts, after checking that the mixins it is made
    of are exactly the declared capabilities (a drift fails at import, not in use)."""
    has = {cap for cap, mixin in MIXINS.items() if issubclass(cls, mixin)}
    if has != set(kind.capabilities):
        raise TypeError(
            f"{cls.__name__} offers {sorted(has)} but {kind.name} declares "
            f"{sorted(kind.capabilities)}"
        )
    cls.kind = kind
    cls.resource = kind.resource_class()
    cls.path = kind.path
    cls._list_path_override = kind.list_path
    cls.filters = FilterSet.of(kind)
    cls.orderings = kind.orderings
    cls.default_expand = kind.default_expand
    cls._detail_params = dict(kind.detail_params)
    cls.cursor_pagination = kind.cursor is not None
    cls.full_update = kind.full_update


def manager_class(name: str) -> type[Manager[Any]]:
    """The manager class of a declared kind: its own class where its resource module
    defines one, else one composed from the declared capabilities."""
    import importlib

    kind = protocol.KINDS[name]
    importlib.import_module(kind.module)  # defines the kind's manager, if it has one
    found = KINDS.get(name)
    if found is None:
        bases = tuple(MIXINS[cap] for cap in protocol.CAPABILITIES if cap in kind.capabilities)
        cls_name = f"{kind.resource_name}Manager"
        found = type(cls_name, bases or (Manager,), {"name": name, "__module__": kind.module})
    return found
