"""Anthropic Messages request -> OpenAI chat request (golden bodies)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.anthropic.requests_anthropic_to_openai import anthropic_request_to_openai


def translate(**body: Any) -> dict[str, Any]:
    return anthropic_request_to_openai(body, "gpt-x")


def test_minimal_request() -> None:
    assert translate(
        model="claude", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
    ) == {
        "model": "gpt-x",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 64,
    }


def test_system_string_and_blocks_become_the_first_message() -> None:
    assert translate(system="Be brief.", messages=[{"role": "user", "content": "Hi"}])["messages"][
        0
    ] == {
        "role": "system",
        "content": "Be brief.",
    }
    blocks = [
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "Use French."},
    ]
    out = translate(system=blocks, messages=[{"role": "user", "content": "Hi"}])
    assert out["messages"][0] == {"role": "system", "content": "Be brief.\n\nUse French."}


def test_multi_turn_text_blocks_and_images() -> None:
    out = translate(
        messages=[
            {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
            {
                "role": "assistant",
                "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "!"}],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"},
                    },
                    {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
                ],
            },
        ]
    )
    assert out["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,QUJD"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/a.png"}},
            ],
        },
    ]


def test_tool_use_and_tool_results_become_tool_calls_and_tool_messages() -> None:
    out = translate(
        messages=[
            {"role": "user", "content": "Weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "sig"},
                    {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "name": "get_weather",
                        "input": {"city": "Paris"},
                    },
                    {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Here you go"},
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "is_error": True,
                        "content": [
                            {"type": "text", "text": "no"},
                            {"type": "text", "text": "city"},
                        ],
                    },
                ],
            },
        ]
    )
    assert out["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "toolu_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": "no\ncity"},
        {"role": "user", "content": "Here you go"},
    ]


def test_a_tool_results_images_and_documents_follow_the_tool_messages() -> None:
    # A tool message carries text only; a screenshot a tool returned must still reach the model.
    png = {"type": "base64", "media_type": "image/png", "data": "iVBO"}
    pdf = {"type": "base64", "media_type": "application/pdf", "data": "JVBE"}
    out = translate(
        messages=[
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "screenshot", "input": {}},
                    {"type": "tool_use", "id": "toolu_2", "name": "read", "input": {}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_1",
                        "content": [
                            {"type": "text", "text": "the screen"},
                            {"type": "image", "source": png},
                        ],
                    },
                    {
                        "type": "tool_result",
                        "tool_use_id": "toolu_2",
                        "content": [{"type": "document", "source": pdf}],
                    },
                    {"type": "text", "text": "What do you see?"},
                ],
            },
        ]
    )
    assert out["messages"][1:] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "the screen"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": ""},
        {
            "role": "user",
            "content": [
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}},
                {
                    "type": "file",
                    "file": {
                        "filename": "document.pdf",
                        "file_data": "data:application/pdf;base64,JVBE",
                    },
                },
                {"type": "text", "text": "What do you see?"},
            ],
        },
    ]


def test_tools_and_tool_choice() -> None:
    tool = {"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}
    out = translate(
        messages=[{"role": "user", "content": "x"}],
        tools=[tool],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
    )
    assert out["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": {"type": "object"},
            },
        }
    ]
    assert out["tool_choice"] == "required"
    assert out["parallel_tool_calls"] is False
    for choice, expected in [
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        (
            {"type": "tool", "name": "get_weather"},
            {"type": "function", "function": {"name": "get_weather"}},
        ),
    ]:
        assert translate(messages=[], tools=[tool], tool_choice=choice)["tool_choice"] == expected


def test_server_tools_raise() -> None:
    with pytest.raises(TranslationError, match="web_fetch"):
        translate(messages=[], tools=[{"type": "web_fetch_20250910", "name": "web_fetch"}])
    with pytest.raises(TranslationError, match="computer_20250124"):
        translate(messages=[], tools=[{"type": "computer_20250124", "name": "computer"}])


def test_what_else_runs_on_anthropics_side_raises_naming_its_field() -> None:
    server = {"type": "url", "url": "https://mcp.example.com/sse", "name": "docs"}
    with pytest.raises(TranslationError, match="MCP connector") as refused:
        translate(messages=[], mcp_servers=[server])
    assert refused.value.param == "mcp_servers"
    with pytest.raises(TranslationError, match="container") as refused:
        translate(messages=[], container={"skills": [{"type": "anthropic", "skill_id": "pptx"}]})
    assert refused.value.param == "container"
    assert translate(messages=[], mcp_servers=[], container=None)["messages"] == []


def test_client_tools_defined_by_type_go_as_functions_with_their_schemas() -> None:
    # The text editor, bash and the memory tool: the client runs them, any model may call them.
    tools = [
        {"type": "text_editor_20250728", "name": "str_replace_based_edit_tool"},
        {"type": "text_editor_20250124", "name": "str_replace_editor"},
        {"type": "bash_20250124", "name": "bash"},
        {"type": "memory_20250818", "name": "memory"},
    ]
    functions = [t["function"] for t in translate(messages=[], tools=tools)["tools"]]
    assert [f["name"] for f in functions] == [t["name"] for t in tools]
    editor, old_editor, bash, memory = (f["parameters"] for f in functions)
    assert editor["properties"]["command"]["enum"] == ["view", "create", "str_replace", "insert"]
    assert "undo_edit" in old_editor["properties"]["command"]["enum"]
    assert editor["required"] == ["command", "path"]
    assert set(bash["properties"]) == {"command", "restart"}
    assert {"insert_text", "old_path", "new_path"} <= set(memory["properties"])
    assert all(f["description"] for f in functions)


def test_sampling_stop_metadata_stream_and_dropped_params() -> None:
    out = translate(
        messages=[{"role": "user", "content": "x"}],
        max_tokens=10,
        temperature=0.2,
        top_p=0.5,
        top_k=40,
        stop_sequences=["END"],
        metadata={"user_id": "u-1"},
        stream=True,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    assert out == {
        "model": "gpt-x",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 10,
        "temperature": 0.2,
        "top_p": 0.5,
        "stop": ["END"],
        "user": "u-1",
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_a_user_id_longer_than_openai_takes_is_sent_as_its_sha256() -> None:
    # Claude Code's metadata.user_id is ~150 characters; OpenAI refuses a `user` over 64.
    long_id = "user_" + "ab" * 32 + "_account_00000000-0000-0000-0000-000000000000_session_x"
    out = translate(messages=[{"role": "user", "content": "Hi"}], metadata={"user_id": long_id})
    assert out["user"] == hashlib.sha256(long_id.encode()).hexdigest()
    assert len(out["user"]) == 64
    short = translate(messages=[{"role": "user", "content": "Hi"}], metadata={"user_id": "u-42"})
    assert short["user"] == "u-42"


SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    "fields",
    [
        # Structured outputs as the API and ChatAnthropic.with_structured_output(method=
        # "json_schema") send them, and under the beta's name.
        {"output_config": {"format": {"type": "json_schema", "schema": SCHEMA}}},
        {"output_format": {"type": "json_schema", "schema": SCHEMA}},
    ],
)
def test_a_json_schema_output_format_becomes_a_json_schema_response_format(
    fields: dict[str, Any],
) -> None:
    out = translate(messages=[{"role": "user", "content": "Weather?"}], **fields)
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA},
    }


def test_an_output_config_without_a_format_sets_no_response_format() -> None:
    out = translate(messages=[{"role": "user", "content": "x"}], output_config={"effort": "low"})
    assert "response_format" not in out
