"""One TOML file being loaded: parsing, and validating tables against their specs.

Every problem is reported as a `Problem(file, line, message)` into a list shared by the config
file and the policy files it names, so one load reports everything at once.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gateway.config.errors import Problem
from gateway.config.locate import KeyPath, Locator
from gateway.config.schema import StringTable
from gateway.config.secret_env import SecretEnvironment
from gateway.config.specs import FieldSpec, TableSpec

# A parsed TOML table (tomllib's own type: values are any TOML value).
Table = dict[str, Any]
# The tables of an array of tables that are tables, with their indices in the array.
Entries = list[tuple[int, Table]]

_TOML_POSITION = re.compile(
    r"^(.*) \((?:at line (\d+), column \d+|at end of document)\)$", re.DOTALL
)
_INVALID = object()
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
NOT_A_NAME = (
    "must name an environment variable (letters, digits and '_'), which holds the secret; "
    "the value is not shown, as it may be the secret itself, and `${NAME}` is not expanded"
)


@dataclass
class Doc:
    """One parsed TOML file; problems go to a list shared by the config and its policies."""

    file: str
    locator: Locator
    problems: list[Problem]

    def report(self, path: KeyPath, message: str) -> None:
        self.problems.append(Problem(self.file, self.locator.line(path), message))

    def require_env(self, path: KeyPath, label: str, name: str, env: Mapping[str, str]) -> bool:
        """Whether environment variable `name` is set and not empty; reports it when not."""
        if name not in env and not _ENV_NAME.fullmatch(name):
            # Not a name: most likely the secret itself, or `${NAME}`. Never shown.
            self.report(path, f"{label}: {path[-1]} {NOT_A_NAME}")
            return False
        problem = env.problem(name) if isinstance(env, SecretEnvironment) else None
        if problem is not None:  # given as a file (`<NAME>_FILE`) that cannot be used
            self.report(path, f"{label}: {problem}")
            return False
        if name not in env:
            self.report(path, f"{label}: environment variable {name} is not set")
            return False
        if not env[name]:
            self.report(path, f"{label}: environment variable {name} is empty")
            return False
        return True

    def fields(self, table: Table, path: KeyPath, where: str, spec: TableSpec[Any]) -> Table:
        """The valid values of `table` by key; reports unknown, missing and invalid keys.

        `where` names the table in messages ("in [server]", "at top level"). Scalars and arrays
        of strings are checked and converted; a table is built into its dataclass, a table of
        tables into a read-only mapping of them; an array of tables becomes its `Entries`.
        """
        values: Table = {}
        for key, raw in table.items():
            field = spec.fields.get(key)
            if field is None:
                self.report(path + (key,), f"unknown key '{key}' {where}")
                continue
            value = self._value(raw, path + (key,), field)
            if value is not _INVALID:
                values[key] = value
        for key, field in spec.fields.items():
            if field.required and key not in table:
                self.report(path, f"missing key '{key}' {where}")
        return values

    def _value(self, raw: Any, path: KeyPath, field: FieldSpec) -> Any:
        label = dotted(path)
        kind = field.kind
        if kind == "array of strings" or kind == "array of tables":
            return self._array(raw, path, field)
        if kind == "table" or kind == "table of tables":
            return self._table_value(raw, path, field)
        if kind == "table of strings":
            return self._strings(raw, path)
        if not _is_kind(raw, kind):
            self.report(path, f"{label}: expected {kind}, got {type_name(raw)}")
            return _INVALID
        if kind == "number":
            try:
                raw = float(raw)
            except OverflowError:  # an integer past a float's range
                self.report(path, f"{label}: must be a finite number, got an integer too large")
                return _INVALID
            if not math.isfinite(raw):
                self.report(path, f"{label}: must be a finite number, got {raw}")
                return _INVALID
        problem = _range_problem(raw, field)
        if problem is None and field.path and "\x00" in raw:
            problem = "a path cannot hold a NUL character"  # the OS would refuse every use
        if problem:
            self.report(path, f"{label}: {problem}")
            return _INVALID
        return Path(raw) if field.path else raw

    def _array(self, raw: Any, path: KeyPath, field: FieldSpec) -> Any:
        label = dotted(path)
        if not isinstance(raw, list):
            # A top-level array of tables is usually meant as `[[name]]`: say so.
            hint = f" ([[{label}]])" if field.kind == "array of tables" and len(path) == 1 else ""
            self.report(path, f"{label}: expected {field.kind}{hint}, got {type_name(raw)}")
            return _INVALID
        wanted, expected = (str, "string") if field.kind == "array of strings" else (dict, "table")
        for i, item in enumerate(raw):
            if not isinstance(item, wanted):
                self.report(
                    path + (i,), f"{label}[{i}]: expected {expected}, got {type_name(item)}"
                )
        if field.kind == "array of tables":
            return [(i, item) for i, item in enumerate(raw) if isinstance(item, dict)]
        return tuple(raw) if all(isinstance(item, str) for item in raw) else _INVALID

    def _strings(self, raw: Any, path: KeyPath) -> Any:
        label = dotted(path)
        if not isinstance(raw, dict):
            self.report(path, f"{label}: expected table of strings, got {type_name(raw)}")
            return _INVALID
        for name, value in raw.items():
            if not isinstance(value, str):
                inner = path + (name,)
                self.report(inner, f"{dotted(inner)}: expected string, got {type_name(value)}")
        if not all(isinstance(value, str) for value in raw.values()):
            return _INVALID
        return StringTable(raw)

    def _table_value(self, raw: Any, path: KeyPath, field: FieldSpec) -> Any:
        label, spec = dotted(path), field.table
        assert spec is not None  # a table kind always has the spec of its table(s)
        if not isinstance(raw, dict):
            expected = "table" if field.kind == "table" else f"a table of tables ([{label}.NAME])"
            self.report(path, f"{label}: expected {expected}, got {type_name(raw)}")
            return _INVALID
        if field.kind == "table":
            return spec.build(self.fields(raw, path, f"in [{label}]", spec))
        built: dict[str, Any] = {}
        for name, table in raw.items():
            inner = path + (name,)
            if isinstance(table, dict):
                built[name] = spec.build(self.fields(table, inner, f"in [{dotted(inner)}]", spec))
            else:
                self.report(inner, f"{dotted(inner)}: expected table, got {type_name(table)}")
        return MappingProxyType(built)


def parse(file: str, content: bytes, problems: list[Problem]) -> tuple[Table, Doc] | None:
    """The TOML table of `content` and its `Doc`; None (with the problem reported) if invalid."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1
        problems.append(Problem(file, line, "file is not valid UTF-8"))
        return None
    try:
        data = tomllib.loads(text)
    except RecursionError:
        problems.append(Problem(file, 1, "arrays or tables nested too deeply"))
        return None
    except ValueError as exc:  # TOMLDecodeError, or an integer of more than 4,300 digits
        match = _TOML_POSITION.match(str(exc))
        if match is None:
            problems.append(Problem(file, 1, str(exc)))
        else:
            line = int(match.group(2)) if match.group(2) else max(1, len(text.splitlines()))
            problems.append(Problem(file, line, _explained(match.group(1))))
        return None
    return data, Doc(file, Locator(text), problems)


