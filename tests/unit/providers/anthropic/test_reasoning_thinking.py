"""An OpenAI client's `reasoning_effort` turns thinking on for the Claude 4 models: adaptive
from 4.6 on, a budget before, without what thinking cannot go with, and never where Claude
could not take it (a forced tool, a tool loop without its thinking blocks)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic.carried_thinking import FORMAT
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
from gateway.providers.chat_reasoning import reasoning_origin, sealed

JSON = dict[str, Any]
HI: list[JSON] = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]


def sent(model: str, **body: Any) -> JSON:
    return openai_request_to_anthropic({"messages": HI, **body}, model)


@pytest.mark.parametrize(
    ("model", "effort", "thinking"),
    [
        ("claude-opus-4-8", "high", {"type": "adaptive"}),
        ("claude-sonnet-4-6", "low", {"type": "adaptive"}),
        ("claude-sonnet-4-5", "medium", {"type": "enabled", "budget_tokens": 4_096}),
        ("claude-opus-4-1", "max", {"type": "enabled", "budget_tokens": 31_999}),  # < max_tokens
        ("claude-opus-4-8", "none", None),
        ("claude-opus-4-8", "minimal", None),
        ("claude-opus-4-8", None, None),
        ("claude-opus-4-8", "turbo", None),
        ("claude-opus-5", "high", None),  # thinks by default: nothing to ask
        ("claude-3-5-haiku-20241022", "high", None),  # no thinking (and no version named)
        ("my-foundry-deployment", "high", None),
    ],
)
def test_the_effort_asks_claude_4_to_think(model: str, effort: str | None, thinking: Any) -> None:
    body = sent(model, reasoning_effort=effort) if effort else sent(model)
    assert body.get("thinking") == thinking


def test_a_budget_that_does_not_fit_max_tokens_asks_no_thinking() -> None:
    assert "thinking" not in sent("claude-sonnet-4-5", reasoning_effort="high", max_tokens=1_000)
    small = sent("claude-sonnet-4-5", reasoning_effort="high", max_tokens=2_000)
    assert small["thinking"] == {"type": "enabled", "budget_tokens": 1_999}


def test_what_thinking_cannot_go_with_is_left_out() -> None:
    body = sent("claude-sonnet-4-5", reasoning_effort="high", temperature=0.2, top_k=5, top_p=0.9)
    assert not {"temperature", "top_k", "top_p"} & body.keys()
    kept = sent("claude-opus-4-8", reasoning_effort="high", temperature=1, top_p=0.97)
    assert kept["temperature"] == 1 and kept["top_p"] == 0.97
    plain = sent("claude-sonnet-4-5", temperature=0.2)  # no effort: as before
    assert plain["temperature"] == 0.2 and "thinking" not in plain


@pytest.mark.parametrize(
    "forcing",
    [
        {"tools": TOOLS, "tool_choice": "required"},
        {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "get_weather"}}},
        {"response_format": {"type": "json_schema", "json_schema": {"schema": {"type": "object"}}}},
    ],
)
def test_a_forced_tool_asks_no_thinking(forcing: JSON) -> None:
    body = sent("claude-opus-4-8", reasoning_effort="high", temperature=0.2, **forcing)
    assert "thinking" not in body and body["temperature"] == 0.2


def test_a_tool_loop_thinks_only_with_its_blocks_back() -> None:
    origin = reasoning_origin("ant", "claude-opus-4-8")
    call = {
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": "{}"},
    }
    entry = {
        "type": "reasoning.text",
        "text": "",
        "signature": sealed(origin, "c2ln"),
        "format": FORMAT,
    }
    assistant: JSON = {"role": "assistant", "tool_calls": [call]}
    result = {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"}
    lost = {"messages": [*HI, assistant, result], "tools": TOOLS, "reasoning_effort": "high"}
    assert "thinking" not in openai_request_to_anthropic(lost, "claude-opus-4-8", origin)
    kept = {**lost, "messages": [*HI, {**assistant, "reasoning_details": [entry]}, result]}
    body = openai_request_to_anthropic(kept, "claude-opus-4-8", origin)
    assert body["thinking"] == {"type": "adaptive"}
    assert body["messages"][1]["content"][0]["type"] == "thinking"
