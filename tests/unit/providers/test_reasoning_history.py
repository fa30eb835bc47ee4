"""The model's reasoning sent back as `reasoning_content`, to the upstreams that want it."""

from __future__ import annotations

import copy

from gateway.config.provider_types import ProviderConfig, ProviderType
from gateway.json_types import JSON
from gateway.providers.anthropic.requests_anthropic_to_openai import anthropic_request_to_openai
from gateway.providers.reasoning_history import wants_reasoning_content, with_reasoning_content
from gateway.providers.responses.requests_responses_to_chat import responses_request_to_chat


def provider(kind: ProviderType, base_url: str, setting: bool | None = None) -> ProviderConfig:
    return ProviderConfig(name="p", type=kind, base_url=base_url, reasoning_content=setting)


def test_deepseeks_api_wants_it_unless_told_otherwise() -> None:
    assert wants_reasoning_content(provider("openai", "https://api.deepseek.com"))
    assert wants_reasoning_content(provider("openai", "https://api.deepseek.com/v1"))
    # Moonshot's Kimi wants it too, on either of its APIs.
    assert wants_reasoning_content(provider("openai", "https://api.moonshot.ai/v1"))
    assert wants_reasoning_content(provider("openai", "https://api.moonshot.cn/v1"))
    assert not wants_reasoning_content(provider("openai", "https://api.deepseek.com", False))
    assert not wants_reasoning_content(provider("openai", "https://api.openai.com/v1"))
    assert not wants_reasoning_content(provider("openai", "http://vllm:8000/v1"))
    assert wants_reasoning_content(provider("openai", "http://vllm:8000/v1", True))
    assert wants_reasoning_content(provider("azure", "https://r.openai.azure.com", True))


def test_every_assistant_message_gets_one_and_the_clients_body_is_left_alone() -> None:
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a", "reasoning_content": "kept"},
        {"role": "assistant", "content": "b", "reasoning": "OpenRouter's name"},
        {"role": "assistant", "content": None, "tool_calls": []},
        {"role": "tool", "tool_call_id": "c", "content": "t"},
    ]
    body: JSON = {"model": "m", "messages": messages}
    before = copy.deepcopy(body)
    upstream = dict(body)
    with_reasoning_content(upstream)
    assert body == before
    assert [m.get("reasoning_content") for m in upstream["messages"]] == [
        None,
        None,
        "kept",
        "OpenRouter's name",
        "",
        None,
    ]
    empty: dict[str, object] = {"prompt": "legacy completions have no messages"}
    with_reasoning_content(empty)
    assert empty == {"prompt": "legacy completions have no messages"}


def test_an_anthropic_clients_thinking_is_carried_only_when_asked() -> None:
    body = {
        "max_tokens": 10,
        "messages": [
            {"role": "user", "content": "w?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Ask ", "signature": "s"},
                    {"type": "thinking", "thinking": "the tool.", "signature": "s"},
                    {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]},
        ],
    }
    carried = anthropic_request_to_openai(body, "up", reasoning_content=True)
    assert carried["messages"][1]["reasoning_content"] == "Ask the tool."
    assert "reasoning_content" not in anthropic_request_to_openai(body, "up")["messages"][1]


def test_a_responses_clients_reasoning_goes_with_the_next_assistant_message() -> None:
    body = {
        "input": [
            {"role": "user", "content": "w?"},
            {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Summary."}]},
            {
                "type": "reasoning",
                "summary": [{"type": "summary_text", "text": "not this"}],
                "content": [{"type": "reasoning_text", "text": "Full thought."}],
            },
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
            {"role": "assistant", "content": "It is sunny."},
        ]
    }
    messages = responses_request_to_chat(body, "up", reasoning_content=True)["messages"]
    assert [m.get("reasoning_content") for m in messages] == [
        None,
        "Summary.Full thought.",
        None,
        None,
    ]
    plain = responses_request_to_chat(body, "up")["messages"]
    assert all("reasoning_content" not in m for m in plain)
