"""An OpenAI client's JSON-schema response format on an Anthropic upstream: a tool Claude is
forced to call, whose input comes back as the answer's text (`structured_output`); for the
models that refuse forced tools, Claude's JSON output format, its objects closed."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.providers import adapter_for
from gateway.providers.anthropic.adapters import OpenAIClientToAnthropic
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
from gateway.providers.anthropic.responses_anthropic_to_openai import anthropic_response_to_openai
from gateway.providers.anthropic.streams_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.anthropic.structured_output import claude_output_format
from gateway.providers.base import Adapter
from gateway.providers.checked import CheckedAdapter

JSON = dict[str, Any]
SCHEMA: JSON = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "degrees": {"type": "number"}},
    "required": ["city", "degrees"],
    "additionalProperties": False,
}
FORMAT: JSON = {"type": "json_schema", "json_schema": {"name": "Weather", "schema": SCHEMA}}
USER: list[JSON] = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS: list[JSON] = [{"type": "function", "function": {"name": "f", "parameters": SCHEMA}}]


def test_a_json_schema_is_a_tool_claude_must_call_and_no_instruction() -> None:
    out = openai_request_to_anthropic({"messages": USER, "response_format": FORMAT}, "claude-x")
    assert [tool["name"] for tool in out["tools"]] == ["structured_output"]
    assert out["tools"][0]["input_schema"] == SCHEMA
    assert out["tool_choice"] == {"type": "tool", "name": "structured_output"}
    assert "system" not in out


def test_the_schemas_description_describes_the_tool() -> None:
    described = {**FORMAT, "json_schema": {**FORMAT["json_schema"], "description": "A forecast"}}
    out = openai_request_to_anthropic({"messages": USER, "response_format": described}, "c")
    assert out["tools"][0]["description"] == "A forecast"


@pytest.mark.parametrize(
    "body",
    [
        {"response_format": FORMAT, "tools": TOOLS},  # the model must stay free to call them
        {"response_format": {"type": "json_schema", "json_schema": {"name": "L", "schema": {}}}},
        {
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "L", "schema": {"type": "array"}},  # a tool takes objects
            }
        },
        {"response_format": {"type": "json_object"}},
    ],
)
def test_otherwise_the_format_is_asked_by_instruction(body: JSON) -> None:
    out = openai_request_to_anthropic({"messages": USER, **body}, "claude-x")
    assert "JSON" in out["system"]
    assert "structured_output" not in orjson.dumps(out.get("tools")).decode()


MESSAGE: JSON = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "claude-x",
    "content": [
        {
            "type": "tool_use",
            "id": "toolu_1",
            "name": "structured_output",
            "input": {"city": "Paris", "degrees": 21.5},
        }
    ],
    "stop_reason": "tool_use",
    "usage": {"input_tokens": 40, "output_tokens": 12},
}


def test_the_tools_input_is_the_answers_text() -> None:
    chat = anthropic_response_to_openai(MESSAGE, "claude-x", created=1, structured=True)
    choice = chat["choices"][0]
    assert orjson.loads(choice["message"]["content"]) == {"city": "Paris", "degrees": 21.5}
    assert "tool_calls" not in choice["message"]
    assert choice["finish_reason"] == "stop"


def test_without_structured_the_same_message_is_a_tool_call() -> None:
    chat = anthropic_response_to_openai(MESSAGE, "claude-x", created=1)
    choice = chat["choices"][0]
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"][0]["function"]["name"] == "structured_output"
    assert choice["finish_reason"] == "tool_calls"


def _events(*partial_json: str) -> list[JSON]:
    block = {"type": "tool_use", "id": "toolu_1", "name": "structured_output", "input": {}}
    deltas = [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", **p}}
        for p in ({"partial_json": text} for text in partial_json)
    ]
    return [
        {"type": "message_start", "message": {**MESSAGE, "content": [], "stop_reason": None}},
        {"type": "content_block_start", "index": 0, "content_block": block},
        *deltas,
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {}},
        {"type": "message_stop"},
    ]


def _streamed(events: list[JSON]) -> list[JSON]:
    translator = AnthropicToOpenAIStream("claude-x", False, created=1, structured=True)
    chunks = [chunk for event in events for chunk in translator.feed(None, event)]
    return chunks + translator.finish()


def test_a_streamed_answer_is_content_deltas_ending_in_stop() -> None:
    chunks = _streamed(_events('{"city": "Pa', 'ris", "degrees": 21.5}'))
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks]
    assert not any("tool_calls" in delta for delta in deltas)
    text = "".join(delta.get("content") or "" for delta in deltas)
    assert orjson.loads(text) == {"city": "Paris", "degrees": 21.5}
    assert [
        c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]
    ] == ["stop"]


def test_a_streamed_answer_without_input_is_an_empty_object() -> None:
    chunks = _streamed(_events(""))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks) == "{}"


ANTHROPIC = ProviderConfig(name="claude", type="anthropic", base_url="https://api.anthropic.com")


def _adapter(body: JSON) -> Adapter:
    checked = adapter_for("chat", ANTHROPIC, None, body)
    assert isinstance(checked, CheckedAdapter)
    return checked.inner


def test_the_adapter_for_a_structured_request_reads_the_answer_as_text() -> None:
    structured = _adapter({"messages": USER, "response_format": FORMAT})
    plain = _adapter({"messages": USER})
    beside_tools = _adapter({"messages": USER, "response_format": FORMAT, "tools": TOOLS})
    assert isinstance(structured, OpenAIClientToAnthropic) and structured.structured
    assert isinstance(plain, OpenAIClientToAnthropic) and not plain.structured
    assert isinstance(beside_tools, OpenAIClientToAnthropic) and not beside_tools.structured
    converted = orjson.loads(structured.convert_json(orjson.dumps(MESSAGE))[0])
    assert orjson.loads(converted["choices"][0]["message"]["content"])["city"] == "Paris"


OPEN: JSON = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "stops": {"type": "array", "items": {"$ref": "#/$defs/Stop"}},
        "either": {"anyOf": [{"type": "object", "properties": {}}, {"type": "null"}]},
    },
    "$defs": {"Stop": {"type": ["object", "null"], "properties": {"at": {"type": "string"}}}},
}


def test_claudes_json_format_has_every_object_closed() -> None:
    output_format = claude_output_format(OPEN)
    assert output_format is not None and output_format["type"] == "json_schema"
    closed = output_format["schema"]
    assert closed["additionalProperties"] is False
    assert closed["$defs"]["Stop"]["additionalProperties"] is False
    assert closed["properties"]["either"]["anyOf"][0]["additionalProperties"] is False
    assert "additionalProperties" not in closed["properties"]["either"]["anyOf"][1]
    assert closed["properties"]["stops"]["items"] == {"$ref": "#/$defs/Stop"}
    assert "additionalProperties" not in OPEN  # the client's schema is not changed


@pytest.mark.parametrize("extra", [True, {"type": "string"}])
def test_a_schema_with_an_object_left_open_has_no_json_format(extra: object) -> None:
    schema = {
        "type": "object",
        "properties": {"tags": {"type": "object", "additionalProperties": extra}},
    }
    assert claude_output_format(schema) is None


def test_the_models_that_refuse_forced_tools_get_claudes_json_format() -> None:
    body = {"messages": USER, "response_format": FORMAT, "reasoning_effort": "low"}
    sent = openai_request_to_anthropic(body, "claude-opus-5-5")
    assert "tools" not in sent and "tool_choice" not in sent and "system" not in sent
    assert sent["output_config"] == {
        "effort": "low",
        "format": {"type": "json_schema", "schema": SCHEMA},
    }
    assert openai_request_to_anthropic(body, "claude-opus-5")["tool_choice"]["type"] == "tool"


def test_a_schema_claude_cannot_take_as_its_format_is_asked_by_instruction() -> None:
    schema = {"type": "object", "additionalProperties": {"type": "number"}}
    spec = {"type": "json_schema", "json_schema": {"name": "Scores", "schema": schema}}
    sent = openai_request_to_anthropic(
        {"messages": USER, "response_format": spec}, "claude-fable-5-1"
    )
    assert "output_config" not in sent and "tools" not in sent
    assert "It must conform to this JSON Schema" in sent["system"]
