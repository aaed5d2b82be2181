"""Filters of list endpoints: which names each accepts, and how values go on the wire.

The backend silently ignores a filter name it does not know and returns everything, so
every name is checked before sending ([`UnknownFilterError`][synapse.errors.UnknownFilterError],
with a
did-you-mean), unless the caller asks to send it anyway with a warning.
"""

from __future__ import annotations

import datetime as dt
import difflib
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from synapse.enums import WireEnum, require_enum
from synapse.errors import InvalidInputError, UnknownFilterError, UnknownFilterWarning
from synapse.protocol import (
    COMMON_FILTERS,
    CONTROL_PARAMS,
    KINDS,
    Kind,
    filter_target,
    kind_of_resource,
)

__all__ = [
    "CONTROL_PARAMS",
    "FilterSet",
    "FilterType",
]

FilterType = Literal["id", "ids", "int", "bool", "str", "strs", "date", "code"] | type[WireEnum]


def _sdk_type(declared: str) -> FilterType:
    """A declared value type (``enum:JobStatus`` names an enum of ``synapse.enums``)."""
    if declared.startswith("enum:"):
        import synapse.enums

        enum: type[WireEnum] = getattr(synapse.enums, declared.removeprefix("enum:"))
        return enum
    return declared  # type: ignore[return-value]


@dataclass(frozen=True)
class FilterSet:
    """The filters a list endpoint accepts, and how to encode them; made from the
    kind's declaration in [`synapse.protocol`][synapse.protocol]."""

    fields: Mapping[str, FilterType] = field(default_factory=dict)
    hints: Mapping[str, str] = field(default_factory=dict)
    common: bool = True
    #: Allowed values of string filters (``status_label``).
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Names the backend accepts but whose meaning is not documented: refused, with why.
    refused: Mapping[str, str] = field(default_factory=dict)
    #: The kind whose ids (or objects) each id filter takes (``project``: ``projects``).
    targets: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, kind: Kind) -> FilterSet:
        """The filter set a kind declares."""
        declared = kind.filters.items()
        return cls(
            {name: _sdk_type(f.type) for name, f in declared if not f.refused},
            hints=dict(kind.hints),
            common=kind.common_filters,
            choices={name: f.choices for name, f in declared if f.choices},
            refused={name: f.note for name, f in declared if f.refused},
            targets={
                name: target
                for name, f in [*declared, *(COMMON_FILTERS.items() if kind.common_filters else ())]
                if (target := filter_target(kind, f)) is not None
            },
        )

    def allowed(self) -> dict[str, FilterType]:
        common = {name: _sdk_type(f.type) for name, f in COMMON_FILTERS.items()}
        return {**(common if self.common else {}), **self.fields}

    def check_names(
        self, names: Iterable[str], *, kind: str = "this list", unknown: str = "raise"
    ) -> list[str]:
        """The names not allowed. Each raises
        [`UnknownFilterError`][synapse.errors.UnknownFilterError] with a
        suggestion, or with ``unknown="warn"`` gives an
        [`UnknownFilterWarning`][synapse.errors.UnknownFilterWarning]."""
        allowed = self.allowed()
        strangers = [name for name in names if name not in allowed]
        for name in strangers:
            message = self._unknown(name, allowed, kind)
            if unknown != "warn":
                raise UnknownFilterError(message)
            warnings.warn(f"sending it anyway: {message}", UnknownFilterWarning, stacklevel=4)
        return strangers

    def encode(
        self, filters: Mapping[str, Any], *, kind: str = "this list", unknown: str = "raise"
    ) -> dict[str, str]:
        """Wire values for ``filters``; unknown names and bad values raise before sending
        (unknown names are sent as given, with a warning, when ``unknown="warn"``)."""
        strangers = self.check_names(filters, kind=kind, unknown=unknown)
        allowed = self.allowed()
        encoded = {
            name: _encode_value(name, allowed.get(name, "str"), value)
            if name not in strangers
            else _raw_value(value)
            for name, value in filters.items()
        }
        for name in set(encoded) & set(self.choices):
            self._check_choice(name, encoded[name])
        for name in set(filters) & set(self.targets):
            _check_objects(name, filters[name], self.targets[name])
        return encoded

    def _check_choice(self, name: str, value: Any) -> None:
        choices = self.choices[name]
        for part in str(value).split(","):
            if part not in choices:
                raise InvalidInputError(
                    f"filter {name!r} takes one of {', '.join(choices)}; got {part!r}"
                )

    def normalize(
        self, params: Mapping[str, Any], *, kind: str = "this list", unknown: str = "raise"
    ) -> dict[str, Any]:
        """The method API's ``params``: names checked, enum values normalised (``running``
        is ``RUNNING``), everything else as the caller gave it."""
        names = [name for name in params if name not in CONTROL_PARAMS]
        self.check_names(names, kind=kind, unknown=unknown)
        allowed = self.allowed()
        normal = dict(params)
        for name, value in params.items():
            ftype = allowed.get(name)
            if name in self.choices and isinstance(value, str):
                self._check_choice(name, value)
            if isinstance(ftype, type) and value is not None:
                field = f"filter {name!r}"
                if isinstance(value, (list, tuple)):
                    normal[name] = [require_enum(ftype, v, field=field).value for v in value]
                else:
                    normal[name] = require_enum(ftype, value, field=field).value
        return normal

    def _unknown(self, name: str, allowed: Mapping[str, Any], kind: str) -> str:
        if name in self.refused:
            return (
                f"filter {name!r} of {kind} is not supported: {self.refused[name]}; "
                "sending it could return everything"
            )
        message = f"unknown filter {name!r} for {kind}"
        hint = self.hints.get(name)
        close = [hint] if hint else difflib.get_close_matches(name, list(allowed), n=3)
        if close:
            message += f"; did you mean {' or '.join(repr(c) for c in close)}?"
        message += " (the backend ignores unknown filters and would return everything)"
        return message


