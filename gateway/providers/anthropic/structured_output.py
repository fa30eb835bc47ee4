"""Structured outputs for an OpenAI client on an Anthropic upstream.

A chat request's `response_format` of type `json_schema` (what the openai SDK's
`chat.completions.parse` and LangChain's `with_structured_output(method="json_schema")` send)
goes to Anthropic as one tool, `structured_output`, taking that schema, which Claude is forced
to call (`tool_choice` of type `tool`): Anthropic's advice for JSON that follows a schema, on
every Claude model. Its input comes back as the message's text, with `finish_reason` "stop", as
OpenAI answers (`responses_anthropic_to_openai`, `streams_anthropic_to_openai`).

Not when the request offers tools of its own: forcing one tool would keep the model from calling
them, so the format is then asked by an instruction in the system prompt, as `json_object` is
(`requests_openai_to_anthropic`). Nor for a schema whose root is not an object: a tool's input
is one.

The models that refuse forced tool use (Opus 5.5, Sonnet 5.5, Fable 5.1: `forced_tools`) are
asked through Claude's own JSON output format instead, `output_config.format` of type
`json_schema` (`claude_output_format`), whose answer is the JSON as text. That format wants each
object of the schema closed ("output_config.format.schema: For 'object' type,
'additionalProperties' must be explicitly set to false"): an object that says nothing of it is
sent closed (what OpenAI's strict mode asks of a schema already; a pydantic model's schema says
nothing), and a schema with an object left open on purpose is asked by the instruction.
"""

from __future__ import annotations

import orjson

from gateway.json_types import JSON

STRUCTURED_TOOL = "structured_output"
_SCHEMA_MAPS = ("properties", "$defs", "definitions")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")
_MAX_DEPTH = 32
_DESCRIPTION = "Give the answer: its input is the whole answer, as the requested JSON."
_JSON_ONLY = (
    "Respond with a single valid JSON object and nothing else: no prose before or after it and "
    "no markdown code fences."
)


def structured_output_tool(body: JSON) -> JSON | None:
    """The Anthropic tool the chat request `body`'s response format becomes, or None when it
    asks for none (see the module doc)."""
    response_format = body.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return None
    if body.get("tools"):
        return None
    spec = response_format.get("json_schema")
    schema = spec.get("schema") if isinstance(spec, dict) else None
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return None
    description = spec.get("description") if isinstance(spec, dict) else None
    if not isinstance(description, str) or not description:
        description = _DESCRIPTION
    return {"name": STRUCTURED_TOOL, "description": description, "input_schema": schema}


def forced_choice() -> JSON:
    """The `tool_choice` that makes Claude call `STRUCTURED_TOOL`."""
    return {"type": "tool", "name": STRUCTURED_TOOL}


def claude_output_format(schema: JSON) -> JSON | None:
    """Claude's `output_config.format` for the object schema `schema`, its objects closed; None
    when one of them is open (`additionalProperties` other than false) or it nests too deep."""
    try:
        return {"type": "json_schema", "schema": _closed(schema, 0)}
    except _OpenObject:
        return None


class _OpenObject(Exception):
    """A schema Claude's output format cannot take as it is."""


def _closed(schema: object, depth: int) -> object:
    """`schema` with `additionalProperties: false` on each object that says nothing of it (a
    copy; raises `_OpenObject` for an object left open)."""
    if depth > _MAX_DEPTH:
        raise _OpenObject
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    kind = schema.get("type")
    if kind == "object" or (isinstance(kind, list) and "object" in kind) or "properties" in schema:
        if schema.get("additionalProperties", False) is not False:
            raise _OpenObject
        out["additionalProperties"] = False
    for key in _SCHEMA_MAPS:
        inner = schema.get(key)
        if isinstance(inner, dict):
            out[key] = {name: _closed(value, depth + 1) for name, value in inner.items()}
    for key in (*_SCHEMA_LISTS, "items"):
        inner = schema.get(key)
        if isinstance(inner, list):
            out[key] = [_closed(value, depth + 1) for value in inner]
        elif key == "items" and isinstance(inner, dict):
            out[key] = _closed(inner, depth + 1)
    return out


def json_instruction(response_format: object) -> str | None:
    """The system prompt's instruction asking for the JSON a `response_format` asks (the
    schema with it, when given), for a request answered by instruction; None: none asked."""
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return _JSON_ONLY
    if kind == "json_schema":
        spec = response_format.get("json_schema") or {}
        schema = spec.get("schema") if isinstance(spec, dict) else None
        if schema is None:
            return _JSON_ONLY
        return (
            _JSON_ONLY + " It must conform to this JSON Schema:\n" + orjson.dumps(schema).decode()
        )
    return None
