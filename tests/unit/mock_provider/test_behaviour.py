"""The mock provider's replies: planning (pure) and rendering in both wire formats (its
embeddings: test_embeddings.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway import tokens
from gateway.mock_provider import render
from gateway.mock_provider.behaviour import (
    SENTENCE_WORDS,
    RequestError,
    plan_chat,
    plan_messages,
)
from gateway.mock_provider.schema import arguments_from_schema

USER = [{"role": "user", "content": "Tell me about llamas."}]
WEATHER = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "metric": {"type": "boolean"},
    },
    "required": ["city"],
}
OPENAI_TOOL = {"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}}
ANTHROPIC_TOOL = {"name": "get_weather", "input_schema": WEATHER}


def chat(**body: Any) -> dict[str, Any]:
    return {"model": "mock-small", "messages": USER, **body}


def test_echo_returns_last_user_text_verbatim() -> None:
    text = 'Exactly this: naïve café — 東京 and "quotes"\nnewline  '
    messages = [
        {"role": "user", "content": "earlier"},
        {"role": "assistant", "content": "x"},
        {"role": "user", "content": text},
    ]
    assert plan_chat({"model": "echo", "messages": messages}).choices[0].text == text
    parts = [
        {"type": "text", "text": "Hello, "},
        {"type": "image_url", "image_url": {"url": "u"}},
        {"type": "text", "text": "world"},
    ]
    assert (
        plan_chat({"model": "echo", "messages": [{"role": "user", "content": parts}]})
        .choices[0]
        .text
        == "Hello, world"
    )
    blocks = [{"type": "text", "text": "from "}, {"type": "text", "text": "claude"}]
    plan = plan_messages(
        {"model": "echo", "max_tokens": 50, "messages": [{"role": "user", "content": blocks}]}
    )
    assert plan.choices[0].text == "from claude"


def test_echo_stream_pieces_join_to_the_text() -> None:
    text = "  leading spaces, two  gaps\tand a tab "
    choice = plan_chat({"model": "echo", "messages": [{"role": "user", "content": text}]}).choices[
        0
    ]
    assert "".join(choice.pieces) == text and len(choice.pieces) > 3


def test_default_text_is_deterministic_twenty_words() -> None:
    first = plan_chat(chat())
    assert first == plan_chat(chat())
    text = first.choices[0].text
    assert text is not None and len(text.split()) == SENTENCE_WORDS
    assert len(first.choices[0].pieces) == SENTENCE_WORDS
    assert first.choices[0].finish == "stop"
    others = {
        plan_chat(chat(messages=[{"role": "user", "content": f"question {i}"}])).choices[0].text
        for i in range(8)
    }
    assert len(others) > 1, "the text depends on the request"


def test_usage_equals_tiktoken_counts() -> None:
    messages = [{"role": "system", "content": "Be brief."}, *USER]
    plan = plan_chat(chat(messages=messages))
    assert plan.prompt_tokens == tokens.count_messages(messages)
    assert plan.completion_tokens == tokens.count_text(plan.choices[0].text or "")
    system = [{"type": "text", "text": "Be brief."}]
    anthropic = plan_messages(
        {"model": "mock-small", "max_tokens": 100, "system": system, "messages": USER}
    )
    assert anthropic.prompt_tokens == tokens.count_messages(USER, system)
    assert anthropic.completion_tokens == tokens.count_text(anthropic.choices[0].text or "")


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_max_tokens_truncates_with_length_finish(limit: int) -> None:
    full = plan_chat(chat()).choices[0].text or ""
    for plan in (
        plan_chat(chat(max_tokens=limit)),
        plan_chat(chat(max_completion_tokens=limit, max_tokens=500)),
    ):
        choice = plan.choices[0]
        assert choice.finish == "length"
        assert choice.text is not None and full.startswith(choice.text)
        assert 0 < choice.completion_tokens <= limit
        assert choice.completion_tokens == tokens.count_text(choice.text)
        assert "".join(choice.pieces) == choice.text
    anthropic = plan_messages({"model": "mock-small", "max_tokens": limit, "messages": USER})
    assert anthropic.choices[0].finish == "length" and anthropic.completion_tokens <= limit


def test_tool_call_then_tool_result_round_trip_openai() -> None:
    first = plan_chat(chat(tools=[OPENAI_TOOL]))
    choice = first.choices[0]
    assert choice.finish == "tool_calls" and choice.text is None and choice.tool_call is not None
    call = choice.tool_call
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "test", "days": 1, "metric": True} == call.input
    assert choice.completion_tokens == tokens.count_text("get_weather") + tokens.count_text(
        call.arguments
    )
    assert "".join(choice.pieces) == call.arguments and len(choice.pieces) > 1
    assert plan_chat(chat(tools=[OPENAI_TOOL])) == first
    history = [
        *USER,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": "sunny, 21C"},
    ]
    second = plan_chat(chat(messages=history, tools=[OPENAI_TOOL]))
    assert (
        second.choices[0].text == "Tool result: sunny, 21C" and second.choices[0].finish == "stop"
    )


def test_tool_choice_none_forced_and_unknown() -> None:
    assert plan_chat(chat(tools=[OPENAI_TOOL], tool_choice="none")).choices[0].tool_call is None
    other = {
        "type": "function",
        "function": {
            "name": "lookup",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        },
    }
    forced = plan_chat(
        chat(
            tools=[OPENAI_TOOL, other],
            tool_choice={"type": "function", "function": {"name": "lookup"}},
        )
    )
    assert forced.choices[0].tool_call is not None and forced.choices[0].tool_call.name == "lookup"
    with pytest.raises(RequestError):
        plan_chat(
            chat(
                tools=[OPENAI_TOOL], tool_choice={"type": "function", "function": {"name": "nope"}}
            )
        )
    anthropic = plan_messages(
        {
            "model": "m",
            "max_tokens": 50,
            "messages": USER,
            "tools": [ANTHROPIC_TOOL],
            "tool_choice": {"type": "none"},
        }
    )
    assert anthropic.choices[0].tool_call is None


def test_tool_use_then_tool_result_round_trip_anthropic() -> None:
    body = {"model": "mock-small", "max_tokens": 200, "messages": USER, "tools": [ANTHROPIC_TOOL]}
    first = plan_messages(body)
    call = first.choices[0].tool_call
    assert call is not None and first.choices[0].finish == "tool_calls"
    assert call.id.startswith("toolu_") and call.input["city"] == "test"
    message = render.anthropic_message(first, "msg_1")
    assert message["stop_reason"] == "tool_use"
    assert message["content"] == [
        {"type": "tool_use", "id": call.id, "name": "get_weather", "input": call.input}
    ]
    result = {
        "type": "tool_result",
        "tool_use_id": call.id,
        "content": [{"type": "text", "text": "sunny, 21C"}],
    }
    history = [
        *USER,
        {"role": "assistant", "content": message["content"]},
        {"role": "user", "content": [result]},
    ]
    second = plan_messages({**body, "messages": history})
    assert second.choices[0].text == "Tool result: sunny, 21C"
    assert render.anthropic_message(second, "msg_2")["stop_reason"] == "end_turn"


def test_arguments_from_schema_covers_the_json_schema_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "s": {"type": "string"},
            "i": {"type": "integer"},
            "f": {"type": "number"},
            "b": {"type": "boolean"},
            "e": {"enum": ["c", "f"]},
            "nullable": {"type": ["null", "string"]},
            "list": {"type": "array", "items": {"type": "integer"}},
            "nested": {"type": "object", "properties": {"x": {"type": "string"}}},
            "ref": {"$ref": "#/$defs/Unit"},
            "any": {"anyOf": [{"type": "null"}, {"type": "number"}]},
        },
        "$defs": {"Unit": {"type": "string", "enum": ["kelvin"]}},
    }
    assert arguments_from_schema(schema) == {
        "s": "test", "i": 1, "f": 1, "b": True, "e": "c", "nullable": "test", "list": [1],
        "nested": {"x": "test"}, "ref": "kelvin", "any": 1,
    }  # fmt: skip
    assert arguments_from_schema(None) == {}
    assert arguments_from_schema({"type": "object"}) == {}


def test_n_choices_have_indexes_and_summed_usage() -> None:
    plan = plan_chat(chat(n=3))
    completion = render.openai_completion(plan, "chatcmpl-1", 1)
    assert [c["index"] for c in completion["choices"]] == [0, 1, 2]
    assert completion["usage"]["completion_tokens"] == sum(
        tokens.count_text(c.text or "") for c in plan.choices
    )
    frames = render.openai_stream_frames(plan_chat(chat(n=2, stream=True)), "chatcmpl-1", 1)
    indexes = {c["choices"][0]["index"] for frame in frames for c in frame if c["choices"]}
    assert indexes == {0, 1}


def test_json_object_response_format_is_valid_json() -> None:
    plan = plan_chat(chat(response_format={"type": "json_object"}))
    document = json.loads(plan.choices[0].text or "")
    assert isinstance(document, dict) and document["answer"]
    assert "".join(plan.choices[0].pieces) == plan.choices[0].text
    short = plan_chat(chat(response_format={"type": "json_object"}, max_tokens=8)).choices[0]
    assert isinstance(json.loads(short.text or ""), dict) and short.completion_tokens <= 8
    schema = {"type": "json_schema", "json_schema": {"name": "w", "schema": WEATHER}}
    assert json.loads(plan_chat(chat(response_format=schema)).choices[0].text or "") == {
        "city": "test",
        "days": 1,
        "metric": True,
    }


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": USER}, "model"),
        ({"model": "m", "messages": "hi"}, "messages"),
        ({"model": "m", "messages": USER, "n": 0}, "n"),
        ({"model": "m", "messages": USER, "max_tokens": 0}, "max_tokens"),
    ],
)
def test_invalid_requests_raise(body: dict[str, Any], param: str) -> None:
    with pytest.raises(RequestError) as info:
        plan_chat(body)
    assert info.value.param == param
    with pytest.raises(RequestError):
        plan_chat([1, 2])


def test_openai_rendering() -> None:
    plan = plan_chat(chat(stream=True, stream_options={"include_usage": True}))
    completion = render.openai_completion(plan, "chatcmpl-x", 123)
    assert completion["object"] == "chat.completion" and completion["id"] == "chatcmpl-x"
    assert completion["choices"][0]["message"] == {
        "role": "assistant",
        "content": plan.choices[0].text,
        "refusal": None,
    }
    frames = render.openai_stream_frames(plan, "chatcmpl-x", 123)
    assert len(frames) == SENTENCE_WORDS
    chunks = [chunk for frame in frames for chunk in frame]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == plan.choices[0].text
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop" and chunks[-2]["usage"] is None
    assert (
        chunks[-1]["choices"] == []
        and chunks[-1]["usage"]["total_tokens"] == plan.prompt_tokens + plan.completion_tokens
    )
    no_usage = render.openai_stream_frames(plan_chat(chat(stream=True)), "id", 1)
    assert all("usage" not in chunk for frame in no_usage for chunk in frame)


def test_openai_tool_call_stream_rendering() -> None:
    plan = plan_chat(chat(tools=[OPENAI_TOOL], stream=True))
    chunks = [chunk for frame in render.openai_stream_frames(plan, "id", 1) for chunk in frame]
    first = chunks[0]["choices"][0]["delta"]["tool_calls"][0]
    assert first["id"].startswith("call_") and first["function"] == {
        "name": "get_weather",
        "arguments": "",
    }
    arguments = "".join(
        c["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"]
        for c in chunks[1:]
        if c["choices"][0]["delta"]
    )
    assert json.loads(arguments)["city"] == "test"
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_anthropic_stream_rendering() -> None:
    plan = plan_messages(
        {"model": "mock-small", "max_tokens": 100, "messages": USER, "stream": True}
    )
    events = [event for frame in render.anthropic_stream_frames(plan, "msg_x") for event in frame]
    kinds = [e["type"] for e in events]
    assert kinds[:3] == ["message_start", "content_block_start", "ping"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert kinds.count("content_block_delta") == SENTENCE_WORDS
    assert (
        "".join(e["delta"]["text"] for e in events if e["type"] == "content_block_delta")
        == plan.choices[0].text
    )
    assert events[0]["message"]["usage"]["input_tokens"] == plan.prompt_tokens
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-2]["usage"]["output_tokens"] == plan.completion_tokens
    tool = plan_messages(
        {
            "model": "m",
            "max_tokens": 100,
            "messages": USER,
            "tools": [ANTHROPIC_TOOL],
            "stream": True,
        }
    )
    events = [event for frame in render.anthropic_stream_frames(tool, "msg_y") for event in frame]
    assert (
        events[1]["content_block"]["type"] == "tool_use"
        and events[1]["content_block"]["input"] == {}
    )
    partial = "".join(
        e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta"
    )
    call = tool.choices[0].tool_call
    assert call is not None and json.loads(partial) == call.input
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
