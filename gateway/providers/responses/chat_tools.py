"""The Responses API's tools as chat completions' function tools, and their calls back.

Chat completions has function tools only. Three more kinds of Responses tools are run by the
app itself, not by OpenAI, so any model that calls functions can call them; Codex sends them
(its `apply_patch` is a custom tool, each MCP server's tools are a namespace, and the tools it
defers are found by a tool search it runs):

- a `custom` tool (free-form input, optionally a Lark or regex grammar) is sent as a function
  taking one string, `input`, described with the tool's format; its call comes back as a
  `custom_tool_call` whose `input` is that string;
- a `namespace` groups function and custom tools: each is sent as a function named for both,
  `<namespace><name>` when the namespace ends with `_` (Codex's `mcp__docs__` + `search`),
  `<namespace>__<name>` otherwise, in the characters and length chat and Anthropic take; its call
  comes back with `name` and `namespace` apart, as the app dispatches on both;
- a `tool_search` the client executes (`execution: "client"`) is sent as a function of that
  name with its description and parameters, and its call comes back as a `tool_search_call`
  with the arguments as an object. Tools with `defer_loading` are not sent until a
  `tool_search_output` in the input has loaded them (its `tools` are then offered as the
  request's own are): the model sees what the search found, as on OpenAI. The tools of an
  `additional_tools` input item (Codex puts one at the head of its input from 0.154 on) are
  offered so too.

OpenAI's hosted tools run on OpenAI's side, where chat has none. Those an app offers by default,
which only add to what the model may do (`OPTIONAL_HOSTED_TOOLS`: Codex sends `web_search` with
every request, its cached search being on unless turned off, and `image_generation` with some
models), are left out, so the model answers without them as a model without search does; the
others (`file_search`, `code_interpreter`, a remote `mcp` server, `computer_use_preview`, a
`tool_search` OpenAI runs) are refused with a 400: a request that offers them relies on them,
as does one whose `tool_choice` names a hosted tool.

`tool_origins` reads the same request the translation read, so the answer (JSON or stream) maps
each chat name back to the tool it stands for. Calls of plain function tools are as they were.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import orjson

from gateway.json_types import JSON
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.responses.objects import function_call_item, new_id

# The function names OpenAI's chat and Anthropic's Messages both take.
_NOT_IN_NAMES = re.compile(r"[^a-zA-Z0-9_-]")
_MAX_NAME = 64

ToolKind = Literal["function", "custom", "tool_search"]


@dataclass(frozen=True)
class ToolOrigin:
    """What a chat function stands for: a custom tool, a tool inside a namespace, the client's
    tool search."""

    name: str
    namespace: str | None = None
    kind: ToolKind = "function"


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


def _flattened(tools: object) -> Iterator[tuple[object, str | None]]:
    """Each tool of a Responses `tools` list with its namespace, namespaces opened."""
    for tool in tools if isinstance(tools, list) else ():
        if isinstance(tool, dict) and tool.get("type") == "namespace":
            namespace = str(tool.get("name") or "")
            children = tool.get("tools")
            for child in children if isinstance(children, list) else ():
                yield child, namespace
        else:
            yield tool, None


def _offered(body: JSON) -> Iterator[tuple[object, str | None, bool]]:
    """The tools `body` offers the model now, each with its namespace and whether it came from
    the input: the request's own (those deferred left out), then the ones its input adds, those
    a `tool_search_output` loaded and those of an `additional_tools` item (Codex's, at the head
    of its input from 0.154 on; deferred ones left out), offered from there on, which chat can
    only offer for the whole request."""
    for tool, namespace in _flattened(body.get("tools")):
        if not _deferred(tool):
            yield tool, namespace, False
    items = body.get("input")
    for item in items if isinstance(items, list) else ():
        kind = item.get("type") if isinstance(item, dict) else None
        if kind == "tool_search_output" or kind == "additional_tools":
            for tool, namespace in _flattened(item.get("tools")):
                if kind == "tool_search_output" or not _deferred(tool):
                    yield tool, namespace, True


def _deferred(tool: object) -> bool:
    return isinstance(tool, dict) and tool.get("defer_loading") is True


def _kind(tool: object) -> ToolKind | None:
    """How chat can carry `tool`: as one of these kinds of function, or not at all (None)."""
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind == "function":
        return "function"
    if kind == "custom":
        return "custom"
    if kind == "tool_search" and isinstance(tool, dict) and tool.get("execution") == "client":
        return "tool_search"
    return None


# Hosted tools that only add to what the model may do, which apps offer by default.
OPTIONAL_HOSTED_TOOLS = frozenset(
    {
        "web_search",
        "web_search_preview",
        "web_search_preview_2025_03_11",
        "web_search_2025_08_26",
        "image_generation",
    }
)


def chat_tools(body: JSON) -> list[JSON]:
    """The chat tools of a Responses request, the optional hosted ones left out;
    TranslationError for another tool chat cannot carry (OpenAI's other hosted tools:
    `file_search`, a `tool_search` OpenAI runs, ...)."""
    out: list[JSON] = []
    names: set[str] = set()
    for tool, namespace, loaded in _offered(body):
        kind = _kind(tool)
        if kind is None and isinstance(tool, dict) and tool.get("type") in OPTIONAL_HOSTED_TOOLS:
            continue
        if kind is None or not isinstance(tool, dict):
            what = tool.get("type") if isinstance(tool, dict) else tool
            raise TranslationError(
                f"the tool '{what}' needs a deployment with the Responses API", param="tools"
            )
        name = "tool_search" if kind == "tool_search" else str(tool.get("name") or "")
        name = chat_function_name(name, namespace)
        if name in names:
            if loaded:  # loaded again by a later search or item, or offered already
                continue
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


def tool_origins(body: JSON) -> dict[str, ToolOrigin]:
    """Chat function name -> the custom, namespaced or tool-search tool it stands for, in the
    Responses request `body` (plain function tools are left out: their calls need no change)."""
    origins: dict[str, ToolOrigin] = {}
    for tool, namespace, _ in _offered(body):
        kind = _kind(tool)
        if kind is None or not isinstance(tool, dict) or (kind == "function" and not namespace):
            continue
        name = "tool_search" if kind == "tool_search" else str(tool.get("name") or "")
        origins.setdefault(chat_function_name(name, namespace), ToolOrigin(name, namespace, kind))
    return origins


def chat_call_arguments(item: JSON) -> str:
    """The chat `arguments` of a call item of the input: a `function_call`'s own, a
    `custom_tool_call`'s `input` in the one field its function takes, a `tool_search_call`'s
    arguments object."""
    kind = item.get("type")
    if kind == "custom_tool_call":
        return orjson.dumps({"input": str(item.get("input") or "")}).decode()
    arguments = item.get("arguments")
    if kind == "tool_search_call" and not isinstance(arguments, str):
        return orjson.dumps(arguments if arguments is not None else {}).decode()
    return str(arguments or "")


def loaded_tools_text(item: JSON) -> str:
    """The tool message of a `tool_search_output` item: what it loaded (the functions
    themselves are offered with the request's tools)."""
    names = [
        chat_function_name(str(tool.get("name") or ""), namespace)
        for tool, namespace in _flattened(item.get("tools"))
        if isinstance(tool, dict)
    ]
    return "Tools loaded: " + ", ".join(names) if names else "No tools found."


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


def search_arguments(arguments: str) -> object:
    """A tool search's arguments as the object a `tool_search_call` carries (`{}` for none; the
    text itself when it is no JSON)."""
    if not arguments:
        return {}
    try:
        return orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments


_ID_PREFIXES = {"function": "fc", "custom": "ctc", "tool_search": "tsc"}


def call_item(
    origin: ToolOrigin | None,
    call_id: str,
    chat_name: str,
    arguments: str,
    status: str = "completed",
    id_suffix: str | None = None,
) -> JSON:
    """The Responses output item of a chat tool call (`origin`: what its function stands for,
    None for a plain function tool); its id is `fc_`, `ctc_` or `tsc_` + `id_suffix` (random
    when None)."""
    kind = origin.kind if origin is not None else "function"
    prefix = _ID_PREFIXES[kind]
    item_id = f"{prefix}_{id_suffix}" if id_suffix else new_id(prefix)
    if origin is None:
        return function_call_item(item_id, call_id, chat_name, arguments, status)
    if kind == "tool_search":
        return {
            "id": item_id,
            "type": "tool_search_call",
            "status": status,
            "call_id": call_id,
            "execution": "client",
            "arguments": search_arguments(arguments),
        }
    if kind == "custom":
        item: JSON = {
            "id": item_id,
            "type": "custom_tool_call",
            "status": status,
            "call_id": call_id,
            "name": origin.name,
            "input": custom_input(arguments),
        }
    else:
        item = function_call_item(item_id, call_id, origin.name, arguments, status)
    if origin.namespace:
        item["namespace"] = origin.namespace
    return item
