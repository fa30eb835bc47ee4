"""Token log probabilities and audio repeat the answer's text where no output guardrail can
rewrite it: a key whose output guardrails change or stop answers gets a 400 naming the
parameter instead of an answer that carries the values its guardrails took out. A key whose
output guardrails only log, or that has none, is unaffected."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest

from gateway.config.types import GuardrailConfig
from gateway.errors import InvalidRequest
from gateway.guardrails.compiled import GuardrailSet, compile_guardrails
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard import guard_input
from gateway.pipeline.services import Services

REDACT = compile_guardrails(
    [GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")]
)
LOG = compile_guardrails(
    [GuardrailConfig(name="pii", type="pii", applies_to="output", action="log")]
)
INPUT = compile_guardrails(
    [GuardrailConfig(name="pii", type="pii", applies_to="input", action="redact")]
)


def context(guards: GuardrailSet, kind: str, body: dict[str, Any]) -> RequestContext:
    ctx = SimpleNamespace(
        key=SimpleNamespace(policy="p"),
        runtime=SimpleNamespace(guardrails={"p": guards}),
        endpoint=SimpleNamespace(kind=kind, wire="openai"),
        stream=False,
        body=body,
        placeholders=None,
        guardrails=[],
    )
    return cast(RequestContext, ctx)


ASKS = [
    ("chat", {"logprobs": True}, "logprobs"),
    ("chat", {"logprobs": True, "top_logprobs": 3}, "logprobs"),
    ("chat", {"modalities": ["text", "audio"], "audio": {"voice": "alloy"}}, "modalities"),
    ("chat", {"audio": {"voice": "alloy", "format": "wav"}}, "audio"),
    ("completions", {"prompt": "hi", "logprobs": 0}, "logprobs"),
    ("responses", {"input": "hi", "include": ["message.output_text.logprobs"]}, "include"),
    ("responses", {"input": "hi", "top_logprobs": 2}, "top_logprobs"),
]


@pytest.mark.parametrize(("kind", "extra", "param"), ASKS)
async def test_asking_for_what_output_guardrails_cannot_rewrite_is_refused(
    kind: str, extra: dict[str, Any], param: str
) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
    with pytest.raises(InvalidRequest) as refused:
        await guard_input(context(REDACT, kind, body), cast(Services, None))
    assert refused.value.param == param


@pytest.mark.parametrize("guards", [LOG, INPUT], ids=["output-log", "input-only"])
@pytest.mark.parametrize(("kind", "extra", "param"), ASKS)
async def test_keys_whose_output_guardrails_change_nothing_may_ask(
    guards: GuardrailSet, kind: str, extra: dict[str, Any], param: str
) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], **extra}
    await guard_input(context(guards, kind, body), cast(Services, None))


async def test_plain_requests_pass() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "logprobs": False}
    await guard_input(context(REDACT, "chat", body), cast(Services, None))
