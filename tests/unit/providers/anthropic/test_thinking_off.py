"""Thinking off, in the word each Claude model takes: `disabled`, Sonnet 5.5's `between_tools`,
none at all for the models that always think (Fable 5, Mythos 5, Opus 5.5); effort `high` at
most where thinking is off only up to it (Opus 5, Sonnet 5.5). From an Anthropic client's
request routed to the model, and from an OpenAI client's `reasoning_effort` of `none` or its
request returning tool results."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
from gateway.providers.anthropic.thinking import (
    openai_thinking_off,
    thinking_off,
    thinks_by_default,
    with_thinking_for,
)

JSON = dict[str, Any]
OFF = {"type": "disabled"}
BETWEEN = {"type": "between_tools"}


@pytest.mark.parametrize(
    ("model", "off", "by_default"),
    [
        ("claude-opus-4-8", OFF, False),
        ("claude-sonnet-4-6", OFF, False),
        ("claude-opus-5", OFF, True),
        ("claude-sonnet-5", OFF, True),
        ("claude-sonnet-5-5", BETWEEN, True),
        ("claude-opus-5-5", None, True),
        ("claude-fable-5", None, True),
        ("claude-fable-5-1", None, True),
        ("claude-mythos-5", None, True),
    ],
)
def test_each_models_word_for_thinking_off(model: str, off: JSON | None, by_default: bool) -> None:
    assert thinking_off(model) == off
    assert thinks_by_default(model) is by_default


@pytest.mark.parametrize(
    ("model", "asked", "thinking", "effort"),
    [
        ("claude-opus-4-8", OFF, OFF, "xhigh"),
        ("claude-opus-4-8", BETWEEN, OFF, "xhigh"),
        ("claude-opus-5", OFF, OFF, "high"),
        ("claude-opus-5", BETWEEN, OFF, "high"),
        ("claude-sonnet-5", OFF, OFF, "xhigh"),
        ("claude-sonnet-5-5", OFF, BETWEEN, "high"),
        ("claude-sonnet-5-5", BETWEEN, BETWEEN, "high"),
        ("claude-opus-5-5", OFF, None, "xhigh"),
        ("claude-fable-5", BETWEEN, None, "xhigh"),
    ],
)
def test_an_anthropic_clients_thinking_off_at_effort_xhigh(
    model: str, asked: JSON, thinking: JSON | None, effort: str
) -> None:
    body: JSON = {"thinking": asked, "output_config": {"effort": "xhigh", "format": "kept"}}
    with_thinking_for(body, model)
    assert body.get("thinking") == thinking
    assert body["output_config"] == {"effort": effort, "format": "kept"}


def test_thinking_off_at_effort_high_or_without_one_keeps_its_effort() -> None:
    body: JSON = {"thinking": OFF, "output_config": {"effort": "medium"}}
    with_thinking_for(body, "claude-opus-5")
    assert body == {"thinking": OFF, "output_config": {"effort": "medium"}}
    bare: JSON = {"thinking": OFF}
    with_thinking_for(bare, "claude-sonnet-5-5")
    assert bare == {"thinking": BETWEEN}


def test_a_name_that_does_not_say_is_sent_what_was_asked() -> None:
    body: JSON = {"thinking": BETWEEN, "output_config": {"effort": "max"}}
    with_thinking_for(body, "our-claude")
    assert body == {"thinking": BETWEEN, "output_config": {"effort": "max"}}


@pytest.mark.parametrize(
    ("effort", "model", "thinking"),
    [
        ("none", "claude-opus-5", OFF),
        ("minimal", "claude-sonnet-5-5", BETWEEN),
        ("none", "claude-opus-5-5", None),
        ("none", "claude-opus-4-8", None),  # thinks only when asked: nothing to turn off
        ("low", "claude-opus-5", None),
        (None, "claude-opus-5", None),
    ],
)
def test_an_openai_clients_reasoning_effort(
    effort: str | None, model: str, thinking: JSON | None
) -> None:
    off = openai_thinking_off(effort, model, in_tool_loop=False)
    assert off is (effort in ("none", "minimal") and model != "claude-opus-4-8")
    body: JSON = {"messages": [{"role": "user", "content": "hi"}]}
    if effort is not None:
        body["reasoning_effort"] = effort
    assert openai_request_to_anthropic(body, model).get("thinking") == thinking


LOOP: list[JSON] = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "w", "arguments": "{}"}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
]
TOOLS: list[JSON] = [{"type": "function", "function": {"name": "w", "parameters": {}}}]


@pytest.mark.parametrize(
    ("model", "thinking", "effort"),
    [
        ("claude-opus-5", OFF, "high"),
        ("claude-sonnet-5", OFF, "xhigh"),
        ("claude-sonnet-5-5", BETWEEN, "high"),
        ("claude-opus-5-5", None, "xhigh"),  # always thinks: nothing can be asked
        ("claude-opus-4-8", None, "xhigh"),  # thinks only when asked
    ],
)
def test_a_tool_loop_of_an_openai_client_goes_on_without_thinking(
    model: str, thinking: JSON | None, effort: str
) -> None:
    """It cannot send the loop's thinking blocks back, which a thinking Claude wants."""
    body: JSON = {"messages": LOOP, "tools": TOOLS, "reasoning_effort": "xhigh"}
    sent = openai_request_to_anthropic(body, model)
    assert sent.get("thinking") == thinking
    assert sent["output_config"] == {"effort": effort}
    first = openai_request_to_anthropic({**body, "messages": LOOP[:1]}, model)
    # The loop's first call thinks as the model does, a Claude 4 model as the effort asks.
    assert first.get("thinking") == ({"type": "adaptive"} if "-4-" in model else None)
