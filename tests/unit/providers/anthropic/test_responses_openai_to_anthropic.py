"""OpenAI chat completion -> Anthropic message (golden bodies, stop reasons, usage)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.providers.anthropic.responses_openai_to_anthropic import openai_response_to_anthropic

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


def test_tool_calls_with_finish_reason_stop_end_for_tool_use() -> None:
    # OpenAI answers so when tool_choice names a function; the client's loop needs "tool_use".
    forced: dict[str, Any] = copy.deepcopy(OPENAI_TOOL_RESPONSE)
    forced["choices"][0]["finish_reason"] = "stop"
    assert openai_response_to_anthropic(forced, "m")["stop_reason"] == "tool_use"
