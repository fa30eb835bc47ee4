"""Claude's thinking blocks carried to an OpenAI client and back: the JSON answer's and the
stream's `reasoning_details` entries (sealed with the deployment), and the request that gives
Claude its blocks again, keeping thinking on in the loop they came from."""

from __future__ import annotations

from typing import Any

from gateway.providers.anthropic.carried_thinking import FORMAT, carried_blocks, thinking_detail
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
from gateway.providers.anthropic.responses_anthropic_to_openai import anthropic_response_to_openai
from gateway.providers.anthropic.streams_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.chat_reasoning import reasoning_origin, sealed

JSON = dict[str, Any]
HERE = reasoning_origin("ant", "claude-fable-5")
ELSEWHERE = reasoning_origin("ant2", "claude-fable-5")
THINKING = {"type": "thinking", "thinking": "Look it up.", "signature": "c2lnbmVk"}
REDACTED = {"type": "redacted_thinking", "data": "ZW5jcnlwdGVk"}
CALL = {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}


def answer(*content: JSON) -> JSON:
    return {
        "id": "msg_1",
        "model": "claude-fable-5",
        "content": list(content),
        "stop_reason": "tool_use",
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def test_the_answer_carries_each_block_sealed_and_its_shown_text() -> None:
    message = anthropic_response_to_openai(
        answer(THINKING, REDACTED, CALL), "m", created=1, origin=HERE
    )["choices"][0]["message"]
    assert message["reasoning_content"] == "Look it up."
    assert message["reasoning_details"] == [
        {
            "type": "reasoning.text",
            "text": "Look it up.",
            "signature": sealed(HERE, "c2lnbmVk"),
            "format": FORMAT,
            "index": 0,
        },
        {
            "type": "reasoning.encrypted",
            "data": sealed(HERE, "ZW5jcnlwdGVk"),
            "format": FORMAT,
            "index": 1,
        },
    ]
    assert carried_blocks(message, HERE) == [THINKING, REDACTED]
    assert carried_blocks(message, ELSEWHERE) == []


def test_nothing_is_carried_without_a_deployment_or_a_signature() -> None:
    hidden = {**THINKING, "thinking": ""}  # the Claude 5 models' default display
    message = anthropic_response_to_openai(answer(hidden, CALL), "m", created=1)["choices"][0][
        "message"
    ]
    assert "reasoning_details" not in message and "reasoning_content" not in message
    assert thinking_detail({"type": "thinking", "thinking": "t"}, HERE, 0) is None
    assert thinking_detail({"type": "redacted_thinking", "data": ""}, HERE, 0) is None
    assert thinking_detail(CALL, HERE, 0) is None


def test_only_this_deployments_entries_of_claudes_format_come_back() -> None:
    mine = {"type": "reasoning.text", "text": "t", "signature": sealed(HERE, "s"), "format": FORMAT}
    odd: list[object] = [
        "odd",
        {**mine, "format": "openai-responses-v1"},
        {**mine, "signature": sealed(ELSEWHERE, "s")},
        {**mine, "signature": 7},
        {"type": "reasoning.encrypted", "data": None, "format": FORMAT},
        {"type": "reasoning.summary", "summary": "x", "format": FORMAT},
    ]
    blocks = carried_blocks({"reasoning_details": [*odd, mine]}, HERE)
    assert blocks == [{"type": "thinking", "thinking": "t", "signature": "s"}]
    assert carried_blocks({"reasoning_details": "odd"}, HERE) == []


def delta(index: int, content: JSON) -> JSON:
    return {"type": "content_block_delta", "index": index, "delta": content}


def test_the_stream_carries_each_block_when_it_closes() -> None:
    stream = AnthropicToOpenAIStream("m", include_usage=False, created=1, origin=HERE)
    opening = {**THINKING, "thinking": "", "signature": ""}
    events: list[JSON] = [
        {"type": "message_start", "message": {"id": "msg_1", "usage": {"input_tokens": 3}}},
        {"type": "content_block_start", "index": 0, "content_block": opening},
        delta(0, {"type": "thinking_delta", "thinking": "Look "}),
        delta(0, {"type": "thinking_delta", "thinking": "it up."}),
        delta(0, {"type": "signature_delta", "signature": "c2lnbmVk"}),
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": REDACTED},
        {"type": "content_block_stop", "index": 1},
        {"type": "content_block_start", "index": 2, "content_block": {**CALL, "input": {}}},
        {"type": "content_block_stop", "index": 2},
    ]
    deltas = [c["choices"][0]["delta"] for e in events for c in stream.feed(None, e)]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "Look it up."
    details = [entry for d in deltas for entry in d.get("reasoning_details", ())]
    message = {"reasoning_details": details}
    assert [e["index"] for e in details] == [0, 1]
    assert carried_blocks(message, HERE) == [THINKING, REDACTED]
    # Each entry comes after the block's text, before the tool call.
    order = [next(iter(d)) for d in deltas if d.keys() & {"reasoning_details", "tool_calls"}]
    assert order == ["reasoning_details", "reasoning_details", "tool_calls", "tool_calls"]


def tool_loop(details: list[JSON], effort: str | None = None) -> JSON:
    body: JSON = {
        "model": "x",
        "messages": [
            {"role": "user", "content": "Weather in Paris?"},
            {
                "role": "assistant",
                "content": None,
                "reasoning_details": details,
                "tool_calls": [
                    {
                        "id": "toolu_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "sunny"},
        ],
    }
    if effort is not None:
        body["reasoning_effort"] = effort
    return body


SIGNED = sealed(HERE, "c2lnbmVk")
DETAILS = [{"type": "reasoning.text", "text": "Look it up.", "signature": SIGNED, "format": FORMAT}]


def test_the_request_gives_claude_its_blocks_first_and_keeps_it_thinking() -> None:
    upstream = openai_request_to_anthropic(tool_loop(DETAILS), "claude-opus-5", HERE)
    assert upstream["messages"][1]["content"] == [THINKING, {**CALL}]
    assert "thinking" not in upstream  # the model's default: thinking, the loop's blocks back


def test_another_deployments_blocks_are_left_out_and_thinking_goes_off() -> None:
    upstream = openai_request_to_anthropic(tool_loop(DETAILS), "claude-opus-5", ELSEWHERE)
    assert [b["type"] for b in upstream["messages"][1]["content"]] == ["tool_use"]
    assert upstream["thinking"] == {"type": "disabled"}


def test_thinking_asked_off_leaves_the_blocks_out_where_the_model_takes_it() -> None:
    off = openai_request_to_anthropic(tool_loop(DETAILS, "none"), "claude-sonnet-5-5", HERE)
    assert off["thinking"] == {"type": "between_tools"}
    assert [b["type"] for b in off["messages"][1]["content"]] == ["tool_use"]
    # A model that always thinks cannot be asked: its blocks go back all the same.
    always = openai_request_to_anthropic(tool_loop(DETAILS, "none"), "claude-fable-5", HERE)
    assert "thinking" not in always
    assert always["messages"][1]["content"][0] == THINKING


def test_a_stream_that_lies_about_its_thinking_blocks_carries_nothing_false() -> None:
    """Deltas for a block never opened, pieces that are no text, a block closed twice, a
    redacted block with nothing in it: nothing is carried that Claude did not sign."""
    stream = AnthropicToOpenAIStream("m", include_usage=False, created=1, origin=HERE)
    events: list[JSON] = [
        {"type": "message_start", "message": {"id": "msg_1"}},
        delta(7, {"type": "signature_delta", "signature": "c2ln"}),  # no block 7
        {"type": "content_block_start", "index": 0, "content_block": {"type": "thinking"}},
        delta(0, {"type": "thinking_delta", "thinking": 42}),
        delta(0, {"type": "signature_delta", "signature": None}),
        {"type": "content_block_stop", "index": 0},  # no signature came: not carried
        {"type": "content_block_stop", "index": 0},
        {"type": "content_block_start", "index": 1, "content_block": {"type": "redacted_thinking"}},
        {"type": "content_block_start", "index": 2, "content_block": {**THINKING, "signature": ""}},
        delta(2, {"type": "signature_delta", "signature": "c2ln"}),
        {"type": "content_block_stop", "index": 2},
    ]
    deltas = [c["choices"][0]["delta"] for e in events for c in stream.feed(None, e)]
    details = [entry for d in deltas for entry in d.get("reasoning_details", ())]
    assert carried_blocks({"reasoning_details": details}, HERE) == [
        {"type": "thinking", "thinking": "Look it up.", "signature": "c2ln"}
    ]
    assert [d["index"] for d in details] == [0]
