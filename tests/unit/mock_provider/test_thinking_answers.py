"""The mock's Claude answers start with a thinking block when the model thinks (asked, or the
Claude 5 models' default), signed as the next request must send it back; its text shown only
when asked to be."""

from __future__ import annotations

from typing import Any

from gateway.mock_provider.behaviour import plan_messages
from gateway.mock_provider.render import anthropic_message, anthropic_stream_frames
from gateway.mock_provider.thinking_answers import THOUGHT
from gateway.mock_provider.thinking_binding import bound_signature

ASK: list[Any] = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS = [{"name": "weather", "input_schema": {"type": "object"}}]


def body(model: str, **more: Any) -> dict[str, Any]:
    return {"model": model, "max_tokens": 50, "messages": ASK, **more}


def test_a_claude_5_answer_starts_with_its_block_and_an_older_one_only_when_asked() -> None:
    bound = anthropic_message(plan_messages(body("claude-opus-5-5", system="S")), "msg_1")
    assert bound["content"][0] == {
        "type": "thinking",
        "thinking": "",
        "signature": bound_signature("S", ASK, []),
    }
    assert [b["type"] for b in bound["content"]] == ["thinking", "text"]
    older = anthropic_message(plan_messages(body("claude-sonnet-4-5")), "msg_1")
    assert [b["type"] for b in older["content"]] == ["text"]
    manual = body("claude-sonnet-4-5", thinking={"type": "enabled", "budget_tokens": 1024})
    shown = anthropic_message(plan_messages(manual), "msg_1")["content"][0]
    assert shown["type"] == "thinking" and shown["thinking"] == THOUGHT
    off = body("claude-opus-5", thinking={"type": "disabled"})
    assert [b["type"] for b in anthropic_message(plan_messages(off), "m")["content"]] == ["text"]


def test_the_stream_sends_the_block_first_and_the_call_after_it() -> None:
    plan = plan_messages(body("claude-fable-5", tools=TOOLS, tool_choice={"type": "auto"}))
    events = [event for frame in anthropic_stream_frames(plan, "msg_1") for event in frame]
    starts = [(e["index"], e["content_block"]["type"]) for e in events if "content_block" in e]
    assert starts == [(0, "thinking"), (1, "tool_use")]
    deltas = [
        (e["index"], e["delta"]["type"]) for e in events if e["type"] == "content_block_delta"
    ]
    assert deltas[0] == (0, "signature_delta")
    assert {index for index, kind in deltas[1:]} == {1}
