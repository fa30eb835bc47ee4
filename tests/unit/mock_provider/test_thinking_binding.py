"""The mock's prefix check, as the Claude models that bind thinking blocks to their
conversation answer: a block whose conversation before it changed is refused, unless the
request asks that it be dropped; other models do not check."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.mock_provider.behaviour import RequestError, plan_messages
from gateway.mock_provider.thinking_binding import bound_signature

SYSTEM = "You are an agent."
ASK: dict[str, Any] = {"role": "user", "content": "Weather in Paris?"}
CALL = {"type": "tool_use", "id": "toolu_1", "name": "weather", "input": {}}
RESULT = {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1"}]}


def _body(model: str, system: str, signature: str) -> dict[str, Any]:
    thought = {"type": "thinking", "thinking": "", "signature": signature}
    messages = [ASK, {"role": "assistant", "content": [thought, CALL]}, RESULT]
    tools = [{"name": "weather", "input_schema": {"type": "object"}}]
    return {
        "model": model,
        "max_tokens": 50,
        "system": system,
        "messages": messages,
        "tools": tools,
    }


def test_a_block_of_the_same_conversation_is_taken() -> None:
    signed = bound_signature(SYSTEM, [ASK], [])
    assert plan_messages(_body("claude-opus-5-5", SYSTEM, signed)).choices[0].text


def test_a_block_whose_conversation_changed_is_refused_unless_dropped() -> None:
    signed = bound_signature(SYSTEM, [ASK], [])
    changed = _body("claude-fable-5-1", SYSTEM + " Be brief.", signed)
    with pytest.raises(RequestError, match="bound to a different conversation"):
        plan_messages(changed)
    binding = {"prefix_mismatch_behavior": "drop_block"}
    changed["thinking"] = {"type": "adaptive", "block_binding": binding}
    assert plan_messages(changed).choices[0].text


def test_models_without_the_check_take_any_signed_block() -> None:
    assert plan_messages(_body("claude-opus-5", SYSTEM + " v2", "c2lnbmVk")).choices[0].text
