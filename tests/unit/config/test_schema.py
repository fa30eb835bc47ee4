"""types.py and the loader agree: every field is read from TOML, and no other key is accepted.

The test walks the dataclasses of `gateway.config.types` itself (fields, `toml(...)` marks), so a
field added to a type without the loader reading it, or a key the loader accepts that no type
has, fails here.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import re
import typing
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import trustme

from gateway.config import (
    check_config,
    entra_types,
    load_config,
    provider_types,
    state_types,
    types,
)
from gateway.config.schema import TOML_METADATA_KEY, Toml
from tests.unit.config.every_field import (
    CONFIG,
    CONFIG_TABLES,
    ENV,
    POLICY,
    POLICY_TABLES,
    VARIANTS,
)


def config_types() -> set[type]:
    """Every dataclass that `gateway.config.types` defines (with `entra_types`, `provider_types` and
    `state_types`, its parts)."""
    return {
        cls
        for module in (types, entra_types, provider_types, state_types)
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if dataclasses.is_dataclass(cls) and cls.__module__ == module.__name__
    }


def mark(field: dataclasses.Field[Any]) -> Toml:
    found = field.metadata.get(TOML_METADATA_KEY, Toml())
    assert isinstance(found, Toml)
    return found


def read_fields(cls: type) -> Iterator[dataclasses.Field[Any]]:
    """The fields of `cls` that the TOML sets (not computed, not read from elsewhere)."""
    for field in dataclasses.fields(cls):
        if field.init and not mark(field).skip:
            yield field


def flattened(cls: type, field: dataclasses.Field[Any]) -> type:
    """The dataclass type of `field`, whose keys are written in the table of `cls`."""
    hint = typing.get_type_hints(cls)[field.name]
    assert dataclasses.is_dataclass(hint) and isinstance(hint, type)
    return hint


def toml_keys(cls: type) -> set[str]:
    """The keys a table of type `cls` may hold: its read fields, under their TOML names."""
    keys: set[str] = set()
    for field in read_fields(cls):
        if mark(field).flatten:
            keys |= toml_keys(flattened(cls, field))
        else:
            keys.add(mark(field).key or field.name)
    return keys


def toml_value(value: Any) -> str:
    """`value` as an inline TOML value (strings as JSON strings, which TOML reads alike)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"


def write(root: Path, config: Mapping[str, Any], policy: Mapping[str, Any]) -> Path:
    (root / "tls").mkdir(exist_ok=True)
    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(root / "tls" / "ca.pem"))
    client = ca.issue_cert("client.test")
    client.cert_chain_pems[0].write_to_path(str(root / "tls" / "client.pem"))
    client.private_key_pem.write_to_path(str(root / "tls" / "client.key"))
    (root / "pol").mkdir(exist_ok=True)
    (root / "pol" / "strict.toml").write_text(
        "".join(f"{key} = {toml_value(value)}\n" for key, value in policy.items())
    )
    path = root / "config.toml"
    path.write_text("".join(f"{key} = {toml_value(value)}\n" for key, value in config.items()))
    return path


def at(document: Any, path: tuple[str | int, ...]) -> dict[str, Any]:
    for part in path:
        document = document[part]
    assert isinstance(document, dict)
    return document


def fields_left_at_default(value: object, read: dict[type, set[str]]) -> None:
    """Record in `read` each read field of each dataclass in `value` that differs from default."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        names = read.setdefault(cls, set())
        for field in dataclasses.fields(cls):
            inner = getattr(value, field.name)
            if field.default is not dataclasses.MISSING:
                default: object = field.default
            elif field.default_factory is not dataclasses.MISSING:
                default = field.default_factory()
            else:
                default = dataclasses.MISSING  # required: set whenever the value exists
            if inner != default:
                names.add(field.name)
            fields_left_at_default(inner, read)
    elif isinstance(value, (tuple, list)):
        for item in value:
            fields_left_at_default(item, read)
    elif isinstance(value, Mapping):
        for item in value.values():
            fields_left_at_default(item, read)


def test_the_documents_here_name_every_table_type() -> None:
    located = set(CONFIG_TABLES.values()) | set(POLICY_TABLES.values())
    inside = {
        flattened(cls, field)
        for cls in config_types()
        for field in read_fields(cls)
        if mark(field).flatten
    }
    assert located | inside == config_types()
    for tables, document in ((CONFIG_TABLES, CONFIG), (POLICY_TABLES, POLICY)):
        for path, cls in tables.items():
            assert set(at(document, path)) <= toml_keys(cls), (path, cls)


def test_every_field_of_every_type_is_read_from_toml(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, CONFIG, POLICY), env=ENV)
    read: dict[type, set[str]] = {}
    fields_left_at_default(config, read)
    # Fields that exclude others (Sentinel or Cluster) are set in a second config.
    for i, variant in enumerate(VARIANTS):
        (tmp_path / f"variant{i}").mkdir()
        other = load_config(write(tmp_path / f"variant{i}", {**CONFIG, **variant}, POLICY), env=ENV)
        fields_left_at_default(other, read)
    missed = [
        f"{cls.__name__}.{field.name}"
        for cls in sorted(config_types(), key=lambda cls: cls.__name__)
        for field in read_fields(cls)
        if field.name not in read.get(cls, set())
    ]
    assert missed == []


@pytest.mark.parametrize(
    ("document", "path"),
    [("config", path) for path in CONFIG_TABLES] + [("policy", path) for path in POLICY_TABLES],
)
def test_no_key_outside_the_types_is_accepted(
    tmp_path: Path, document: str, path: tuple[str | int, ...]
) -> None:
    # Every name any config type uses (also computed and skipped fields), so a key accepted in
    # the wrong table, or one accepted that no type has, shows up.
    vocabulary = {f.name for cls in config_types() for f in dataclasses.fields(cls)}
    vocabulary |= {key for cls in config_types() for key in toml_keys(cls)}
    config, policy = copy.deepcopy(CONFIG), copy.deepcopy(POLICY)
    tables = CONFIG_TABLES if document == "config" else POLICY_TABLES
    table = at(config if document == "config" else policy, path)
    foreign = vocabulary - toml_keys(tables[path])
    table.update(dict.fromkeys(foreign, 1))
    problems = [p.message for p in check_config(write(tmp_path, config, policy), env=ENV)]
    unknown = {m.group(1) for p in problems if (m := re.match(r"unknown key '(\w+)'", p))}
    assert unknown == foreign