def _raw_value(value: Any) -> str:
    if isinstance(value, WireEnum):
        return str(value.value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return ",".join(_raw_value(v) for v in value)
    return str(value)


def _pk_of(name: str, value: Any) -> int | str:
    from synapse.resources.base import Resource

    if isinstance(value, Resource):
        if value.pk is None:
            raise InvalidInputError(f"filter {name!r}: the object has no id yet")
        pk: int | str = value.pk
        return pk
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"filter {name!r} expects an id (int) or an object, got {value!r}")
    return value


def _check_objects(name: str, value: Any, target: str) -> None:
    """An object given to an id filter must be of the kind the filter takes: a plugin's
    id as a project id would match the wrong rows without a word."""
    from synapse.resources.base import Resource

    values = value if isinstance(value, (list, tuple, set, frozenset)) else [value]
    for item in values:
        if not isinstance(item, Resource):
            continue
        cls = type(item)
        kind = kind_of_resource(cls.__module__, cls.__qualname__)
        if kind is not None and kind.name != target:
            wanted = KINDS[target].resource_name if target in KINDS else target
            raise InvalidInputError(
                f"filter {name!r} takes {wanted} ids or objects, got a {cls.__name__}"
            )


def _iso_date(text: str) -> bool:
    """Whether ``text`` is an ISO 8601 date or datetime (``Z`` allowed), as the backend
    parses it: other text would match nothing, or everything, without a word."""
    try:
        dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _encode_value(name: str, ftype: FilterType, value: Any) -> str:
    if isinstance(ftype, type):
        return str(require_enum(ftype, value, field=f"filter {name!r}").value)
    return _ENCODERS.get(ftype, _encode_str)(name, value)


def _encode_id(name: str, value: Any) -> str:
    return str(_pk_of(name, value))


def _encode_ids(name: str, value: Any) -> str:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        value = [value]
    pks = [str(_pk_of(name, v)) for v in value]
    if not pks:
        raise InvalidInputError(f"filter {name!r} needs at least one id")
    return ",".join(pks)


def _encode_strs(name: str, value: Any) -> str:
    values = [value] if isinstance(value, str) else list(value)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise InvalidInputError(f"filter {name!r} expects strings, got {value!r}")
    return ",".join(str(v) for v in values)


def _encode_int(name: str, value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(f"filter {name!r} expects an int, got {value!r}")
    return str(value)


def _encode_bool(name: str, value: Any) -> str:
    if not isinstance(value, bool):
        raise InvalidInputError(f"filter {name!r} expects True or False, got {value!r}")
    return "true" if value else "false"


def _encode_date(name: str, value: Any) -> str:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, str) and _iso_date(value):
        return value
    raise InvalidInputError(
        f"filter {name!r} expects a date or datetime (or ISO 8601 text), got {value!r}"
    )


def _encode_code(name: str, value: Any) -> str:
    code = getattr(value, "code", value)
    if not isinstance(code, str) or not code:
        raise InvalidInputError(f"filter {name!r} expects a code string, got {value!r}")
    return code


def _encode_str(name: str, value: Any) -> str:
    if isinstance(value, WireEnum):
        return str(value.value)
    if not isinstance(value, str):
        raise InvalidInputError(f"filter {name!r} expects a string, got {value!r}")
    return value


#: How a filter value of each declared type is written on the wire (others as text).
_ENCODERS: dict[Any, Callable[[str, Any], str]] = {
    "id": _encode_id,
    "ids": _encode_ids,
    "strs": _encode_strs,
    "int": _encode_int,
    "bool": _encode_bool,
    "date": _encode_date,
    "code": _encode_code,
}