def _explained(message: str) -> str:
    """The parser's message, with what it means when it is terse about a duplicate."""
    if message == "Cannot overwrite a value":
        return f"{message}: this key is already set in this table (each key once per table)"
    if message.startswith("Cannot declare") and message.endswith(" twice"):
        return f"{message}: a [table] header may appear once; put all its keys under it"
    return message


def dotted(path: KeyPath) -> str:
    """`("models", 0, "fallbacks")` -> `models[0].fallbacks`, as messages name a key."""
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path).lstrip(
        "."
    )


def entry_name(section: str, index: int, name: object) -> str:
    """How messages name an entry of `[[section]]`: by its name when it has one, else index."""
    if isinstance(name, str) and name:
        return f"[[{section}]] '{name}'"
    return f"[[{section}]][{index}]"


def type_name(value: object) -> str:
    """The TOML name of a parsed value's type."""
    for kind, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "float"),
        (str, "string"),
        (list, "array"),
        (dict, "table"),
    ):
        if isinstance(value, kind):
            return name
    return "date/time"


def _is_kind(raw: object, kind: str) -> bool:
    if kind == "string":
        return isinstance(raw, str)
    if kind == "boolean":
        return isinstance(raw, bool)
    if kind == "integer":
        return isinstance(raw, int) and not isinstance(raw, bool)
    return isinstance(raw, (int, float)) and not isinstance(raw, bool)  # number


def _range_problem(value: str | int | float | bool, field: FieldSpec) -> str | None:
    if isinstance(value, str):
        if field.nonempty and value == "":
            return "must not be empty"
        if field.choices and value not in field.choices:
            choices = ", ".join(repr(c) for c in field.choices)
            return f"must be one of {choices}, got {value!r}"
        return None
    return field.range.problem(value) if field.range is not None else None
