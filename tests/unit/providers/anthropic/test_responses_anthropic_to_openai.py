"""Anthropic message -> OpenAI chat completion (golden bodies, stop reasons, usage)."""

from __future__ import annotations

import pytest

from gateway.providers.anthropic.responses_anthropic_to_openai import anthropic_response_to_openai

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
