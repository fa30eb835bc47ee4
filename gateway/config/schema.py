"""The marks `types.py` uses to say what Python types cannot, and the kinds built on them.

`types.py` is the one schema of the config files; the loader derives every table's accepted keys,
kinds, defaults and checks from it (`gateway.config.specs`). Two kinds of marks add to the types:

- value constraints, inside `Annotated[...]` so they travel with the type alias that names them
  (`PositiveInt = Annotated[int, Range(above=0)]`, `Annotated[str, NON_EMPTY]`);
- the field's place in the TOML, in `field(metadata=toml(...))`: read under another key, a
  dataclass whose keys sit in its parent's table, or a field the TOML never sets.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated

TOML_METADATA_KEY = "gateway.config.toml"


@dataclass(frozen=True)
class Range:
    """Bounds of an integer or number: `low`/`high` inclusive, `above` exclusive."""

    low: float | None = None
    high: float | None = None
    above: float | None = None

    def problem(self, value: float) -> str | None:
        """Why `value` is out of range, or None when it is inside."""
        low, high = self.low, self.high
        if low is not None and high is not None and not low <= value <= high:
            return f"must be between {_num(low)} and {_num(high)}, got {_num(value)}"
        if self.above is not None and value <= self.above:
            return f"must be greater than {_num(self.above)}, got {_num(value)}"
        if low is not None and value < low:
            return f"must be at least {_num(low)}, got {_num(value)}"
        return None


@dataclass(frozen=True)
class NonEmpty:
    """A string that must not be `""`."""


NON_EMPTY = NonEmpty()

# The constrained kinds every part of the schema uses.
NonEmptyStr = Annotated[str, NON_EMPTY]
PositiveInt = Annotated[int, Range(above=0)]
PositiveFloat = Annotated[float, Range(above=0)]
NonNegativeFloat = Annotated[float, Range(low=0)]
# A score or threshold between 0 and 1.
Fraction = Annotated[float, Range(low=0, high=1)]


@dataclass(frozen=True)
class Toml:
    """Where a dataclass field lives in the TOML, when it is not simply `field name = value`."""

    # The TOML key, when it differs from the field's name.
    key: str | None = None
    # A dataclass whose keys are written in the parent's table (no table of its own).
    flatten: bool = False
    # Never read from the TOML: computed by the loader or read from another file.
    skip: bool = False
    # May be absent from the TOML although the type has no default (a cross-field rule decides).
    optional: bool = False


def toml(
    *, key: str | None = None, flatten: bool = False, skip: bool = False, optional: bool = False
) -> Mapping[str, Toml]:
    """`field(metadata=...)` for a field whose place in the TOML is not `name = value`."""
    return {TOML_METADATA_KEY: Toml(key=key, flatten=flatten, skip=skip, optional=optional)}


class StringTable(Mapping[str, str]):
    """A read-only, hashable table of strings (`headers = { x-team = "a" }`): a config holding
    one stays hashable and comparable, and the hash is computed once."""

    __slots__ = ("_items", "_hash", "pairs")

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items = dict(items or {})
        # In insertion order, for callers that append them (query parameters).
        self.pairs: tuple[tuple[str, str], ...] = tuple(self._items.items())
        self._hash = hash(frozenset(self.pairs))

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StringTable) and self._items == other._items

    def __repr__(self) -> str:
        return f"StringTable({self._items!r})"


def _num(value: float) -> str:
    return str(value) if isinstance(value, int) else f"{value:g}"
