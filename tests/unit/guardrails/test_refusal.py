"""A refusal is the model's answer too: output guardrails read a chat message's `refusal`
(JSON and `delta.refusal`) and a Responses API `refusal` part (JSON, `response.refusal.delta`
and the events that repeat it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.bodies import output_groups
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.sse import encode_event
from tests.unit.guardrails.test_reasoning import apply, openai_chunk, run
from tests.unit.guardrails.test_stream import Passthrough

EMAIL = "jane.doe@example.org"
REFUSAL = f"I cannot write to {EMAIL} for you."
REDACTED = "I cannot write to <EMAIL_ADDRESS> for you."


@pytest.fixture
def pii(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )


def test_chat_refusal_is_redacted(pii: GuardrailSet) -> None:
    message = {"role": "assistant", "content": None, "refusal": REFUSAL}
    answer: dict[str, Any] = {"object": "chat.completion", "choices": [{"message": message}]}
    apply(output_groups(answer, "openai"), pii, "output")
    assert message["refusal"] == REDACTED


def test_responses_refusal_part_is_redacted(pii: GuardrailSet) -> None:
    part = {"type": "refusal", "refusal": REFUSAL}
    answer: dict[str, Any] = {
        "object": "response",
        "output": [{"type": "message", "role": "assistant", "content": [part]}],
    }
    apply(output_groups(answer, "openai"), pii, "output")
    assert part["refusal"] == REDACTED


def test_streamed_chat_refusal_is_redacted(pii: GuardrailSet) -> None:
    events = [openai_chunk({"role": "assistant", "refusal": ""})]
    events += [openai_chunk({"refusal": c}) for c in REFUSAL]
    events += [openai_chunk({}, "stop"), b"data: [DONE]\n\n"]
    sent = run(GuardedConverter(Passthrough(), "openai", pii, None, lambda d: None), events)
    refusal = "".join(e["choices"][0]["delta"].get("refusal") or "" for e in sent)
    assert refusal == REDACTED


def test_streamed_responses_refusal_is_redacted(pii: GuardrailSet) -> None:
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    part = {"type": "refusal", "refusal": REFUSAL}
    item = {"type": "message", "id": "msg_1", "role": "assistant", "content": [part]}

    def event(data: dict[str, Any]) -> bytes:
        return encode_event(orjson.dumps(data))

    events = [event({"type": "response.refusal.delta", **where, "delta": c}) for c in REFUSAL]
    events += [
        event({"type": "response.refusal.done", **where, "refusal": REFUSAL}),
        event({"type": "response.content_part.done", **where, "part": part}),
        event({"type": "response.output_item.done", "output_index": 0, "item": item}),
        event({"type": "response.completed", "response": {"output": [item]}}),
    ]
    sent = run(GuardedConverter(Passthrough(), "responses", pii, None, lambda d: None), events)
    deltas = [e["delta"] for e in sent if e["type"] == "response.refusal.delta"]
    assert "".join(deltas) == REDACTED
    assert EMAIL not in orjson.dumps(sent).decode()
    assert sent[-1]["response"]["output"][0]["content"][0] == {
        "type": "refusal",
        "refusal": REDACTED,
    }
