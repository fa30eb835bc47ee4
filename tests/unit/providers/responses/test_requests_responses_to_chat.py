"""Responses API requests -> chat completions requests."""

from __future__ import annotations

import pytest

from gateway.json_types import JSON
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.responses.chat_tools import tool_origins
from gateway.providers.responses.requests_responses_to_chat import (
    NO_RESULT,
    responses_request_to_chat,
)

TOOL = {"type": "function", "name": "get_weather", "parameters": {"type": "object"}}


def test_string_input_and_instructions() -> None:
    body = {"model": "pub", "input": "hi", "instructions": "be brief", "max_output_tokens": 9}
    assert responses_request_to_chat(body, "up") == {
        "model": "up",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "max_tokens": 9,
    }


def test_items_tool_round_trip() -> None:
    body = {
        "model": "pub",
        "input": [
            {"role": "developer", "content": "rules"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "w?"}]},
            {"type": "reasoning", "id": "rs_1", "summary": []},
            {"type": "function_call", "call_id": "c1", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call", "call_id": "c2", "name": "get_weather", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c1", "output": "sunny"},
        ],
        "tools": [TOOL],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "stream": True,
    }
    chat = responses_request_to_chat(body, "up")
    assert chat["messages"] == [
        {"role": "system", "content": "rules"},
        {"role": "user", "content": [{"type": "text", "text": "w?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sunny"},
        # c2's output is not in the input (chat refuses a call without one).
        {"role": "tool", "tool_call_id": "c2", "content": NO_RESULT},
    ]
    assert chat["tools"] == [
        {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "get_weather"}}
    assert chat["stream"] is True


def test_text_format_and_reasoning() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    body = {
        "model": "pub",
        "input": "x",
        "text": {"format": {"type": "json_schema", "name": "A", "schema": schema, "strict": True}},
        "reasoning": {"effort": "low"},
        "metadata": {"k": "v"},
        "store": False,
    }
    chat = responses_request_to_chat(body, "up")
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "A", "schema": schema, "strict": True},
    }
    assert chat["reasoning_effort"] == "low"
    assert "metadata" not in chat and "store" not in chat


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "x", "previous_response_id": "resp_1"}, "previous_response_id"),
        ({"input": "x", "background": True}, "background"),
        ({"input": "x", "tools": [{"type": "file_search"}]}, "tools"),
        ({"input": "x", "tools": [TOOL], "tool_choice": {"type": "web_search"}}, "tool_choice"),
        (
            {"input": "x", "tools": [{"type": "web_search"}], "tool_choice": "required"},
            "tool_choice",
        ),
        ({"input": [{"type": "item_reference", "id": "msg_1"}]}, "input[0].type"),
        ({"input": ["x"]}, "input[0]"),
        ({"input": [{"role": "tool", "content": "x"}]}, "input[0].role"),
        ({"input": [{"role": "user", "content": 3}]}, "input[0].content"),
        ({"input": [{"role": "user", "content": [{"type": "input_file"}]}]}, "input[0].content"),
        ({"input": 3}, "input"),
    ],
)
def test_what_chat_cannot_carry_is_refused_naming_the_param(
    body: dict[str, object], param: str
) -> None:
    # The param is the 400's `param`, as OpenAI names the field at fault.
    with pytest.raises(TranslationError) as info:
        responses_request_to_chat({"model": "pub", **body}, "up")
    assert info.value.param == param


def test_the_images_of_function_call_outputs_follow_the_tool_messages() -> None:
    # A tool message carries text only; a screenshot a tool returned must still reach the model.
    image = {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "low"}
    chat = responses_request_to_chat(
        {
            "model": "pub",
            "input": [
                {"type": "function_call", "call_id": "c1", "name": "shot", "arguments": "{}"},
                {"type": "function_call", "call_id": "c2", "name": "shot", "arguments": "{}"},
                {
                    "type": "function_call_output",
                    "call_id": "c1",
                    "output": [{"type": "input_text", "text": "the screen"}, image],
                },
                {"type": "function_call_output", "call_id": "c2", "output": "nothing"},
                {"role": "user", "content": "What do you see?"},
            ],
        },
        "up",
    )
    assert chat["messages"][1:] == [
        {"role": "tool", "tool_call_id": "c1", "content": "the screen"},
        {"role": "tool", "tool_call_id": "c2", "content": "nothing"},
        {
            "role": "user",
            "content": [
                {
                    "type": "image_url",
                    "image_url": {"url": "data:image/png;base64,iVBO", "detail": "low"},
                }
            ],
        },
        {"role": "user", "content": "What do you see?"},
    ]
    with pytest.raises(TranslationError) as info:
        responses_request_to_chat(
            {
                "model": "pub",
                "input": [
                    {
                        "type": "function_call_output",
                        "call_id": "c1",
                        "output": [{"type": "input_file", "file_id": "file_1"}],
                    }
                ],
            },
            "up",
        )
    assert info.value.param == "input[0].output"


def test_codex_tools_and_their_calls_go_as_functions() -> None:
    # Codex's apply_patch (a custom tool) and an MCP server's tools (a namespace), with the
    # calls and outputs of an earlier turn.
    apply_patch = {"type": "custom", "name": "apply_patch", "description": "Edit files."}
    docs = {"type": "namespace", "name": "mcp__docs__", "description": "Docs", "tools": [TOOL]}
    body = {
        "model": "pub",
        "input": [
            {"role": "user", "content": "fix it"},
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "P"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "Done!"},
            {
                "type": "function_call",
                "call_id": "c2",
                "name": "get_weather",
                "namespace": "mcp__docs__",
                "arguments": "{}",
            },
            {"type": "function_call_output", "call_id": "c2", "output": "sunny"},
        ],
        "tools": [apply_patch, docs],
        "tool_choice": {"type": "custom", "name": "apply_patch"},
    }
    chat = responses_request_to_chat(body, "up")
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "apply_patch", "arguments": '{"input":"P"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Done!"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "mcp__docs__get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c2", "content": "sunny"},
    ]
    assert [t["function"]["name"] for t in chat["tools"]] == [
        "apply_patch",
        "mcp__docs__get_weather",
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "apply_patch"}}


