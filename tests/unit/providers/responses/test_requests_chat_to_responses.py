"""Chat completions requests -> Responses API requests (a deployment with api = "responses")."""

from __future__ import annotations

import pytest

from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.responses.requests_chat_to_responses import chat_request_to_responses


def test_messages_tools_and_settings() -> None:
    body = {
        "model": "pub",
        "messages": [
            {"role": "developer", "content": "rules"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "w?"},
                    {"type": "image_url", "image_url": {"url": "http://i/p.png", "detail": "low"}},
                    {"type": "file", "file": {"file_id": "file-1", "ignored": 1}},
                ],
            },
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "Let me look."}],
                "tool_calls": [
                    {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}},
                    {"id": "c2", "type": "custom", "custom": {"name": "patch", "input": "P"}},
                ],
            },
            {"role": "tool", "tool_call_id": "c1", "content": [{"type": "text", "text": "ok"}]},
        ],
        "tools": [
            {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}},
            {"type": "custom", "custom": {"name": "patch", "description": "Edit files"}},
        ],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "max_tokens": 9,
        "reasoning_effort": "low",
        "verbosity": "low",
        "response_format": {"type": "json_object"},
        "temperature": 0.2,
        "n": 1,
        "stream_options": {"include_usage": True},
        "unknown_vendor_field": True,
    }
    assert chat_request_to_responses(body, "up") == {
        "model": "up",
        "input": [
            {
                "type": "message",
                "role": "developer",
                "content": [{"type": "input_text", "text": "rules"}],
            },
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "w?"},
                    {"type": "input_image", "image_url": "http://i/p.png", "detail": "low"},
                    {"type": "input_file", "file_id": "file-1"},
                ],
            },
            {"type": "message", "role": "assistant", "content": "Let me look."},
            {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "patch", "input": "P"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
        ],
        "store": False,
        "temperature": 0.2,
        "max_output_tokens": 16,  # OpenAI's least (9 asked)
        "tools": [
            {"type": "function", "name": "f", "parameters": {"type": "object"}, "strict": False},
            {"type": "custom", "name": "patch", "description": "Edit files"},
        ],
        "tool_choice": {"type": "function", "name": "f"},
        "reasoning": {"effort": "low"},
        "text": {"format": {"type": "json_object"}, "verbosity": "low"},
    }


def test_a_json_schema_response_format_is_the_text_format() -> None:
    schema = {"name": "w", "schema": {"type": "object"}, "strict": True}
    body = {
        "messages": [{"role": "user", "content": "w?"}],
        "response_format": {"type": "json_schema", "json_schema": schema},
        "max_completion_tokens": 50,
        "max_tokens": 99,
    }
    upstream = chat_request_to_responses(body, "up")
    assert upstream["text"] == {"format": {"type": "json_schema", **schema}}
    assert upstream["max_output_tokens"] == 50  # max_completion_tokens first, as OpenAI reads them


def test_a_limit_below_openais_least_is_raised_to_it() -> None:
    # Claude Code checks a model with `max_tokens: 1` ("Invalid 'max_output_tokens': integer
    # below minimum value. Expected a value >= 16, but got 1 instead.").
    probe = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 1}
    assert chat_request_to_responses(probe, "up")["max_output_tokens"] == 16


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"stop": ["x"]}, "stop"),
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"presence_penalty": 0.5}, "presence_penalty"),
        ({"seed": 1}, "seed"),
        ({"seed": 0}, "seed"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"messages": [{"role": "function", "name": "f", "content": "x"}]}, "messages[0].role"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "messages[0].content",
        ),
        ({"messages": "hi"}, "messages"),
        ({"tools": [{"type": "web_search"}]}, "tools"),
        ({"tool_choice": {"type": "allowed_tools"}}, "tool_choice"),
    ],
)
def test_what_the_responses_api_has_no_place_for_is_refused(
    extra: dict[str, object], param: str
) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], **extra}
    with pytest.raises(TranslationError) as refused:
        chat_request_to_responses(body, "up")
    assert refused.value.param == param


def test_the_values_clients_send_as_defaults_ask_for_nothing() -> None:
    body = {
        "messages": [{"role": "user", "content": "hi"}],
        "n": 1,
        "stop": None,
        "logprobs": False,
        "presence_penalty": 0,
        "frequency_penalty": 0.0,
        "modalities": ["text"],
        "logit_bias": {},
    }
    assert chat_request_to_responses(body, "up")["input"][0]["role"] == "user"


def test_a_function_is_strict_only_when_the_chat_tool_says_so() -> None:
    """The Responses API makes a function that does not say strict ("normalize your schema
    into strict mode ... which can make previously optional fields mandatory"); chat does not."""
    schema = {"type": "object", "properties": {"limit": {"type": "integer"}}}
    tools = [
        {"type": "function", "function": {"name": name, "parameters": schema, **extra}}
        for name, extra in (
            ("plain", {}),
            ("strict", {"strict": True}),
            ("loose", {"strict": False}),
        )
    ]
    body = {"messages": [{"role": "user", "content": "hi"}], "tools": tools}
    sent = chat_request_to_responses(body, "up")["tools"]
    assert [(t["name"], t["strict"]) for t in sent] == [
        ("plain", False),
        ("strict", True),
        ("loose", False),
    ]
