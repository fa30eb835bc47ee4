"""gateway.config.specs: deriving a TOML table spec from a dataclass."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Literal

import pytest

from gateway.config.schema import NON_EMPTY, Range, toml
from gateway.config.specs import spec_of
from gateway.config.types import DeploymentConfig, PolicyConfig, ServerConfig, Timeouts


@dataclass(frozen=True)
class Inner:
    seconds: float = field(default=1.0, metadata=toml(key="inner_s"))


@dataclass(frozen=True)
class Sample:
    name: Annotated[str, NON_EMPTY]
    mode: Literal["a", "b"] = "a"
    count: Annotated[int, Range(above=0)] | None = None
    inner: Inner = field(default_factory=Inner, metadata=toml(flatten=True))
    computed: str = field(default="", metadata=toml(skip=True))


def test_kinds_choices_bounds_and_required_come_from_the_dataclass() -> None:
    spec = spec_of(Sample)
    assert list(spec.fields) == ["name", "mode", "count", "inner_s"]
    name, mode, count, inner = spec.fields.values()
    assert (name.kind, name.required, name.nonempty) == ("string", True, True)
    assert (mode.kind, mode.required, mode.choices) == ("string", False, ("a", "b"))
    assert (count.kind, count.range) == ("integer", Range(above=0))
    assert (inner.kind, inner.attr, inner.group) == ("number", "seconds", "inner")


def test_build_groups_flattened_keys_and_takes_defaults() -> None:
    spec = spec_of(Sample)
    assert spec.build({"name": "x", "inner_s": 2.0}) == Sample("x", inner=Inner(2.0))
    assert spec.build({"name": "x"}, computed="c") == Sample("x", computed="c")
    assert spec.value({}, "mode") == "a" and spec.value({"mode": "b"}, "mode") == "b"


def test_absent_tables_build_from_their_defaults() -> None:
    policy = spec_of(PolicyConfig).build({}, name="p")
    assert policy == PolicyConfig("p")
    assert isinstance(policy.model_limits, MappingProxyType)
    deployment = spec_of(DeploymentConfig).build({"provider": "p", "model": "m"})
    assert deployment.timeouts == Timeouts()
    assert spec_of(ServerConfig) is spec_of(ServerConfig)  # derived once


def test_a_type_without_a_toml_form_fails_naming_the_field() -> None:
    @dataclass(frozen=True)
    class Odd:
        tags: set[str] = field(default_factory=set)

    with pytest.raises(TypeError, match=r"Odd.tags: no TOML form for set\[str\]"):
        spec_of(Odd)


def test_only_a_dataclass_can_be_flattened() -> None:
    @dataclass(frozen=True)
    class Bad:
        value: int = field(default=0, metadata=toml(flatten=True))

    with pytest.raises(TypeError, match="Bad.value: only a dataclass can flatten"):
        spec_of(Bad)


@pytest.mark.parametrize(
    ("bounds", "value", "problem"),
    [
        (Range(low=1, high=65535), 0, "must be between 1 and 65535, got 0"),
        (Range(low=0, high=1), 1.5, "must be between 0 and 1, got 1.5"),
        (Range(above=0), 0, "must be greater than 0, got 0"),
        (Range(above=0), -0.25, "must be greater than 0, got -0.25"),
        (Range(low=1), 0, "must be at least 1, got 0"),
        (Range(low=0), 0, None),
        (Range(above=0), 1e-9, None),
    ],
)
def test_range_problems(bounds: Range, value: float, problem: str | None) -> None:
    assert bounds.problem(value) == problem
