"""OpenAI chunks -> Anthropic stream events: exact event sequences."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic.errors import StreamTranslationError
from gateway.providers.anthropic.streams_openai_to_anthropic import OpenAIToAnthropicStream

JSON = dict[str, Any]


def openai_chunk(delta: JSON, finish: str | None = None) -> JSON:
    return {
        "id": "chatcmpl-9",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-x",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        "usage": None,
    }


OPENAI_USAGE_CHUNK: JSON = {
    "id": "chatcmpl-9",
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "gpt-x",
    "choices": [],
    "usage": {"prompt_tokens": 20, "completion_tokens": 5, "total_tokens": 25},
}

OPENAI_TEXT_CHUNKS = [
    openai_chunk({"role": "assistant", "content": "", "refusal": None}),
    openai_chunk({"content": "Hello"}),
    openai_chunk({"content": " world"}),
    openai_chunk({}, "stop"),
    OPENAI_USAGE_CHUNK,
]

OPENAI_TOOL_CHUNKS = [
    openai_chunk({"role": "assistant", "content": None}),
    openai_chunk({"content": "Checking."}),
    openai_chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        }
    ),
    openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
    openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}),
    openai_chunk(
        {
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "now", "arguments": "{}"},
                }
            ]
        }
    ),
    openai_chunk({}, "tool_calls"),
    OPENAI_USAGE_CHUNK,
]


def run_openai(chunks: list[JSON]) -> tuple[list[tuple[str, JSON]], OpenAIToAnthropicStream]:
    stream = OpenAIToAnthropicStream("my-model", input_tokens_estimate=18)
    events: list[tuple[str, JSON]] = []
    for item in chunks:
        events += stream.feed(item)
    events += stream.finish()
    return events, stream


MESSAGE_START_OUT = (
    "message_start",
    {
        "type": "message_start",
        "message": {
            "id": "msg_chatcmpl-9",
            "type": "message",
            "role": "assistant",
            "model": "gpt-x",
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 18, "output_tokens": 0},
        },
    },
)


def delta_event(index: int, delta: JSON) -> tuple[str, JSON]:
    return ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})


def closing(stop: str, usage: JSON) -> list[tuple[str, JSON]]:
    return [
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": usage,
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]


def test_openai_text_stream_to_anthropic_events() -> None:
    events, stream = run_openai(OPENAI_TEXT_CHUNKS)
    assert events == [
        MESSAGE_START_OUT,
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        delta_event(0, {"type": "text_delta", "text": "Hello"}),
        delta_event(0, {"type": "text_delta", "text": " world"}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        *closing("end_turn", {"output_tokens": 5, "input_tokens": 20}),
    ]
    assert stream.usage == {"input_tokens": 20, "output_tokens": 5}
    assert stream.finish() == []


def test_openai_tool_stream_to_anthropic_events() -> None:
    events, _ = run_openai(OPENAI_TOOL_CHUNKS)
    tool_1 = {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {}}
    tool_2 = {"type": "tool_use", "id": "call_2", "name": "now", "input": {}}
    assert events == [
        MESSAGE_START_OUT,
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
        delta_event(0, {"type": "text_delta", "text": "Checking."}),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 1, "content_block": tool_1},
        ),
        delta_event(1, {"type": "input_json_delta", "partial_json": '{"city":'}),
        delta_event(1, {"type": "input_json_delta", "partial_json": ' "Paris"}'}),
        ("content_block_stop", {"type": "content_block_stop", "index": 1}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 2, "content_block": tool_2},
        ),
        delta_event(2, {"type": "input_json_delta", "partial_json": "{}"}),
        ("content_block_stop", {"type": "content_block_stop", "index": 2}),
        *closing("tool_use", {"output_tokens": 5, "input_tokens": 20}),
    ]


def test_openai_stream_without_usage_and_with_cached_usage() -> None:
    events, stream = run_openai(OPENAI_TEXT_CHUNKS[:4])
    assert events[-2:] == closing("end_turn", {"output_tokens": 0})
    assert stream.usage is None

    cached = {
        **OPENAI_USAGE_CHUNK,
        "usage": {**OPENAI_USAGE_CHUNK["usage"], "prompt_tokens_details": {"cached_tokens": 8}},
    }
    events, stream = run_openai([*OPENAI_TEXT_CHUNKS[:4], cached])
    assert events[-2][1]["usage"] == {
        "output_tokens": 5,
        "input_tokens": 12,
        "cache_read_input_tokens": 8,
    }
    assert stream.usage == {"input_tokens": 12, "output_tokens": 5, "cache_read_input_tokens": 8}


def test_tool_calls_without_index_split_on_new_ids() -> None:
    calls = [
        openai_chunk({"tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]}),
        openai_chunk({"tool_calls": [{"id": "b", "function": {"name": "g", "arguments": "{}"}}]}),
        openai_chunk({}, "tool_calls"),
    ]
    events, _ = run_openai(calls)
    starts = [data["content_block"]["id"] for name, data in events if name == "content_block_start"]
    assert starts == ["a", "b"]
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_empty_openai_stream_still_yields_a_valid_message() -> None:
    events, _ = run_openai([])
    assert [name for name, _ in events] == ["message_start", "message_delta", "message_stop"]


def test_openai_error_chunk_raises() -> None:
    stream = OpenAIToAnthropicStream("m", 1)
    with pytest.raises(StreamTranslationError, match="boom"):
        stream.feed({"error": {"message": "boom", "type": "server_error"}})


def test_tool_calls_with_finish_reason_stop_end_for_tool_use() -> None:
    # What OpenAI streams when tool_choice names a function: tool calls, then "stop".
    calls = [
        openai_chunk({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f"}}]}),
        openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}),
        openai_chunk({}, "stop"),
    ]
    events, _ = run_openai(calls)
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"
