"""The Responses API's tools as chat completions' function tools, and their calls back.

Chat completions has function tools only. Two more kinds of Responses tools are run by the app
itself, not by OpenAI, so any model that calls functions can call them; Codex sends both with
every request (its `apply_patch` is a custom tool, each MCP server's tools are a namespace):

- a `custom` tool (free-form input, optionally a Lark or regex grammar) is sent as a function
  taking one string, `input`, described with the tool's format; its call comes back as a
  `custom_tool_call` whose `input` is that string;
- a `namespace` groups function and custom tools: each is sent as a function named for both,
  `<namespace><name>` when the namespace ends with `_` (Codex's `mcp__docs__` + `search`),
  `<namespace>__<name>` otherwise, in the characters and length chat and Anthropic take; its call
  comes back with `name` and `namespace` apart, as the app dispatches on both.

`tool_origins` reads the same request the translation read, so the answer (JSON or stream) maps
each chat name back to the tool it stands for. Calls of plain function tools are as they were.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import orjson

from gateway.json_types import JSON
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.responses.objects import function_call_item, new_id

# The function names OpenAI's chat and Anthropic's Messages both take.
_NOT_IN_NAMES = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_NAME = 64


@dataclass(frozen=True)
class ToolOrigin:
    """What a chat function stands for: a custom tool, or a tool inside a namespace."""

    name: str
    namespace: str | None = None
    custom: bool = False


def chat_function_name(name: str, namespace: str | None) -> str:
    """The chat function name of the Responses tool `name` (in `namespace`, when given)."""
    if not namespace:
        return name
    joined = namespace + name if namespace.endswith("_") else f"{namespace}__{name}"
    cleaned = _NOT_IN_NAMES.sub("_", joined)
    if len(cleaned) <= _MAX_NAME:
        return cleaned
    digest = hashlib.sha256(joined.encode()).hexdigest()[:8]
    return f"{cleaned[: _MAX_NAME - 9]}_{digest}"


def _flattened(tools: object) -> Iterator[tuple[JSON, str | None]]:
    """Each tool of a Responses `tools` list with its namespace, namespaces opened."""
    for tool in tools if isinstance(tools, list) else ():
        if isinstance(tool, dict) and tool.get("type") == "namespace":
            namespace = str(tool.get("name") or "")
            for child in tool.get("tools") or ():
                if isinstance(child, dict):
                    yield child, namespace
        else:
            yield tool, None


def chat_tools(tools: object) -> list[JSON]:
    """A Responses `tools` list as chat tools; TranslationError for a tool chat cannot carry
    (OpenAI's hosted tools: `web_search`, `file_search`, ...)."""
    out: list[JSON] = []
    names: set[str] = set()
    for tool, namespace in _flattened(tools):
        kind = tool.get("type") if isinstance(tool, dict) else tool
        if kind not in ("function", "custom") or not isinstance(tool, dict):
            raise TranslationError(
                f"the tool '{kind}' needs a deployment with the Responses API", param="tools"
            )
        name = chat_function_name(str(tool.get("name") or ""), namespace)
        if name in names:
            raise TranslationError(
                f"two tools would both be the chat function '{name}'", param="tools"
            )
        names.add(name)
        out.append(_custom_function(tool, name) if kind == "custom" else _function(tool, name))
    return out


def _function(tool: JSON, name: str) -> JSON:
    function = {
        field: tool[field]
        for field in ("description", "parameters", "strict")
        if tool.get(field) is not None
    }
    return {"type": "function", "function": {"name": name, **function}}


def _custom_function(tool: JSON, name: str) -> JSON:
    input_description = "The tool's whole input, as free-form text."
    spec = tool.get("format")
    if isinstance(spec, dict) and spec.get("type") == "grammar":
        input_description = (
            f"The tool's whole input, as text matching this {spec.get('syntax', '')} grammar:\n"
            f"{spec.get('definition', '')}"
        )
    function: JSON = {
        "name": name,
        "parameters": {
            "type": "object",
            "properties": {"input": {"type": "string", "description": input_description}},
            "required": ["input"],
            "additionalProperties": False,
        },
    }
    if isinstance(tool.get("description"), str):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def tool_origins(tools: object) -> dict[str, ToolOrigin]:
    """Chat function name -> the custom or namespaced tool it stands for (plain function tools
    are left out: their calls need no change)."""
    origins: dict[str, ToolOrigin] = {}
    for tool, namespace in _flattened(tools):
        if not isinstance(tool, dict):
            continue
        custom = tool.get("type") == "custom"
        if custom or namespace:
            name = str(tool.get("name") or "")
            origins[chat_function_name(name, namespace)] = ToolOrigin(name, namespace, custom)
    return origins


def chat_call_arguments(item: JSON) -> str:
    """The chat `arguments` of a `custom_tool_call` input item: its `input` in the one field
    its function takes."""
    return orjson.dumps({"input": str(item.get("input") or "")}).decode()


def custom_input(arguments: str) -> str:
    """A custom tool's input from the arguments its function was called with: the `input`
    string (or the one string a model put under another name); the text itself when it is no
    such object (a model that wrote the input bare)."""
    try:
        parsed = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(parsed, dict):
        if isinstance(parsed.get("input"), str):
            return str(parsed["input"])
        strings = [value for value in parsed.values() if isinstance(value, str)]
        if len(parsed) == 1 and len(strings) == 1:
            return strings[0]
    return arguments


def call_item(
    origin: ToolOrigin | None,
    call_id: str,
    chat_name: str,
    arguments: str,
    status: str = "completed",
    item_id: str | None = None,
) -> JSON:
    """The Responses output item of a chat tool call (`origin`: what its function stands for,
    None for a plain function tool)."""
    if origin is None:
        return function_call_item(item_id or new_id("fc"), call_id, chat_name, arguments, status)
    if origin.custom:
        item: JSON = {
            "id": item_id or new_id("ctc"),
            "type": "custom_tool_call",
            "status": status,
            "call_id": call_id,
            "name": origin.name,
            "input": custom_input(arguments),
        }
    else:
        item = function_call_item(item_id or new_id("fc"), call_id, origin.name, arguments, status)
    if origin.namespace:
        item["namespace"] = origin.namespace
    return item
