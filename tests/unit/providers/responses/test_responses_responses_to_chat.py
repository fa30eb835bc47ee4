"""Responses API answers -> chat completions (a deployment with api = "responses")."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.errors import UpstreamFailed
from gateway.providers.responses.responses_responses_to_chat import responses_response_to_chat

USAGE = {
    "input_tokens": 10,
    "input_tokens_details": {"cached_tokens": 4},
    "output_tokens": 6,
    "output_tokens_details": {"reasoning_tokens": 3},
    "total_tokens": 16,
}


def response(output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "id": "resp_1",
        "object": "response",
        "created_at": 7,
        "model": "gpt-5.6",
        "status": "completed",
        "output": output,
        "usage": USAGE,
        **extra,
    }


def test_text_and_usage() -> None:
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    text = {"type": "output_text", "text": "Hel", "annotations": []}
    more = {"type": "output_text", "text": "lo", "annotations": []}
    message = {"type": "message", "role": "assistant", "content": [text, more]}
    assert responses_response_to_chat(response([reasoning, message])) == {
        "id": "chatcmpl-resp_1",
        "object": "chat.completion",
        "created": 7,
        "model": "gpt-5.6",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello"},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 6,
            "total_tokens": 16,
            "prompt_tokens_details": {"cached_tokens": 4},
            "completion_tokens_details": {"reasoning_tokens": 3},
        },
    }


def test_calls_refusals_and_finish_reasons() -> None:
    calls = [
        {"type": "function_call", "id": "fc_1", "call_id": "c1", "name": "f", "arguments": "{}"},
        {"type": "custom_tool_call", "id": "ctc_1", "call_id": "c2", "name": "p", "input": "P"},
    ]
    chat = responses_response_to_chat(response(calls))
    message = chat["choices"][0]["message"]
    assert message == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "c2", "type": "custom", "custom": {"name": "p", "input": "P"}},
        ],
    }
    assert chat["choices"][0]["finish_reason"] == "tool_calls"
    refused = {"type": "message", "content": [{"type": "refusal", "refusal": "No."}]}
    chat = responses_response_to_chat(response([refused]))
    assert chat["choices"][0]["message"]["refusal"] == "No."
    for reason, finish in (("max_output_tokens", "length"), ("content_filter", "content_filter")):
        cut = response([], status="incomplete", incomplete_details={"reason": reason})
        assert responses_response_to_chat(cut)["choices"][0]["finish_reason"] == finish


def test_a_lying_usage_is_the_upstreams_failure() -> None:
    with pytest.raises(UpstreamFailed):
        responses_response_to_chat(response([], usage={"input_tokens": -5}))
