"""JSON responses, stop reasons, usage and error bodies between Anthropic and OpenAI."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic_translate import (
    anthropic_error_to_openai,
    anthropic_response_to_openai,
    openai_error_to_anthropic,
    openai_response_to_anthropic,
)

ANTHROPIC_TEXT = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "output_tokens": 3},
}


def test_anthropic_text_response_to_openai() -> None:
    assert anthropic_response_to_openai(ANTHROPIC_TEXT, "my-model", created=123) == {
        "id": "chatcmpl-msg_01",
        "object": "chat.completion",
        "created": 123,
        "model": "my-model",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello world", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13},
    }


def test_anthropic_tool_use_response_to_openai_with_cached_usage() -> None:
    resp = {
        **ANTHROPIC_TEXT,
        "content": [
            {"type": "thinking", "thinking": "hmm", "signature": "s"},
            {
                "type": "tool_use",
                "id": "toolu_1",
                "name": "get_weather",
                "input": {"city": "Paris", "n": 1},
            },
        ],
        "stop_reason": "tool_use",
        "usage": {
            "input_tokens": 5,
            "output_tokens": 7,
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
        },
    }
    out = anthropic_response_to_openai(resp, "m")
    assert isinstance(out["created"], int)
    choice = out["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "toolu_1",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city":"Paris","n":1}'},
        }
    ]
    assert out["usage"] == {
        "prompt_tokens": 125,
        "completion_tokens": 7,
        "total_tokens": 132,
        "prompt_tokens_details": {"cached_tokens": 100},
    }


@pytest.mark.parametrize(
    ("stop", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
    ],
)
def test_anthropic_stop_reasons(stop: str, finish: str) -> None:
    out = anthropic_response_to_openai({**ANTHROPIC_TEXT, "stop_reason": stop}, "m")
    assert out["choices"][0]["finish_reason"] == finish


OPENAI_TOOL_RESPONSE = {
    "id": "chatcmpl-abc",
    "object": "chat.completion",
    "created": 1,
    "model": "gpt-x",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "noop", "arguments": "oops"},
                    },
                ],
            },
            "finish_reason": "tool_calls",
        }
    ],
    "usage": {
        "prompt_tokens": 50,
        "completion_tokens": 9,
        "total_tokens": 59,
        "prompt_tokens_details": {"cached_tokens": 30},
    },
}


def test_openai_tool_response_to_anthropic() -> None:
    assert openai_response_to_anthropic(OPENAI_TOOL_RESPONSE, "my-model") == {
        "id": "msg_chatcmpl-abc",
        "type": "message",
        "role": "assistant",
        "model": "my-model",
        "content": [
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
            {"type": "tool_use", "id": "call_2", "name": "noop", "input": {}},
        ],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 20, "output_tokens": 9, "cache_read_input_tokens": 30},
    }


@pytest.mark.parametrize(
    ("finish", "stop"),
    [
        ("stop", "end_turn"),
        ("length", "max_tokens"),
        ("tool_calls", "tool_use"),
        ("function_call", "tool_use"),
        ("content_filter", "refusal"),
        (None, "end_turn"),
    ],
)
def test_openai_finish_reasons(finish: Any, stop: str) -> None:
    resp = {
        "id": "x",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": finish}
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }
    out = openai_response_to_anthropic(resp, "m")
    assert out["stop_reason"] == stop
    assert out["content"] == [{"type": "text", "text": "hi"}]
    assert out["usage"] == {"input_tokens": 1, "output_tokens": 1}


def test_usage_round_trip_keeps_prompt_totals() -> None:
    back = anthropic_response_to_openai(
        openai_response_to_anthropic(OPENAI_TOOL_RESPONSE, "m"), "m"
    )
    assert back["usage"] == OPENAI_TOOL_RESPONSE["usage"]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (413, "request_too_large"),
        (422, "invalid_request_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (503, "api_error"),
        (529, "overloaded_error"),
    ],
)
def test_error_types_by_status(status: int, kind: str) -> None:
    openai_body = {"error": {"message": "nope", "type": "x", "param": None, "code": None}}
    assert openai_error_to_anthropic(status, openai_body, "fallback") == {
        "type": "error",
        "error": {"type": kind, "message": "nope"},
    }
    anthropic_body = {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}
    assert anthropic_error_to_openai(status, anthropic_body, "fallback") == {
        "error": {"message": "busy", "type": kind, "param": None, "code": "overloaded_error"}
    }


def test_error_message_fallbacks() -> None:
    assert (
        openai_error_to_anthropic(502, None, "upstream down")["error"]["message"] == "upstream down"
    )
    assert openai_error_to_anthropic(400, {"error": "bad"}, "f")["error"]["message"] == "bad"
    assert anthropic_error_to_openai(500, {"message": "boom"}, "f") == {
        "error": {"message": "boom", "type": "api_error", "param": None, "code": None}
    }
