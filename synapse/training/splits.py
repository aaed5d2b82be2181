"""Train/val/test splits of an export, decided per task (all images of a data unit go
to one split): by a hash of the task id with a seed and ratios, or by a filter per split.
The same seed and ratios always give the same split, whatever the order of the tasks."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from synapse.errors import InvalidInputError

__all__ = ["Split"]

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_-")


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or not set(name) <= _NAME_CHARS:
        raise InvalidInputError(f"a split name is lowercase letters, digits, _ or -: {name!r}")
    return name


@dataclass(frozen=True)
class Split:
    """How tasks are shared out between named splits.

    ``Split.ratios(train=0.8, val=0.2, seed=0)`` hashes each task's id with the seed
    (the ratios are weights, normalized; they hold on average, not for a few tasks);
    ``Split.filters(train={"tags": [1]}, val={"tags": [2]})`` runs the query once per
    split with those extra filters (a task matched by two is exported in the first and
    listed in the report). ``Split.none()`` puts every task in ``all``.
    """

    ratios_: tuple[tuple[str, float], ...] = ()
    filters_: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    seed: int | str = 0
    names: tuple[str, ...] = field(default=("all",))
    field_: str | None = None

    @classmethod
    def none(cls) -> Split:
        return cls()

    @classmethod
    def ratios(cls, *, seed: int | str = 0, **ratios: float) -> Split:
        if not ratios:
            raise InvalidInputError("Split.ratios needs at least one split, e.g. train=0.8")
        for name, value in ratios.items():
            _check_name(name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidInputError(f"split ratio {name}={value!r} is not a number")
            if not math.isfinite(value) or value < 0:
                raise InvalidInputError(f"split ratio {name}={value!r} must be >= 0")
        total = sum(ratios.values())
        if total <= 0:
            raise InvalidInputError("split ratios must add up to more than 0")
        normalized = tuple((n, v / total) for n, v in ratios.items())
        return cls(ratios_=normalized, seed=seed, names=tuple(ratios))

    @classmethod
    def filters(cls, **filters: Mapping[str, Any]) -> Split:
        if not filters:
            raise InvalidInputError("Split.filters needs at least one split")
        for name, value in filters.items():
            _check_name(name)
            if not isinstance(value, Mapping):
                raise InvalidInputError(f"split {name!r} takes a dict of filters")
        return cls(filters_=tuple(filters.items()), names=tuple(filters))

    @classmethod
    def by_field(cls, name: str = "category") -> Split:
        """The split each row names in a field: a ground-truth event's ``category``
        (``train``, ``validation``, ``test``). A row without one goes to ``unassigned``."""
        if not isinstance(name, str) or not name.isidentifier():
            raise InvalidInputError(f"Split.by_field takes a field name, not {name!r}")
        return cls(field_=name, names=())

    @classmethod
    def coerce(cls, split: Split | Mapping[str, Any] | str | None) -> Split:
        """``None``, a Split, ``{"train": 0.8, "val": 0.2}`` (ratios, seed 0),
        ``{"train": {...filters}, ...}``, or a field name such as ``"category"``."""
        if split is None:
            return cls.none()
        if isinstance(split, Split):
            return split
        if isinstance(split, str):
            return cls.by_field(split)
        if isinstance(split, Mapping) and split:
            if all(isinstance(v, Mapping) for v in split.values()):
                return cls.filters(**split)
            return cls.ratios(**split)
        raise InvalidInputError(f"split is None, a Split or a dict of ratios, not {split!r}")

    def of(self, key: Any, row: Mapping[str, Any] | None = None) -> str:
        """The split of a row: by a hash of its id ``key``, by its field, or ``all``."""
        if self.field_ is not None:
            value = (row or {}).get(self.field_)
            if isinstance(value, str) and value and set(value.lower()) <= _NAME_CHARS:
                return value.lower()
            return "unassigned"
        if not self.ratios_:
            return self.names[0]
        digest = hashlib.sha256(f"{self.seed}\x00{key}".encode()).digest()
        point = int.from_bytes(digest[:8], "big") / 2**64
        upto = 0.0
        for name, ratio in self.ratios_:
            upto += ratio
            if point < upto:
                return name
        return self.ratios_[-1][0]
