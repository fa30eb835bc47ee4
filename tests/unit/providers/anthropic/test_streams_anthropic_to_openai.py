"""Anthropic stream events -> OpenAI chunks: exact chunk sequences."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic.errors import StreamTranslationError
from gateway.providers.anthropic.streams_anthropic_to_openai import AnthropicToOpenAIStream

JSON = dict[str, Any]

MESSAGE_START = {
    "type": "message_start",
    "message": {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [],
        "model": "claude-x",
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {"input_tokens": 25, "output_tokens": 1, "cache_read_input_tokens": 5},
    },
}

ANTHROPIC_TEXT_EVENTS: list[JSON] = [
    MESSAGE_START,
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {"type": "ping"},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
    {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": " world"}},
    {"type": "content_block_stop", "index": 0},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn", "stop_sequence": None},
        "usage": {"output_tokens": 12},
    },
    {"type": "message_stop"},
]

ANTHROPIC_TOOL_EVENTS: list[JSON] = [
    MESSAGE_START,
    {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "Checking."},
    },
    {"type": "content_block_stop", "index": 0},
    {
        "type": "content_block_start",
        "index": 1,
        "content_block": {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": ""},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": '{"city":'},
    },
    {
        "type": "content_block_delta",
        "index": 1,
        "delta": {"type": "input_json_delta", "partial_json": ' "Paris"}'},
    },
    {"type": "content_block_stop", "index": 1},
    {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 30},
    },
    {"type": "message_stop"},
]


def run_anthropic(
    events: list[JSON], include_usage: bool
) -> tuple[list[JSON], AnthropicToOpenAIStream]:
    stream = AnthropicToOpenAIStream("my-model", include_usage, created=7)
    chunks: list[JSON] = []
    for event in events:
        chunks += stream.feed(event["type"], event)
    chunks += stream.finish()
    return chunks, stream


def chunk(delta: JSON, finish: str | None = None, usage: bool = True) -> JSON:
    out: JSON = {
        "id": "chatcmpl-msg_1",
        "object": "chat.completion.chunk",
        "created": 7,
        "model": "claude-x",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage:
        out["usage"] = None
    return out


USAGE_CHUNK = {
    "id": "chatcmpl-msg_1",
    "object": "chat.completion.chunk",
    "created": 7,
    "model": "claude-x",
    "choices": [],
    "usage": {
        "prompt_tokens": 30,
        "completion_tokens": 12,
        "total_tokens": 42,
        "prompt_tokens_details": {"cached_tokens": 5},
    },
}


def test_anthropic_text_stream_to_openai_chunks_with_usage() -> None:
    chunks, stream = run_anthropic(ANTHROPIC_TEXT_EVENTS, include_usage=True)
    assert chunks == [
        chunk({"role": "assistant", "content": ""}),
        chunk({"content": "Hello"}),
        chunk({"content": " world"}),
        chunk({}, "stop"),
        USAGE_CHUNK,
    ]
    assert stream.usage == USAGE_CHUNK["usage"]


def test_anthropic_text_stream_without_usage_has_no_usage_key() -> None:
    chunks, stream = run_anthropic(ANTHROPIC_TEXT_EVENTS, include_usage=False)
    assert chunks == [
        chunk({"role": "assistant", "content": ""}, usage=False),
        chunk({"content": "Hello"}, usage=False),
        chunk({"content": " world"}, usage=False),
        chunk({}, "stop", usage=False),
    ]
    assert stream.usage is not None and stream.usage["completion_tokens"] == 12


def test_anthropic_tool_stream_indexes_tool_calls_from_zero() -> None:
    chunks, _ = run_anthropic(ANTHROPIC_TOOL_EVENTS, include_usage=False)
    start = {
        "index": 0,
        "id": "toolu_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert chunks == [
        chunk({"role": "assistant", "content": ""}, usage=False),
        chunk({"content": "Checking."}, usage=False),
        chunk({"tool_calls": [start]}, usage=False),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}, usage=False),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}, usage=False),
        chunk({}, "tool_calls", usage=False),
    ]


def test_a_tool_call_without_arguments_gets_an_empty_object() -> None:
    # Claude streams a parameterless tool as one empty input_json_delta; OpenAI sends "{}",
    # and clients json.loads the arguments.
    now = {"type": "tool_use", "id": "toolu_9", "name": "now", "input": {}}
    empty = {"type": "input_json_delta", "partial_json": ""}
    events: list[JSON] = [
        MESSAGE_START,
        {"type": "content_block_start", "index": 0, "content_block": now},
        {"type": "content_block_delta", "index": 0, "delta": empty},
        {"type": "content_block_stop", "index": 0},
        *ANTHROPIC_TOOL_EVENTS[-2:],
    ]
    chunks, _ = run_anthropic(events, include_usage=False)
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[1:-1]]
    assert [call["function"]["arguments"] for call in calls] == ["", "{}"]
    assert calls[1]["index"] == calls[0]["index"] == 0
    # A call whose arguments came gets nothing more at its end.
    chunks, _ = run_anthropic(ANTHROPIC_TOOL_EVENTS, include_usage=False)
    sent = [c["choices"][0]["delta"].get("tool_calls") for c in chunks]
    assert [call[0]["function"]["arguments"] for call in sent if call] == [
        "",
        '{"city":',
        ' "Paris"}',
    ]


def test_message_delta_usage_overrides_and_finish_emits_nothing_more() -> None:
    stream = AnthropicToOpenAIStream("m", include_usage=True, created=1)
    stream.feed("message_start", MESSAGE_START)
    out = stream.feed(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "max_tokens"},
            "usage": {"input_tokens": 40, "output_tokens": 2},
        },
    )
    assert [c["choices"] and c["choices"][0]["finish_reason"] for c in out] == ["length", []]
    assert stream.usage == {
        "prompt_tokens": 45,
        "completion_tokens": 2,
        "total_tokens": 47,
        "prompt_tokens_details": {"cached_tokens": 5},
    }
    assert stream.feed("message_stop", {"type": "message_stop"}) == []
    assert stream.finish() == []


def test_truncated_anthropic_stream_is_closed_by_finish() -> None:
    stream = AnthropicToOpenAIStream("m", include_usage=True, created=1)
    stream.feed(None, MESSAGE_START)
    closing = stream.finish()
    assert closing[0]["choices"][0]["finish_reason"] == "stop"
    assert closing[1]["choices"] == [] and closing[1]["usage"]["prompt_tokens"] == 30


def test_anthropic_error_event_raises_with_upstream_message() -> None:
    stream = AnthropicToOpenAIStream("m", include_usage=False)
    stream.feed("message_start", MESSAGE_START)
    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    with pytest.raises(StreamTranslationError, match="Overloaded") as info:
        stream.feed("error", error)
    assert info.value.error_type == "overloaded_error"
