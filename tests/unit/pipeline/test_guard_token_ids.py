"""Embeddings `input` and completions `prompt` given as token ids carry text no guardrail can
read: with input guardrails they are refused (400), never passed unscanned."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from gateway.config.types import GuardrailConfig
from gateway.errors import InvalidRequest
from gateway.guardrails.compiled import compile_guardrails
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard import guard_input
from gateway.pipeline.services import Services

GUARDS = compile_guardrails(
    [GuardrailConfig(name="pii", type="pii", applies_to="input", action="redact")]
)


def context(kind: str, body: dict[str, Any]) -> RequestContext:
    ctx = SimpleNamespace(
        key=SimpleNamespace(policy="guarded"),
        runtime=SimpleNamespace(guardrails={"guarded": GUARDS}),
        endpoint=SimpleNamespace(kind=kind, wire="openai"),
        stream=False,
        body=body,
        placeholders=None,
        guardrails=[],
    )
    return cast(RequestContext, ctx)


@pytest.mark.parametrize(
    ("kind", "name", "value"),
    [
        ("embeddings", "input", [1, 2, 3]),
        ("embeddings", "input", [[1, 2], [3]]),
        ("embeddings", "input", ["text", [3]]),
        ("completions", "prompt", [1, 2, 3]),
        ("completions", "prompt", [[1, 2]]),
    ],
)
async def test_token_ids_are_refused(kind: str, name: str, value: Any) -> None:
    with pytest.raises(InvalidRequest) as refused:
        await guard_input(context(kind, {"model": "m", name: value}), cast(Services, None))
    assert refused.value.param == name


async def test_text_inputs_are_scanned() -> None:
    body: dict[str, Any] = {"model": "m", "input": ["mail jane.doe@example.org", "ok"]}
    await guard_input(context("embeddings", body), cast(Services, None))
    assert body["input"] == ["mail <EMAIL_ADDRESS>", "ok"]
