"""One tool call in each format: an OpenAI `tool_calls` entry, an Anthropic `tool_use` block.

Requests and responses carry tool calls in the same shape, so the request and the response
translators of each direction share these.
"""

from __future__ import annotations

import re

import orjson

from gateway.json_types import JSON


def parse_arguments(arguments: object) -> JSON:
    """OpenAI tool-call `arguments` (a JSON string) as an Anthropic `input` object; else `{}`."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, (str, bytes)) or not arguments:
        return {}
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def tool_use_from_tool_call(call: JSON) -> JSON:
    """An OpenAI tool call as an Anthropic `tool_use` block (`input` per `parse_arguments`)."""
    function = call.get("function") or {}
    return {
        "type": "tool_use",
        "id": call.get("id"),
        "name": function.get("name"),
        "input": parse_arguments(function.get("arguments")),
    }


_NOT_IN_TOOL_IDS = re.compile(r"[^a-zA-Z0-9_-]")


def anthropic_tool_id(value: object) -> object:
    """A tool call id as Anthropic takes it (`^[a-zA-Z0-9_-]+$`): other characters become `_`.

    Ids made by other servers may hold more (Kimi's "functions.get_weather:0"), and a
    conversation can reach Anthropic with them after a fallback; the same id always maps to the
    same result, so a `tool_use` and its `tool_result` still match. Anything but a string is
    left as it is.
    """
    return _NOT_IN_TOOL_IDS.sub("_", value) if isinstance(value, str) else value


def tool_call_from_tool_use(block: JSON) -> JSON:
    """An Anthropic `tool_use` block as an OpenAI function tool call (compact JSON arguments)."""
    return {
        "id": block.get("id"),
        "type": "function",
        "function": {
            "name": block.get("name"),
            "arguments": orjson.dumps(block.get("input") or {}).decode(),
        },
    }
