"""Shared, expensive fixtures: one offline presidio engine for the whole session."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.compiled import GuardrailSet, compile_guardrails


@pytest.fixture(scope="session")
def analyzers() -> dict[Any, Any]:
    """presidio engines by setup, shared by every test that compiles a PII guardrail."""
    return {}


@pytest.fixture(scope="session")
def compile_set(analyzers: dict[Any, Any]) -> Callable[..., GuardrailSet]:
    def build(*configs: GuardrailConfig) -> GuardrailSet:
        return compile_guardrails(configs, analyzers)

    return build
