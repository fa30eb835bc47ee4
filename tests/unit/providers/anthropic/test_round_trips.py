"""Round trips through both directions: what one translator writes, the other reads back.

Golden tests per module live beside it, named for the module they test
(test_requests_openai_to_anthropic.py, test_streams_anthropic_to_openai.py, ...).
"""

from __future__ import annotations

from typing import Any

from gateway.providers.anthropic.requests_anthropic_to_openai import anthropic_request_to_openai
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
from gateway.providers.anthropic.responses_anthropic_to_openai import anthropic_response_to_openai
from gateway.providers.anthropic.responses_openai_to_anthropic import openai_response_to_anthropic
from gateway.providers.anthropic.streams_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.anthropic.streams_openai_to_anthropic import OpenAIToAnthropicStream
from tests.unit.providers.anthropic.test_responses_openai_to_anthropic import OPENAI_TOOL_RESPONSE

CONVERSATION: list[dict[str, Any]] = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
    {"role": "assistant", "content": "18C in Paris."},
    {
        "role": "user",
        "content": [{"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}}],
    },
]
TOOLS = [
    {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
]


def test_openai_request_survives_a_round_trip_through_anthropic() -> None:
    body = {
        "model": "gpt",
        "messages": CONVERSATION,
        "tools": TOOLS,
        "tool_choice": "required",
        "max_tokens": 99,
        "stop": ["END"],
        "user": "u",
        "stream": True,
    }
    back = anthropic_request_to_openai(openai_request_to_anthropic(body, "claude"), "gpt")
    assert back == {
        "model": "gpt",
        "messages": CONVERSATION[:2]
        + [{**CONVERSATION[2], "content": None}, CONVERSATION[3], CONVERSATION[4], CONVERSATION[5]],
        "max_tokens": 99,
        "stop": ["END"],
        "user": "u",
        "stream": True,
        "stream_options": {"include_usage": True},
        "tools": TOOLS,
        "tool_choice": "required",
    }


def test_streams_round_trip_openai_chunks_through_anthropic_events() -> None:
    original: list[dict[str, Any]] = [
        {
            "id": "c",
            "choices": [
                {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}
            ],
        },
        {"id": "c", "choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]},
        {"id": "c", "choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]},
        {
            "id": "c",
            "choices": [],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        },
    ]
    to_anthropic = OpenAIToAnthropicStream("m", 3)
    events = [e for c in original for e in to_anthropic.feed(c)] + to_anthropic.finish()
    to_openai = AnthropicToOpenAIStream("m", include_usage=True, created=1)
    chunks = [c for name, data in events for c in to_openai.feed(name, data)] + to_openai.finish()
    assert [c["choices"][0]["delta"] if c["choices"] else c["usage"] for c in chunks] == [
        {"role": "assistant", "content": ""},
        {"content": "Hi"},
        {},
        {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    ]
    assert chunks[2]["choices"][0]["finish_reason"] == "length"
    assert chunks[0]["id"] == "chatcmpl-msg_c"


def test_usage_round_trip_keeps_prompt_totals() -> None:
    back = anthropic_response_to_openai(
        openai_response_to_anthropic(OPENAI_TOOL_RESPONSE, "m"), "m"
    )
    assert back["usage"] == OPENAI_TOOL_RESPONSE["usage"]
