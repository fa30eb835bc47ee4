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
"""

from __future__ import annotations

from gateway.json_types import JSON

STRUCTURED_TOOL = "structured_output"
_DESCRIPTION = "Give the answer: its input is the whole answer, as the requested JSON."


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
