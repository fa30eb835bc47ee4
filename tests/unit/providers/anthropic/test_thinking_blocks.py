"""A chat server's reasoning as Anthropic thinking blocks, and those blocks kept from Claude."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.json_types import JSON
from gateway.providers.anthropic.requests_anthropic_to_openai import anthropic_request_to_openai
from gateway.providers.anthropic.responses_openai_to_anthropic import openai_response_to_anthropic
from gateway.providers.anthropic.streams_openai_to_anthropic import OpenAIToAnthropicStream
from gateway.providers.anthropic.thinking_blocks import (
    GATEWAY_SIGNATURE,
    OPENAI_REASONING_PREFIX,
    ThinkingDisplay,
    thinking_display,
    thinking_for_claude,
)

PREFIX = OPENAI_REASONING_PREFIX
GATEWAY_BLOCK = {"type": "thinking", "thinking": "Ask the tool.", "signature": GATEWAY_SIGNATURE}
CLAUDE_BLOCK = {"type": "thinking", "thinking": "Hmm.", "signature": "RXFvQkNrZ0lB"}
CALL = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
RESULT = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}


@pytest.mark.parametrize(
    ("thinking", "display"),
    [
        ({"type": "enabled", "budget_tokens": 1024}, "shown"),
        ({"type": "adaptive"}, "shown"),
        ({"type": "adaptive", "display": "summarized"}, "shown"),
        ({"type": "adaptive", "display": "omitted"}, "omitted"),
        ({"type": "disabled"}, None),
        ("enabled", None),
        (None, None),
    ],
)
def test_how_a_request_asked_to_see_the_thinking(
    thinking: object, display: ThinkingDisplay | None
) -> None:
    body: dict[str, Any] = {"messages": []}
    if thinking is not None:
        body["thinking"] = thinking
    assert thinking_display(body) == display


def _completion(message: JSON) -> JSON:
    choice = {"index": 0, "message": message, "finish_reason": "stop"}
    return {"id": "c1", "model": "deepseek-reasoner", "choices": [choice]}


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_an_answers_reasoning_is_a_thinking_block_before_its_text(field: str) -> None:
    answer = _completion({"role": "assistant", "content": "Hi!", field: "They greet me."})
    shown = openai_response_to_anthropic(answer, "m", "shown")
    assert shown["content"] == [
        {"type": "thinking", "thinking": "They greet me.", "signature": GATEWAY_SIGNATURE},
        {"type": "text", "text": "Hi!"},
    ]
    omitted = openai_response_to_anthropic(answer, "m", "omitted")["content"]
    assert omitted[0] == {"type": "thinking", "thinking": "", "signature": GATEWAY_SIGNATURE}
    assert openai_response_to_anthropic(answer, "m")["content"] == [{"type": "text", "text": "Hi!"}]
    # No reasoning, no block, whatever the request asked.
    plain = _completion({"role": "assistant", "content": "Hi!", field: ""})
    assert openai_response_to_anthropic(plain, "m", "shown")["content"] == [
        {"type": "text", "text": "Hi!"}
    ]


def _chunk(delta: JSON, finish: str | None = None) -> JSON:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return {"id": "c1", "model": "deepseek-reasoner", "choices": [choice]}


def _events(display: ThinkingDisplay | None, chunks: list[JSON]) -> list[tuple[str, JSON]]:
    stream = OpenAIToAnthropicStream("m", 5, display)
    events = [event for chunk in chunks for event in stream.feed(chunk)]
    return events + stream.finish()


def _delta(index: int, delta: JSON) -> tuple[str, JSON]:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def _start(index: int, block: JSON) -> tuple[str, JSON]:
    event = {"type": "content_block_start", "index": index, "content_block": block}
    return ("content_block_start", event)


def _stop(index: int) -> tuple[str, JSON]:
    return ("content_block_stop", {"type": "content_block_stop", "index": index})


DEEPSEEK_STREAM = [
    _chunk({"role": "assistant", "content": None, "reasoning_content": "They "}),
    _chunk({"content": None, "reasoning_content": "greet me."}),
    _chunk({"content": "Hi!"}),
    _chunk({}, "stop"),
]
EMPTY_THINKING = {"type": "thinking", "thinking": "", "signature": ""}
SIGNED = {"type": "signature_delta", "signature": GATEWAY_SIGNATURE}


def test_streamed_reasoning_is_a_thinking_block_closed_by_its_signature() -> None:
    events = _events("shown", DEEPSEEK_STREAM)
    assert events[1:-2] == [
        _start(0, EMPTY_THINKING),
        _delta(0, {"type": "thinking_delta", "thinking": "They "}),
        _delta(0, {"type": "thinking_delta", "thinking": "greet me."}),
        _delta(0, SIGNED),
        _stop(0),
        _start(1, {"type": "text", "text": ""}),
        _delta(1, {"type": "text_delta", "text": "Hi!"}),
        _stop(1),
    ]
    # Omitted: the block and its signature without the text; not asked: no block.
    omitted = _events("omitted", DEEPSEEK_STREAM)
    assert omitted[1:4] == [_start(0, EMPTY_THINKING), _delta(0, SIGNED), _stop(0)]
    assert _events(None, DEEPSEEK_STREAM)[1:4] == [
        _start(0, {"type": "text", "text": ""}),
        _delta(0, {"type": "text_delta", "text": "Hi!"}),
        _stop(0),
    ]


def test_reasoning_after_a_tool_call_opens_a_block_of_its_own() -> None:
    call = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{}"}}
    events = _events(
        "shown",
        [
            _chunk({"tool_calls": [call]}),
            _chunk({"reasoning": "Then more."}),
            _chunk({}, "tool_calls"),
        ],
    )
    assert [name for name, _ in events[1:-2]] == [
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
    ]
    assert events[4] == _start(1, EMPTY_THINKING) and events[6] == _delta(1, SIGNED)


def test_the_gateways_blocks_are_taken_out_of_a_request_to_claude() -> None:
    body: JSON = {
        "thinking": {"type": "adaptive"},
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [GATEWAY_BLOCK, {"type": "text", "text": "Sunny."}]},
            {"role": "user", "content": "And tomorrow?"},
            {"role": "assistant", "content": [GATEWAY_BLOCK]},
            {"role": "user", "content": "Well?"},
            {"role": "assistant", "content": [CLAUDE_BLOCK, CALL]},
            {"role": "user", "content": [RESULT]},
        ],
    }
    sent = copy.deepcopy(body)
    upstream = dict(sent)
    thinking_for_claude(upstream, "claude-opus-4-8")
    assert upstream["messages"] == [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Sunny."}]},
        {"role": "user", "content": "And tomorrow?"},
        {"role": "user", "content": "Well?"},  # the emptied message went
        {"role": "assistant", "content": [CLAUDE_BLOCK, CALL]},
        {"role": "user", "content": [RESULT]},
    ]
    assert upstream["thinking"] == {"type": "adaptive"}  # Claude's own block leads the loop
    assert sent == body  # the client's body is as it came


@pytest.mark.parametrize(
    "unsigned",
    [
        {"type": "thinking", "thinking": "Hm."},
        {"type": "thinking", "thinking": "Hm.", "signature": ""},
        {"type": "thinking", "thinking": "Hm.", "signature": None},
    ],
)
def test_unsigned_blocks_are_taken_out_for_claude_and_left_for_other_servers(
    unsigned: JSON,
) -> None:
    """A client replaying what another proxy or an Anthropic-compatible server gave it:
    Claude refuses a block with nothing signed ("...thinking.signature: Field required")."""
    said: list[JSON] = [unsigned, {"type": "text", "text": "Sunny."}]
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": said},
        {"role": "user", "content": "Thanks"},
    ]
    upstream: JSON = {"thinking": {"type": "adaptive"}, "messages": messages}
    thinking_for_claude(upstream, "claude-opus-4-8")
    assert upstream["messages"][1] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "Sunny."}],
    }
    assert said[0] is unsigned and len(said) == 2  # the client's body is as it came
    other: JSON = {"messages": messages}
    thinking_for_claude(other, "deepseek-v4")  # a name that is no Claude: as it came
    assert other["messages"] is messages


def test_a_tool_loop_that_lost_its_thinking_block_is_sent_without_thinking() -> None:
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [GATEWAY_BLOCK, CALL]},
        {"role": "user", "content": [RESULT]},
    ]
    upstream: JSON = {"thinking": {"type": "enabled", "budget_tokens": 1024}, "messages": messages}
    thinking_for_claude(upstream, "claude-opus-4-8")
    assert "thinking" not in upstream
    assert upstream["messages"][1] == {"role": "assistant", "content": [CALL]}
    # Past the loop (a new user question), thinking stays on.
    later: JSON = {
        "thinking": {"type": "adaptive"},
        "messages": [
            *messages,
            {"role": "assistant", "content": "Sunny."},
            {"role": "user", "content": "Thanks"},
        ],
    }
    thinking_for_claude(later, "claude-opus-4-8")
    assert later["thinking"] == {"type": "adaptive"}


@pytest.mark.parametrize(
    ("model", "thinking"),
    [
        ("claude-opus-5", {"type": "disabled"}),
        ("claude-sonnet-5-5", {"type": "between_tools"}),
        ("claude-opus-5-5", None),  # always thinks: nothing to ask
    ],
)
@pytest.mark.parametrize("asked", [{"type": "adaptive"}, None])
def test_a_claude_5_model_that_thinks_by_default_is_asked_not_to_in_its_word(
    model: str, thinking: JSON | None, asked: JSON | None
) -> None:
    upstream: JSON = {
        "messages": [
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [GATEWAY_BLOCK, CALL]},
            {"role": "user", "content": [RESULT]},
        ],
        "output_config": {"effort": "max"},
    }
    if asked is not None:
        upstream["thinking"] = asked
    thinking_for_claude(upstream, model)
    assert upstream.get("thinking") == thinking
    capped = thinking is not None  # thinking off only up to effort `high` on these two
    assert upstream["output_config"] == {"effort": "high" if capped else "max"}


def test_a_request_without_the_gateways_blocks_is_left_alone() -> None:
    messages = [
        {"role": "assistant", "content": [CLAUDE_BLOCK, CALL]},
        {"role": "user", "content": [RESULT]},
    ]
    upstream: JSON = {"thinking": {"type": "adaptive"}, "messages": messages}
    thinking_for_claude(upstream, "claude-opus-4-8")
    assert upstream["messages"] is messages and upstream["thinking"] == {"type": "adaptive"}
    odd: JSON = {"messages": [None, {"role": "assistant", "content": None}, "x"]}
    thinking_for_claude(odd, "claude-opus-4-8")
    assert odd == {"messages": [None, {"role": "assistant", "content": None}, "x"]}


def test_a_tool_loop_another_model_made_without_thinking_is_sent_without_it() -> None:
    # A fallback from a deployment that did not think, mid-loop: Claude would refuse the loop
    # with thinking on; off for this request, it answers.
    messages = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": [{"type": "text", "text": "Checking."}, CALL]},
        {"role": "user", "content": [RESULT]},
    ]
    upstream: JSON = {"thinking": {"type": "adaptive"}, "messages": messages}
    thinking_for_claude(upstream, "claude-opus-4-8")
    assert "thinking" not in upstream and upstream["messages"] is messages
    redacted = {"type": "redacted_thinking", "data": "RXFv"}
    kept: JSON = {
        "thinking": {"type": "adaptive"},
        "messages": [messages[0], {"role": "assistant", "content": [redacted, CALL]}, messages[2]],
    }
    thinking_for_claude(kept, "claude-opus-4-8")
    assert kept["thinking"] == {"type": "adaptive"}


def test_encrypted_reasoning_rides_in_the_blocks_signature_and_comes_back() -> None:
    answer = _completion(
        {
            "role": "assistant",
            "content": None,
            "reasoning_content": "I look it up.",
            "reasoning_details": [
                {"type": "reasoning.encrypted", "data": "gw1-a~one"},
                {"type": "reasoning.encrypted", "data": "gw1-a~two"},
            ],
            "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}],
        }
    )
    blocks = openai_response_to_anthropic(answer, "m", "shown")["content"]
    assert blocks[:2] == [
        {"type": "thinking", "thinking": "I look it up.", "signature": PREFIX + "gw1-a~one"},
        {"type": "thinking", "thinking": "", "signature": PREFIX + "gw1-a~two"},
    ]
    # The next request of the loop (through the Responses API) carries it back.
    sent = {
        "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": blocks}]
    }
    back = anthropic_request_to_openai(sent, "m", reasoning_details=True)["messages"][1]
    assert [d["data"] for d in back["reasoning_details"]] == ["gw1-a~one", "gw1-a~two"]
    assert "reasoning_details" not in anthropic_request_to_openai(sent, "m")["messages"][1]
    # Claude could not read it, and is not sent it.
    to_claude: JSON = {"messages": [*sent["messages"], {"role": "user", "content": "And?"}]}
    thinking_for_claude(to_claude, "claude-opus-4-8")
    assert to_claude["messages"][1]["content"] == [blocks[2]]


def test_a_streams_encrypted_reasoning_is_its_thinking_blocks_signature() -> None:
    encrypted = {"reasoning_details": [{"type": "reasoning.encrypted", "data": "gw1-a~one"}]}
    call = {"index": 0, "id": "c1", "function": {"name": "f", "arguments": "{}"}}
    events = _events(
        "shown",
        [
            _chunk({"reasoning_content": "I look."}),
            _chunk(encrypted),
            _chunk({"tool_calls": [call]}),
            _chunk({}, "tool_calls"),
        ],
    )
    assert events[1:5] == [
        _start(0, EMPTY_THINKING),
        _delta(0, {"type": "thinking_delta", "thinking": "I look."}),
        _delta(0, {"type": "signature_delta", "signature": PREFIX + "gw1-a~one"}),
        _stop(0),
    ]
    # With no summary to show, the block is there for its signature alone.
    alone = _events("shown", [_chunk(encrypted), _chunk({"content": "Hi"}), _chunk({}, "stop")])
    assert alone[1:4] == [
        _start(0, EMPTY_THINKING),
        _delta(0, {"type": "signature_delta", "signature": PREFIX + "gw1-a~one"}),
        _stop(0),
    ]
