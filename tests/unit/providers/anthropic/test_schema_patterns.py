"""The patterns OpenAI's validator (Python's `re`) cannot compile are left out of an Anthropic
client's schemas, wherever a schema holds them; the rest, and the client's own objects, stay."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.mock_provider.behaviour import RequestError
from gateway.mock_provider.schema_checks import check_tool_schemas
from gateway.providers.anthropic.requests_anthropic_to_openai import anthropic_request_to_openai
from gateway.providers.anthropic.schema_patterns import MAX_DEPTH, openai_schema

JAVASCRIPT = "^[^\\p{Cc}\\p{Zl}]{1,200}$"  # Unicode property escapes: no Python `re` form
LOOKAHEAD = "^(?!__.*__$)[a-z_]+$"  # Python's `re` compiles it, and OpenAI takes it


def _string(pattern: str) -> dict[str, Any]:
    return {"type": "string", "pattern": pattern}


def test_a_pattern_re_cannot_compile_goes_wherever_a_schema_holds_it() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "field": _string(JAVASCRIPT),
            "name": _string(LOOKAHEAD),
            "pattern": {"type": "string"},  # a property of that name (Grep's), no constraint
            "tags": {"type": "array", "items": _string(JAVASCRIPT)},
            "either": {"anyOf": [_string(JAVASCRIPT), {"type": "integer"}]},
            "ref": {"$ref": "#/$defs/id"},
        },
        "$defs": {"id": _string(JAVASCRIPT)},
        "additionalProperties": _string(JAVASCRIPT),
    }
    before = copy.deepcopy(schema)
    cleaned = openai_schema(schema)
    assert schema == before  # the client's own, unchanged
    assert isinstance(cleaned, dict)
    properties = cleaned["properties"]
    assert properties["field"] == {"type": "string"}
    assert properties["name"] == _string(LOOKAHEAD)
    assert properties["pattern"] is schema["properties"]["pattern"]
    assert properties["tags"]["items"] == {"type": "string"}
    assert properties["either"]["anyOf"] == [{"type": "string"}, {"type": "integer"}]
    assert cleaned["$defs"]["id"] == {"type": "string"}
    assert cleaned["additionalProperties"] == {"type": "string"}


def test_a_schema_with_nothing_to_leave_out_is_the_same_object() -> None:
    schema = {"type": "object", "properties": {"a": _string(LOOKAHEAD)}}
    assert openai_schema(schema) is schema


def test_past_the_depth_limit_a_schema_is_sent_as_it_is() -> None:
    deepest: dict[str, Any] = _string(JAVASCRIPT)
    schema = deepest
    for _ in range(MAX_DEPTH + 5):
        schema = {"type": "array", "items": schema}
    walked = openai_schema(schema)
    while isinstance(walked, dict) and "items" in walked:
        walked = walked["items"]
    assert walked is deepest  # never reached, never copied


def test_an_anthropic_clients_tools_and_output_schema_go_without_them() -> None:
    schema = {"type": "object", "properties": {"field": _string(JAVASCRIPT)}}
    body = {
        "model": "m",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "Artifact", "input_schema": schema}],
        "output_config": {"format": {"type": "json_schema", "schema": schema}},
    }
    chat = anthropic_request_to_openai(body, "gpt")
    cleaned = {"type": "object", "properties": {"field": {"type": "string"}}}
    assert chat["tools"][0]["function"]["parameters"] == cleaned
    assert chat["response_format"]["json_schema"]["schema"] == cleaned
    check_tool_schemas(chat["tools"])  # what OpenAI (the mock) takes


def test_the_mock_refuses_what_openai_refuses() -> None:
    tools = [
        {"type": "function", "function": {"name": "ok", "parameters": _string(LOOKAHEAD)}},
        {"type": "function", "function": {"name": "Artifact", "parameters": _string(JAVASCRIPT)}},
    ]
    with pytest.raises(RequestError) as refused:
        check_tool_schemas(tools)
    assert refused.value.param == "tools[1].parameters"
    assert refused.value.code == "invalid_function_parameters"
    assert refused.value.message.startswith("Invalid schema for function 'Artifact': ")
    with pytest.raises(RequestError):
        check_tool_schemas([{"type": "function", "name": "f", "parameters": _string("(")}], True)
