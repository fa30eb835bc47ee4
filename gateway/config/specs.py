"""Field specs derived from the dataclasses of `types.py`: the TOML form of each config table.

`spec_of(ServerConfig)` lists the keys `[server]` accepts, each with its kind, whether it is
required, its allowed values and bounds, and builds the dataclass from validated values. Nothing
here names a config field: a field added to `types.py` is accepted, checked and loaded without a
change to the loader (a type without a TOML form fails at import, naming the field).

How a field's type reads in the TOML:
    str, Path, Literal[...]          string (a Literal lists the allowed values)
    int / float / bool               integer / number (an integer is accepted) / boolean
    X | None                         as X; absent means None
    tuple[str, ...]                  array of strings
    StringTable                      table of strings `{ name = "value" }`
    tuple[D, ...] (D a dataclass)    array of tables `[[key]]`
    Mapping[str, D], D has `name`    array of tables, keyed by name in the loaded value
    Mapping[str, D], D has no name   table of tables `[key.NAME]`
    D                                table `[key]`; with `toml(flatten=True)`, its keys are
                                     written in the parent's table
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar, cast

from gateway.config.schema import TOML_METADATA_KEY, NonEmpty, Range, StringTable, Toml

T = TypeVar("T")

Kind = Literal[
    "string",
    "integer",
    "number",
    "boolean",
    "array of strings",
    "array of tables",
    "table",
    "table of tables",
    "table of strings",
]
SCALARS: frozenset[Kind] = frozenset(("string", "integer", "number", "boolean"))

_PLAIN_KINDS: dict[object, Kind] = {
    str: "string",
    Path: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
}


@dataclass(frozen=True)
class FieldSpec:
    """One key of a TOML table."""

    key: str
    # The dataclass field it sets (of the table's type, or of the flattened dataclass `group`).
    attr: str
    kind: Kind
    required: bool = False
    choices: tuple[str, ...] = ()
    range: Range | None = None
    nonempty: bool = False
    # The string is a filesystem path (loaded as `Path`).
    path: bool = False
    # For the table kinds: the spec of the inner table(s).
    table: TableSpec[Any] | None = None
    # The field of the table's type that holds the flattened dataclass this key belongs to.
    group: str | None = None


class TableSpec(Generic[T]):
    """The keys of one TOML table, derived from the dataclass `cls`, and how to build it."""

    def __init__(self, cls: type[T]) -> None:
        self.cls = cls
        self.fields: dict[str, FieldSpec] = {}
        # Flattened dataclass fields of `cls` -> their specs.
        self._groups: dict[str, TableSpec[Any]] = {}
        hints = typing.get_type_hints(cls, include_extras=True)
        for field in dataclasses.fields(cast(Any, cls)):
            mark = field.metadata.get(TOML_METADATA_KEY, Toml())
            if not field.init or mark.skip:
                continue
            spec = _field_spec(cls, field, hints[field.name], mark)
            if mark.flatten:
                if spec.kind != "table" or spec.table is None:
                    raise TypeError(f"{cls.__name__}.{field.name}: only a dataclass can flatten")
                self._groups[field.name] = spec.table
                for inner in spec.table.fields.values():
                    self.fields[inner.key] = dataclasses.replace(inner, group=field.name)
            else:
                self.fields[spec.key] = spec

    def __repr__(self) -> str:
        return f"TableSpec({self.cls.__name__})"

    def default(self, key: str) -> object:
        """The value of `key` when the TOML leaves it out (an absent table is all defaults).

        `dataclasses.MISSING` for a required key.
        """
        spec = self.fields[key]
        owner = self.cls if spec.group is None else self._groups[spec.group].cls
        field = _dataclass_field(owner, spec.attr)
        if field.default is not dataclasses.MISSING:
            return field.default
        if field.default_factory is not dataclasses.MISSING:
            return field.default_factory()
        if spec.kind == "table" and spec.table is not None:
            return spec.table.build({})
        if spec.kind == "array of tables" or spec.kind == "array of strings":
            return ()
        return dataclasses.MISSING

    def value(self, values: Mapping[str, object], key: str) -> object:
        """`values[key]`, else the default of `key` (cross-field rules read defaults this way)."""
        return values[key] if key in values else self.default(key)

    def build(self, values: Mapping[str, object], **computed: object) -> T:
        """The dataclass from validated `values` (by TOML key) and `computed` fields (by name).

        Keys left out take the field defaults; an absent table is built from its defaults.
        """
        kwargs: dict[str, object] = {}
        grouped: dict[str, dict[str, object]] = {group: {} for group in self._groups}
        for key, spec in self.fields.items():
            if spec.group is not None:
                if key in values:
                    grouped[spec.group][key] = values[key]
            elif key in values:
                kwargs[spec.attr] = values[key]
            elif spec.kind == "table" and spec.table is not None:
                kwargs[spec.attr] = spec.table.build({})
            elif spec.kind == "table of tables":
                kwargs[spec.attr] = MappingProxyType({})  # read-only, like a loaded one
        for group, inner in self._groups.items():
            kwargs[group] = inner.build(grouped[group])
        kwargs.update(computed)
        return self.cls(**kwargs)


_SPECS: dict[type, TableSpec[Any]] = {}


def spec_of(cls: type[T]) -> TableSpec[T]:
    """The TOML table spec of the config dataclass `cls` (derived once)."""
    spec: TableSpec[T] | None = _SPECS.get(cls)
    if spec is None:
        spec = _SPECS[cls] = TableSpec(cls)
    return spec


def _field_spec(owner: type, field: dataclasses.Field[Any], hint: object, mark: Toml) -> FieldSpec:
    hint = _without_none(hint)
    hint, marks = _without_annotations(hint)
    has_default = (
        field.default is not dataclasses.MISSING or field.default_factory is not dataclasses.MISSING
    )
    kind, choices, table = _kind(owner, field.name, hint)
    return FieldSpec(
        key=mark.key or field.name,
        attr=field.name,
        kind=kind,
        # An absent table or array is its default (empty); cross-field rules say if that is ok.
        required=kind in SCALARS and not has_default and not mark.optional,
        choices=choices,
        range=next((m for m in marks if isinstance(m, Range)), None),
        nonempty=any(isinstance(m, NonEmpty) for m in marks),
        path=hint is Path,
        table=table,
    )


def _kind(
    owner: type, name: str, hint: object
) -> tuple[Kind, tuple[str, ...], TableSpec[Any] | None]:
    """The TOML kind of `hint`, its allowed values (Literal) and its inner table spec."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return "string", tuple(str(arg) for arg in args), None
    if hint in _PLAIN_KINDS:
        return _PLAIN_KINDS[hint], (), None
    if hint is StringTable:
        return "table of strings", (), None
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        if args[0] is str:
            return "array of strings", (), None
        if dataclasses.is_dataclass(args[0]):
            return "array of tables", (), spec_of(cast(type, args[0]))
    if (
        origin is Mapping
        and len(args) == 2
        and args[0] is str
        and dataclasses.is_dataclass(args[1])
    ):
        inner: TableSpec[Any] = spec_of(cast(type, args[1]))
        named = any(f.name == "name" for f in dataclasses.fields(cast(Any, args[1])))
        return ("array of tables" if named else "table of tables"), (), inner
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return "table", (), spec_of(hint)
    raise TypeError(f"{owner.__name__}.{name}: no TOML form for {hint!r}")


def _without_none(hint: object) -> object:
    """`X` for `X | None`; other hints unchanged."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(rest) == 1:
            return rest[0]
    return hint


def _without_annotations(hint: object) -> tuple[object, tuple[object, ...]]:
    """`(X, marks)` for `Annotated[X, *marks]`; `(hint, ())` otherwise."""
    if typing.get_origin(hint) is typing.Annotated:
        base, *marks = typing.get_args(hint)
        return base, tuple(marks)
    return hint, ()


def _dataclass_field(cls: type, name: str) -> dataclasses.Field[Any]:
    return next(f for f in dataclasses.fields(cast(Any, cls)) if f.name == name)
