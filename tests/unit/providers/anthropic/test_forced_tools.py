"""A forced `tool_choice` to the Claude models that refuse forced tool use (Opus 5.5, Sonnet
5.5, Fable 5.1, Mythos 5.1): `auto`, the call asked for at the end of the system prompt; other
models, and names that do not say, are sent what was asked."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic.forced_tools import refuses_forced_tools, with_tool_choice_for
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic

JSON = dict[str, Any]
TOOL: JSON = {"name": "get_weather", "input_schema": {"type": "object"}}


@pytest.mark.parametrize(
    ("model", "refuses"),
    [
        ("claude-opus-5-5", True),
        ("claude-sonnet-5-5", True),
        ("claude-fable-5-1", True),
        ("claude-mythos-5-1", True),
        ("anthropic.claude-opus-5-5", True),
        ("claude-opus-5", False),
        ("claude-sonnet-5", False),
        ("claude-fable-5", False),
        ("claude-opus-4-8", False),
        ("claude-haiku-4-5", False),
        ("my-claude-deployment", False),
    ],
)
def test_which_models_refuse_forced_tools(model: str, refuses: bool) -> None:
    assert refuses_forced_tools(model) is refuses


@pytest.mark.parametrize(
    ("choice", "sentence"),
    [
        ({"type": "tool", "name": "get_weather"}, "Answer by calling the `get_weather` tool."),
        ({"type": "any"}, "Answer by calling one of the tools."),
    ],
)
def test_a_forced_choice_becomes_auto_with_the_call_asked(choice: JSON, sentence: str) -> None:
    body: JSON = {"tools": [TOOL], "tool_choice": choice, "system": "Be brief."}
    with_tool_choice_for(body, "claude-opus-5-5")
    assert body["tool_choice"] == {"type": "auto"}
    assert body["system"] == f"Be brief.\n\n{sentence}"


def test_the_system_prompts_blocks_are_kept_and_parallel_calls_stay_off() -> None:
    blocks = [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]
    choice = {"type": "any", "disable_parallel_tool_use": True}
    body: JSON = {"tools": [TOOL], "tool_choice": choice, "system": blocks}
    with_tool_choice_for(body, "claude-sonnet-5-5")
    assert body["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
    assert body["system"] == [
        *blocks,
        {"type": "text", "text": "Answer by calling one of the tools."},
    ]
    assert len(blocks) == 1  # the client's list is not changed
    bare: JSON = {"tools": [TOOL], "tool_choice": {"type": "any"}}
    with_tool_choice_for(bare, "claude-fable-5-1")
    assert bare["system"] == "Answer by calling one of the tools."


@pytest.mark.parametrize("model", ["claude-opus-5", "claude-opus-4-8", "my-claude-deployment"])
def test_other_models_are_sent_what_was_asked(model: str) -> None:
    body: JSON = {"tools": [TOOL], "tool_choice": {"type": "any"}}
    with_tool_choice_for(body, model)
    assert body == {"tools": [TOOL], "tool_choice": {"type": "any"}}


@pytest.mark.parametrize("choice", [{"type": "auto"}, {"type": "none"}, None])
def test_a_choice_that_forces_nothing_is_unchanged(choice: JSON | None) -> None:
    body: JSON = {"tools": [TOOL], "tool_choice": choice}
    with_tool_choice_for(body, "claude-opus-5-5")
    assert body == {"tools": [TOOL], "tool_choice": choice}


def test_an_openai_clients_required_and_named_choices() -> None:
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    base = {"messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "Hi."}]}
    required = openai_request_to_anthropic(
        {**base, "tools": tools, "tool_choice": "required"}, "claude-opus-5-5"
    )
    assert required["tool_choice"] == {"type": "auto"}
    assert required["system"] == "Hi.\n\nAnswer by calling one of the tools."
    named = {"type": "function", "function": {"name": "get_weather"}}
    sent = openai_request_to_anthropic(
        {**base, "tools": tools, "tool_choice": named}, "claude-opus-5"
    )
    assert sent["tool_choice"] == {"type": "tool", "name": "get_weather"}
    assert sent["system"] == "Hi."
