"""Stream translation, both ways: exact chunk and event sequences."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic_translate import (
    AnthropicToOpenAIStream,
    OpenAIToAnthropicStream,
    StreamTranslationError,
)

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
        "model": "my-model",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    if usage:
        out["usage"] = None
    return out


USAGE_CHUNK = {
    "id": "chatcmpl-msg_1",
    "object": "chat.completion.chunk",
    "created": 7,
    "model": "my-model",
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


# --------------------------------------------------------------------------- OpenAI -> Anthropic


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
            "model": "my-model",
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
