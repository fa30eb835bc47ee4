"""Which streamed fields are JSON and which are text: a legacy `function_call`'s arguments are
scanned like a tool call's (the `functions` API streams them in `delta.function_call`), and a
value `restore` puts back in reasoning is plain text, not JSON-escaped as in arguments."""

from __future__ import annotations

from collections.abc import Callable

import orjson

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Placeholders
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from tests.unit.guardrails.test_reasoning import openai_chunk, run
from tests.unit.guardrails.test_stream import Passthrough

EMAIL = "jane.doe@example.org"


def test_a_streamed_legacy_function_call_is_redacted(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    pii = compile_set(GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact"))
    arguments = orjson.dumps({"to": EMAIL, "body": "hi"}).decode()
    events = [
        openai_chunk({"role": "assistant", "function_call": {"name": "send", "arguments": ""}})
    ]
    events += [openai_chunk({"function_call": {"arguments": c}}) for c in arguments]
    events += [openai_chunk({}, "function_call"), b"data: [DONE]\n\n"]
    sent = run(GuardedConverter(Passthrough(), "openai", pii, None, lambda d: None), events)
    calls = [e["choices"][0]["delta"].get("function_call") for e in sent]
    streamed = "".join(c.get("arguments") or "" for c in calls if c)
    assert orjson.loads(streamed) == {"to": "<EMAIL_ADDRESS>", "body": "hi"}


def test_restore_puts_plain_text_back_in_reasoning() -> None:
    placeholders = Placeholders()
    token = placeholders.placeholder("PROJECT", 'Code "Blue"')
    events = [openai_chunk({"reasoning_content": f"They mean {token}."}), openai_chunk({}, "stop")]
    converter = GuardedConverter(
        Passthrough(), "openai", GuardrailSet(), placeholders, lambda d: None
    )
    sent = run(converter, events)
    reasoning = "".join(e["choices"][0]["delta"].get("reasoning_content") or "" for e in sent)
    assert reasoning == 'They mean Code "Blue".'
