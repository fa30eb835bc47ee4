"""The official `anthropic` SDK through `/v1/messages`, to Anthropic- and OpenAI-format upstreams,
and the `openai` SDK to an Anthropic-format upstream."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import anthropic
import httpx
import openai
import pytest
from anthropic.types import MessageParam, ToolParam
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.e2e.conftest import GATEWAY_KEY
from tests.e2e.sdk_answers import (
    assistant_turn,
    content_params,
    first_text,
    function_call,
    tool_use,
)
from tests.procs import Proc

WEATHER_SCHEMA: dict[str, object] = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
WEATHER_TOOL: ToolParam = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": WEATHER_SCHEMA,
}
# "claude-mock" is served by an Anthropic-format upstream, "gpt-mock" by an OpenAI-format one.
UPSTREAMS = ["claude-mock", "gpt-mock"]


@pytest.mark.parametrize("model", UPSTREAMS)
def test_messages_create(model: str, claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model=model,
        max_tokens=100,
        system="Be brief.",
        messages=[{"role": "user", "content": "Tell me about llamas."}],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text" and message.content[0].text
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


@pytest.mark.parametrize("model", UPSTREAMS)
def test_messages_stream(model: str, claude: anthropic.Anthropic) -> None:
    messages: list[MessageParam] = [{"role": "user", "content": "Hi there"}]
    expected = claude.messages.create(model=model, max_tokens=100, messages=messages)
    with claude.messages.stream(model=model, max_tokens=100, messages=messages) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == first_text(expected)
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == expected.usage.output_tokens


@pytest.mark.parametrize("model", ["claude-echo", "echo"])
def test_echo_through_both_formats(model: str, claude: anthropic.Anthropic) -> None:
    text = 'Repeat me exactly: ünïcödé, "quotes", and 42.'
    message = claude.messages.create(
        model=model, max_tokens=200, messages=[{"role": "user", "content": text}]
    )
    assert first_text(message) == text


@pytest.mark.parametrize("model", UPSTREAMS)
def test_tool_use_round_trip(model: str, claude: anthropic.Anthropic) -> None:
    messages: list[MessageParam] = [{"role": "user", "content": "Weather in Paris?"}]
    first = claude.messages.create(
        model=model, max_tokens=200, tools=[WEATHER_TOOL], messages=messages
    )
    assert first.stop_reason == "tool_use"
    call = tool_use(first)
    assert call.name == "get_weather" and "city" in call.input
    messages.append({"role": "assistant", "content": content_params(first)})
    messages.append(
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "sunny, 21C"}],
        }
    )
    second = claude.messages.create(
        model=model, max_tokens=200, tools=[WEATHER_TOOL], messages=messages
    )
    assert "sunny, 21C" in first_text(second)


@pytest.mark.parametrize("model", UPSTREAMS)
def test_streamed_tool_use(model: str, claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model=model,
        max_tokens=200,
        tools=[WEATHER_TOOL],
        messages=[{"role": "user", "content": "Weather?"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    call = tool_use(final)
    assert call.name == "get_weather" and "city" in call.input


def _asked_gpt(
    claude: anthropic.Anthropic, tool: anthropic.types.ToolUnionParam, text: str
) -> anthropic.types.Message:
    """The answer of an OpenAI-format model (the mock's, through the gateway) offered `tool`."""
    return _asked_gpt_tools(claude, [tool], [{"role": "user", "content": text}])


def _asked_gpt_tools(
    claude: anthropic.Anthropic,
    tools: Sequence[anthropic.types.ToolUnionParam],
    messages: list[MessageParam],
) -> anthropic.types.Message:
    return claude.messages.create(model="gpt-mock", max_tokens=200, tools=tools, messages=messages)


def test_anthropics_text_editor_tool_reaches_an_openai_format_model(
    claude: anthropic.Anthropic,
) -> None:
    # Defined by type alone, run by the client: any model may call it once it has a schema.
    editor: anthropic.types.ToolUnionParam = {
        "type": "text_editor_20250728",
        "name": "str_replace_based_edit_tool",
    }
    answer = _asked_gpt(claude, editor, "Show me README.md")
    call = tool_use(answer)
    assert answer.stop_reason == "tool_use" and call.name == "str_replace_based_edit_tool"
    assert isinstance(call.input, dict) and {"command", "path"} <= set(call.input)


def test_x_api_key_header_is_accepted(gateway: Proc) -> None:
    body = {
        "model": "claude-mock",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }
    response = httpx.post(
        gateway.url + "/v1/messages", json=body, headers={"x-api-key": GATEWAY_KEY}
    )
    assert (
        response.status_code == 200 and response.headers["x-gateway-deployment"] == "ant/mock-small"
    )
    assert response.json()["type"] == "message"
    refused = httpx.post(gateway.url + "/v1/messages", json=body, headers={"x-api-key": "wrong"})
    assert refused.status_code == 401 and refused.json()["error"]["type"] == "authentication_error"


def test_openai_sdk_to_anthropic_upstream(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="claude-mock",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
    )
    assert completion.choices[0].message.content and completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None and completion.usage.prompt_tokens > 0
    stream = oai.chat.completions.create(
        model="claude-mock",
        messages=[{"role": "user", "content": "Hi"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == completion.choices[0].message.content
    assert (
        chunks[-1].usage is not None
        and chunks[-1].usage.completion_tokens == completion.usage.completion_tokens
    )


def test_openai_sdk_tools_to_anthropic_upstream(oai: openai.OpenAI) -> None:
    tool: ChatCompletionToolParam = {
        "type": "function",
        "function": {"name": "get_weather", "parameters": WEATHER_SCHEMA},
    }
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Weather in Paris?"}]
    first = oai.chat.completions.create(model="claude-mock", messages=messages, tools=[tool])
    assert first.choices[0].finish_reason == "tool_calls"
    call = function_call(first)
    assert call.function.name == "get_weather" and "city" in json.loads(call.function.arguments)
    messages.append(assistant_turn(first))
    messages.append({"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"})
    second = oai.chat.completions.create(model="claude-mock", messages=messages, tools=[tool])
    assert "sunny, 21C" in (second.choices[0].message.content or "")


def test_openai_sdk_legacy_functions_to_anthropic_upstream_are_refused(oai: openai.OpenAI) -> None:
    # Dropped, they would get a prose answer where the client waits for a `function_call`.
    function = {"name": "get_weather", "parameters": WEATHER_SCHEMA}
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(
            model="claude-mock",
            messages=[{"role": "user", "content": "Weather in Paris?"}],
            functions=[function],  # type: ignore[list-item]
        )
    assert isinstance(info.value.body, dict) and info.value.body["param"] == "functions"
    assert info.value.body["type"] == "invalid_request_error"


def test_openai_sdk_sees_an_anthropic_context_overflow_as_context_length_exceeded(
    oai: openai.OpenAI,
) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        oai.chat.completions.create(
            model="claude-context", messages=[{"role": "user", "content": "hi"}]
        )
    body = info.value.body
    assert isinstance(body, dict)
    assert (body["code"], body["param"]) == ("context_length_exceeded", "messages")


def test_openai_echo_through_anthropic_upstream(oai: openai.OpenAI) -> None:
    text = "What the SDK sent is what the provider received."
    completion = oai.chat.completions.create(
        model="claude-echo", messages=[{"role": "user", "content": text}]
    )
    assert completion.choices[0].message.content == text


def test_anthropic_errors_use_anthropic_shape(gateway: Proc, claude: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        claude.messages.create(
            model="nope", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )
    body = info.value.body
    assert (
        isinstance(body, dict)
        and body["type"] == "error"
        and body["error"]["type"] == "not_found_error"
    )
    with (
        anthropic.Anthropic(base_url=gateway.url, api_key="wrong", max_retries=0) as bad,
        pytest.raises(anthropic.AuthenticationError),
    ):
        bad.messages.create(
            model="claude-mock", max_tokens=10, messages=[{"role": "user", "content": "hi"}]
        )


@pytest.mark.parametrize("stream", [False, True])
def test_a_web_search_on_claude_passes_with_its_blocks(
    claude: anthropic.Anthropic, stream: bool
) -> None:
    """The mock searches as Claude does (what the translations are tested against): the
    SDK reads its search blocks and the cited text, JSON and streamed, through the gateway."""
    asked: dict[str, Any] = {
        "model": "claude-mock",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Latest gateway release?"}],
        "tools": [{"type": "web_search_20250305", "name": "web_search"}],
    }
    if stream:
        with claude.messages.stream(**asked) as events:
            answer = events.get_final_message()
    else:
        answer = claude.messages.create(**asked)
    use, result, text = answer.content
    assert use.type == "server_tool_use" and use.input == {"query": "Latest gateway release?"}
    assert result.type == "web_search_tool_result" and result.tool_use_id == use.id
    assert text.type == "text" and text.citations
    assert text.citations[0].type == "web_search_result_location"


# Claude Code's Artifact tool (2.1.265 on), sent with every request: a JavaScript-dialect
# pattern OpenAI's validator (Python's `re`) cannot compile, beside Grep's `pattern` property.
ARTIFACT_FIELD = '^(?!__.*__$)[^\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}"\\\\./[\\]]{1,200}$'
ARTIFACT: ToolParam = {
    "name": "Artifact",
    "input_schema": {
        "type": "object",
        "properties": {
            "field": {"type": "string", "pattern": ARTIFACT_FIELD},
            "pattern": {"type": "string", "description": "a Grep-like property of that name"},
        },
        "required": ["field"],
    },
}


def test_a_tool_schema_in_javascripts_regex_dialect_reaches_an_openai_format_model(
    claude: anthropic.Anthropic, mock_upstream: Proc
) -> None:
    """Before, OpenAI's 400 "Invalid schema for function 'Artifact': ... is not a 'regex'" (the
    mock refuses it as OpenAI does), for every request of Claude Code 2.1.265 and later."""
    call = tool_use(_asked_gpt(claude, ARTIFACT, "Save it"))
    assert call.name == "Artifact" and isinstance(call.input, dict) and "field" in call.input
    sent = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"]
    properties = sent["tools"][0]["function"]["parameters"]["properties"]
    assert properties["field"] == {"type": "string"}
    assert properties["pattern"] == ARTIFACT["input_schema"]["properties"]["pattern"]  # type: ignore[index]
    refused = httpx.post(
        mock_upstream.url + "/v1/chat/completions",
        json={
            **sent,
            "tools": [
                {
                    "type": "function",
                    "function": {"name": "Artifact", "parameters": ARTIFACT["input_schema"]},
                }
            ],
        },
    )
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "invalid_function_parameters"


def test_claude_codes_deferred_mcp_tools_are_offered_once_loaded(
    claude: anthropic.Anthropic, mock_upstream: Proc
) -> None:
    """Before, all 202 tools went to the OpenAI-format model: OpenAI's 400 "Invalid 'tools':
    array too long" (the mock refuses it as OpenAI does) for a Claude Code session with many
    MCP tools behind its tool search."""
    schema: dict[str, Any] = {"type": "object", "properties": {"q": {"type": "string"}}}
    tools: list[ToolParam] = [{"name": "ToolSearch", "input_schema": schema}]
    tools += [
        {"name": f"mcp__s__t{i}", "input_schema": schema, "defer_loading": True} for i in range(201)
    ]
    search = tool_use(_asked_gpt_tools(claude, tools, [{"role": "user", "content": "List"}]))
    sent = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"]
    assert [t["function"]["name"] for t in sent["tools"]] == ["ToolSearch"]
    loaded: MessageParam = {
        "role": "user",
        "content": [
            {
                "type": "tool_result",
                "tool_use_id": search.id,
                "content": [{"type": "tool_reference", "tool_name": "mcp__s__t9"}],
            }
        ],
    }
    used: MessageParam = {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": search.id, "name": search.name, "input": {}}],
    }
    answer = _asked_gpt_tools(claude, tools, [{"role": "user", "content": "List"}, used, loaded])
    assert answer.content[0].type == "text"
    sent = httpx.get(mock_upstream.url + "/_mock/stats").json()["last_request"]["body"]
    assert [t["function"]["name"] for t in sent["tools"]] == ["ToolSearch", "mcp__s__t9"]
    assert sent["messages"][-1]["content"] == "Tool loaded: mcp__s__t9"
