"""A custom tool call's input is free text the model wrote (chat `tool_calls[].custom.input`,
a Responses `custom_tool_call` item and its `response.custom_tool_call_input.delta` events):
output guardrails read it like function arguments, input guardrails read it and the tool's
output in the history."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.bodies import input_groups, output_groups
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.sse import encode_event
from tests.unit.guardrails.test_reasoning import apply, run
from tests.unit.guardrails.test_stream import Passthrough

EMAIL = "jane.doe@example.org"
INPUT = f"SELECT * FROM users WHERE email = '{EMAIL}'"
REDACTED = "SELECT * FROM users WHERE email = '<EMAIL_ADDRESS>'"


@pytest.fixture
def pii(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(GuardrailConfig(name="pii", type="pii", applies_to="both", action="redact"))


def test_chat_custom_tool_call_input_is_redacted(pii: GuardrailSet) -> None:
    call: dict[str, Any] = {"id": "c1", "type": "custom", "custom": {"name": "sql", "input": INPUT}}
    message = {"role": "assistant", "content": None, "tool_calls": [call]}
    apply(output_groups({"choices": [{"message": message}]}, "openai"), pii, "output")
    assert call["custom"]["input"] == REDACTED


def test_responses_custom_tool_calls_are_read_both_ways(pii: GuardrailSet) -> None:
    item = {"type": "custom_tool_call", "call_id": "c1", "name": "sql", "input": INPUT}
    apply(output_groups({"object": "response", "output": [item]}, "openai"), pii, "output")
    assert item["input"] == REDACTED
    history: dict[str, Any] = {
        "input": [
            {"type": "custom_tool_call", "call_id": "c1", "name": "sql", "input": INPUT},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": f"found {EMAIL}"},
        ]
    }
    apply(input_groups(history, "responses"), pii, "input")
    assert EMAIL not in orjson.dumps(history).decode()


def test_streamed_custom_tool_call_input_is_redacted(pii: GuardrailSet) -> None:
    where = {"item_id": "ctc_1", "output_index": 0}
    item = {
        "type": "custom_tool_call",
        "id": "ctc_1",
        "call_id": "c1",
        "name": "sql",
        "input": INPUT,
    }

    def event(data: dict[str, Any]) -> bytes:
        return encode_event(orjson.dumps(data))

    events = [
        event({"type": "response.custom_tool_call_input.delta", **where, "delta": c}) for c in INPUT
    ]
    events += [
        event({"type": "response.custom_tool_call_input.done", **where, "input": INPUT}),
        event({"type": "response.output_item.done", "output_index": 0, "item": item}),
        event({"type": "response.completed", "response": {"output": [item]}}),
    ]
    sent = run(GuardedConverter(Passthrough(), "responses", pii, None, lambda d: None), events)
    deltas = [e["delta"] for e in sent if e["type"] == "response.custom_tool_call_input.delta"]
    assert "".join(deltas) == REDACTED
    assert EMAIL not in orjson.dumps(sent).decode()
    assert sent[-1]["response"]["output"][0]["input"] == REDACTED