def test_a_client_tool_search_and_what_it_loaded_go_as_a_call_and_its_result() -> None:
    search = {"type": "tool_search", "execution": "client", "parameters": {"type": "object"}}
    deferred = {"type": "function", "name": "create_issue", "defer_loading": True}
    jira = {"type": "namespace", "name": "mcp__jira__", "description": "Jira", "tools": [deferred]}
    found = {**jira, "tools": [{"type": "function", "name": "create_issue"}]}
    body = {
        "model": "pub",
        "input": [
            {"role": "user", "content": "file a bug"},
            {
                "type": "tool_search_call",
                "call_id": "s1",
                "execution": "client",
                "arguments": {"query": "jira"},
            },
            {
                "type": "tool_search_output",
                "call_id": "s1",
                "execution": "client",
                "tools": [found],
            },
        ],
        "tools": [search, jira],
    }
    chat = responses_request_to_chat(body, "up")
    assert chat["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "s1",
                    "type": "function",
                    "function": {"name": "tool_search", "arguments": '{"query":"jira"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "s1", "content": "Tools loaded: mcp__jira__create_issue"},
    ]
    assert [t["function"]["name"] for t in chat["tools"]] == [
        "tool_search",
        "mcp__jira__create_issue",
    ]


def test_a_request_with_only_optional_hosted_tools_asks_for_none() -> None:
    body = {"input": "x", "tools": [{"type": "web_search"}], "tool_choice": "auto"}
    chat = responses_request_to_chat(body, "m")
    assert "tools" not in chat and "tool_choice" not in chat
    with_one = {**body, "tools": [TOOL, {"type": "web_search"}]}
    chat = responses_request_to_chat(with_one, "m")
    assert [t["function"]["name"] for t in chat["tools"]] == [TOOL["name"]]
    assert chat["tool_choice"] == "auto"


def _call(call_id: str) -> JSON:
    return {"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": "{}"}


def _output(call_id: str | None, text: str) -> JSON:
    item: JSON = {"type": "function_call_output", "output": text}
    if call_id is not None:
        item["call_id"] = call_id
    return item


def test_calls_and_outputs_out_of_pair_are_made_what_chat_takes() -> None:
    body = {
        "model": "pub",
        "tools": [TOOL],
        "input": [
            {"role": "user", "content": "w?"},
            _call("a"),  # stopped: its output never came
            {"role": "user", "content": "never mind; and Rome?"},
            _call("b"),
            _output(None, "heartbeat ok"),  # Codex's injected output, no call_id
            _output("b", "rainy"),
            _output("zz", "late"),  # its call is not in the conversation
            _call("c"),  # the last item: a call whose output is still to come
        ],
    }
    messages = responses_request_to_chat(body, "up")["messages"]
    shape = [(m["role"], m.get("tool_call_id"), m.get("content")) for m in messages]
    assert shape == [
        ("user", None, "w?"),
        ("assistant", None, None),
        ("tool", "a", NO_RESULT),
        ("user", None, "never mind; and Rome?"),
        ("assistant", None, None),
        ("tool", "b", "rainy"),
        ("user", None, "The output of a tool call (without an id) this conversation does not "
                       "hold:\nheartbeat ok"),
        ("user", None, "The output of a tool call (zz) this conversation does not hold:\nlate"),
        ("assistant", None, None),
        ("tool", "c", NO_RESULT),
    ]  # fmt: skip


def test_a_conversation_in_order_is_unchanged() -> None:
    body = {
        "model": "pub",
        "tools": [TOOL],
        "input": [{"role": "user", "content": "w?"}, _call("a"), _call("b"),
                  _output("b", "1"), _output("a", "2"), {"role": "user", "content": "ok"}],
    }  # fmt: skip
    messages = responses_request_to_chat(body, "up")["messages"]
    assert [(m["role"], m.get("tool_call_id")) for m in messages] == [
        ("user", None), ("assistant", None), ("tool", "b"), ("tool", "a"), ("user", None)
    ]  # fmt: skip


def test_an_additional_tools_item_offers_its_tools() -> None:
    # What Codex 0.154 puts at the head of its input.
    exec_tool = {"type": "custom", "name": "exec", "description": "Run JavaScript"}
    deferred = {"type": "function", "name": "later", "defer_loading": True}
    body = {
        "model": "pub",
        "tools": [TOOL],
        "input": [
            {
                "type": "additional_tools",
                "id": "at_1",
                "role": "developer",
                "tools": [
                    {"type": "namespace", "name": "functions", "tools": [exec_tool]},
                    TOOL,  # offered already: once
                    deferred,
                ],
            },
            {"role": "developer", "content": "rules"},
            {"role": "user", "content": "go"},
        ],
    }
    chat = responses_request_to_chat(body, "up")
    assert [m["role"] for m in chat["messages"]] == ["system", "user"]
    assert [t["function"]["name"] for t in chat["tools"]] == ["get_weather", "functions__exec"]
    origin = tool_origins(body)["functions__exec"]
    assert (origin.name, origin.namespace, origin.kind) == ("exec", "functions", "custom")
