"""Anthropic Messages requests -> OpenAI chat requests (an Anthropic client, an OpenAI upstream).

A pure function over parsed JSON: no I/O. It builds the upstream body from scratch out of the
fields it knows, so a parameter an OpenAI-compatible server would reject never leaks through.
"""

from __future__ import annotations

import hashlib

from gateway.json_types import JSON
from gateway.providers.anthropic.client_tools import client_tool_function
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.anthropic.schema_patterns import openai_schema
from gateway.providers.anthropic.system_turns import system_turn
from gateway.providers.anthropic.thinking_blocks import carried_reasoning
from gateway.providers.anthropic.tool_calls import tool_call_from_tool_use
from gateway.providers.anthropic.turn_controls import without_turn_controls
from gateway.providers.anthropic.web_search import chat_web_search_options, is_web_search
from gateway.providers.chat_reasoning import encrypted_details

# OpenAI refuses a longer `user` ("Invalid 'user': string too long").
_MAX_USER_LENGTH = 64
# Anthropic server tools (web search, bash, ...) carry a versioned type and run on Anthropic's side.
_CUSTOM_TOOL_TYPES = (None, "custom")


# What a Messages request may ask that only Anthropic runs: refused, as its server tools are,
# rather than left out (the model would answer without the tools and files it was promised).
_ANTHROPIC_SIDE = {
    "mcp_servers": "the MCP connector, which calls the servers for the model",
    "container": "the code execution container, with its skills and files",
}


def anthropic_request_to_openai(
    body: JSON,
    upstream_model: str,
    reasoning_content: bool = False,
    reasoning_details: bool = False,
) -> JSON:
    """Translate an Anthropic `/v1/messages` request into an OpenAI chat request.

    - `system` (a string, or text blocks joined with a blank line) becomes the first message.
    - `text` / `image` / `document` (PDF) blocks become content parts (a lone text block becomes a
      plain string); `tool_use` blocks become assistant `tool_calls` (arguments as compact JSON);
      each `tool_result` becomes a `tool` message, placed before the rest of its user message,
      with the text of its content blocks joined by newlines (a `tool_reference` block, a tool
      search's result, as "Tool loaded: <name>"); its images and documents (which a tool
      message cannot carry) open the user message that follows the tool messages.
    - `thinking` blocks and `cache_control` markers have no OpenAI form and are dropped, as are
      the `top_k`, `thinking` and `service_tier` parameters; a `tool_result`'s `is_error` too.
      With `reasoning_content` (an upstream that takes the reasoning back, such as DeepSeek's:
      `gateway.providers.reasoning_history`), an assistant message's `thinking` blocks are its
      `reasoning_content` instead. With `reasoning_details` (a deployment served through the
      Responses API), the encrypted reasoning the gateway's blocks carry
      (`thinking_blocks.carried_reasoning`) is its `reasoning_details`.
    - `tools` -> function tools, a tool with `defer_loading` only once a `tool_reference`
      of a tool result in the conversation loaded it (Claude Code's tool search: Claude's
      server does the same; OpenAI takes at most 128 tools); `tool_choice`
      auto/any/tool/none -> "auto"/"required"/
      {"type": "function", ...}/"none"; `disable_parallel_tool_use` -> `parallel_tool_calls: false`.
    - `stop_sequences` -> `stop`, `metadata.user_id` -> `user` (its sha256 when longer than
      the 64 characters OpenAI takes); when streaming,
      `stream_options.include_usage` is set so the upstream reports token usage.
    - structured outputs, `output_config.format` (or the beta's `output_format`) of type
      `json_schema`, -> `response_format` `json_schema` with the same schema (named `output`,
      not strict: OpenAI's strict mode refuses schemas Anthropic takes); without it the
      upstream would answer prose where the client expects the JSON document.
    - the `pattern`s of tool and output schemas that OpenAI's validator (Python's `re`) cannot
      compile are left out (`schema_patterns`: Claude Code's JavaScript-dialect `\\p{Cc}`).

    Anthropic's client tools defined by type alone (bash, the text editor, memory) go as
    function tools with their documented schemas (`client_tools`), its web search tool as
    `web_search_options` (`web_search`). Raises `TranslationError` for the other Anthropic
    server tools (web fetch, code execution), the computer tool, what
    else runs on Anthropic's side (`mcp_servers`, `container`), and for image sources OpenAI
    cannot take (Files API ids).
    """
    for field in _ANTHROPIC_SIDE:
        if body.get(field):
            raise TranslationError(
                f"'{field}' runs on Anthropic's side ({_ANTHROPIC_SIDE[field]}): an "
                "OpenAI-compatible upstream has no such thing",
                param=field,
            )
    body = dict(body)  # (its system turns' per-turn controls, as the model would read them)
    without_turn_controls(body, upstream_model)
    messages: list[JSON] = []
    system = body.get("system")
    if isinstance(system, list):
        system = "\n\n".join(
            text for block in _blocks(system) if isinstance(text := block.get("text"), str) and text
        )
    if system:
        messages.append({"role": "system", "content": system})
    for message in body.get("messages") or ():
        if not isinstance(message, dict):
            raise TranslationError("each message must be an object")
        if message.get("role") == "assistant":
            content = message.get("content")
            messages.append(_openai_assistant(content, reasoning_content, reasoning_details))
        elif message.get("role") == "system":  # mid-conversation: a user turn (`system_turns`)
            turn = system_turn(message.get("content"))
            if turn is not None:
                messages.extend(_openai_user(turn["content"]))
        else:
            messages.extend(_openai_user(message.get("content")))

    out: JSON = {"model": upstream_model, "messages": messages}
    if body.get("max_tokens") is not None:
        out["max_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = list(body["stop_sequences"])
    metadata = body.get("metadata")
    if isinstance(metadata, dict) and metadata.get("user_id") is not None:
        out["user"] = _openai_user_id(str(metadata["user_id"]))
    if body.get("stream"):
        out["stream"] = True
        out["stream_options"] = {"include_usage": True}
    _add_openai_tools(out, body)
    schema = _output_schema(body)
    if schema is not None:
        out["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "output", "schema": schema},
        }
    return out


def _output_schema(body: JSON) -> JSON | None:
    """The JSON schema the answer must follow (structured outputs), or None."""
    config = body.get("output_config")
    output_format = config.get("format") if isinstance(config, dict) else None
    if output_format is None:
        output_format = body.get("output_format")
    if not isinstance(output_format, dict) or output_format.get("type") != "json_schema":
        return None
    schema = openai_schema(output_format.get("schema"))
    return schema if isinstance(schema, dict) else None


def _openai_user_id(user_id: str) -> str:
    """`metadata.user_id` as OpenAI's `user`, which takes at most 64 characters: a longer id
    (Claude Code's is about 150) becomes its sha256, 64 hex digits, as stable as the id."""
    if len(user_id) <= _MAX_USER_LENGTH:
        return user_id
    return hashlib.sha256(user_id.encode()).hexdigest()


def for_openai_api(upstream: JSON, body: JSON) -> None:
    """What only OpenAI's own API takes (other compatible servers may refuse a field they do not
    know), added to the chat body `upstream` of the Anthropic request `body`:

    - its `user` (the client's `metadata.user_id`) as its `prompt_cache_key` too: requests with
      the same key and prefix go to the same cache, so a Claude Code session (whose `user_id`
      names it) reads its earlier turns from the cache, not spread over machines with every
      other session sharing its long system prompt and tools;
    - `speed: "fast"` (Claude Code's `/fast`: the same model served faster, at a premium) as
      `service_tier: "priority"`, OpenAI's same offer, as Codex's own fast mode asks for it.
    """
    if "user" in upstream and "prompt_cache_key" not in upstream:
        upstream["prompt_cache_key"] = upstream["user"]
    if body.get("speed") == "fast":
        upstream["service_tier"] = "priority"


def _openai_user(content: object) -> list[JSON]:
    if isinstance(content, str):
        return [{"role": "user", "content": content}]
    tool_messages: list[JSON] = []
    attached: list[JSON] = []  # the images and documents of tool results
    parts: list[JSON] = []
    for block in _blocks(content):
        kind = block.get("type")
        if kind == "tool_result":
            tool_messages.append(
                {
                    "role": "tool",
                    "tool_call_id": block.get("tool_use_id"),
                    "content": _result_text(block.get("content")),
                }
            )
            attached.extend(_media_parts(_blocks(block.get("content"))))
        elif kind == "text":
            parts.append({"type": "text", "text": block.get("text", "")})
        else:
            parts.extend(_media_parts([block]))
        # Other blocks (thinking, server tool results) have no OpenAI form.
    # A tool message carries text only: a result's images and documents (a screenshot, a file
    # read) go in the user message after the tool messages, ahead of the user's own parts.
    parts = attached + parts
    if not parts:
        return tool_messages
    if len(parts) == 1 and parts[0]["type"] == "text":
        return [*tool_messages, {"role": "user", "content": parts[0]["text"]}]
    return [*tool_messages, {"role": "user", "content": parts}]


def _media_parts(blocks: list[JSON]) -> list[JSON]:
    """The `image` and `document` blocks among `blocks` as OpenAI content parts."""
    parts: list[JSON] = []
    for block in blocks:
        if block.get("type") == "image":
            parts.append(
                {"type": "image_url", "image_url": {"url": _source_url(block.get("source"))}}
            )
        elif block.get("type") == "document":
            parts.append(_openai_document(block.get("source")))
    return parts


def _blocks(content: object) -> list[JSON]:
    """A message's (or a tool result's) content blocks: its objects when it is an array."""
    if not isinstance(content, list):
        return []
    return [block for block in content if isinstance(block, dict)]


def _result_text(content: object) -> str:
    """A tool result's text: its text blocks, and a line for each tool it loaded."""
    if isinstance(content, str):
        return content
    lines: list[str] = []
    for block in _blocks(content):
        if block.get("type") == "text" and isinstance(text := block.get("text"), str):
            lines.append(text)
        elif block.get("type") == "tool_reference" and isinstance(block.get("tool_name"), str):
            lines.append(f"Tool loaded: {block['tool_name']}")
    return "\n".join(lines)


def _loaded_tools(messages: object) -> set[str]:
    """The tools a `tool_reference` block of a tool result in `messages` names (a tool search's
    result: Claude's server offers a deferred tool from then on)."""
    return {
        str(reference["tool_name"])
        for message in (messages if isinstance(messages, list) else ())
        if isinstance(message, dict) and message.get("role") == "user"
        for block in _blocks(message.get("content"))
        if block.get("type") == "tool_result"
        for reference in _blocks(block.get("content"))
        if reference.get("type") == "tool_reference" and isinstance(reference.get("tool_name"), str)
    }


def _source_url(source: object) -> str:
    if isinstance(source, dict):
        if source.get("type") == "base64":
            return f"data:{source.get('media_type')};base64,{source.get('data')}"
        if source.get("type") == "url" and isinstance(source.get("url"), str):
            return str(source["url"])
    kind = source.get("type") if isinstance(source, dict) else None
    raise TranslationError(
        f"image source type {kind!r} is not supported by OpenAI-compatible upstreams"
    )


def _openai_document(source: object) -> JSON:
    if isinstance(source, dict) and source.get("type") == "text":
        return {"type": "text", "text": str(source.get("data", ""))}
    if isinstance(source, dict) and source.get("type") == "base64":
        return {
            "type": "file",
            "file": {"filename": "document.pdf", "file_data": _source_url(source)},
        }
    kind = source.get("type") if isinstance(source, dict) else None
    raise TranslationError(
        f"document source type {kind!r} is not supported by OpenAI-compatible upstreams"
    )


def _openai_assistant(content: object, reasoning_content: bool, reasoning_details: bool) -> JSON:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[JSON] = []
    carried: list[str] = []
    for block in _blocks(content):
        kind = block.get("type")
        if kind == "text" and isinstance(text := block.get("text"), str):
            texts.append(text)
        elif kind == "tool_use":
            calls.append(tool_call_from_tool_use(block))
        elif kind == "thinking" and isinstance(thought := block.get("thinking"), str):
            thoughts.append(thought)
            if reasoning_details and (data := carried_reasoning(block)) is not None:
                carried.append(data)
    message: JSON = {"role": "assistant", "content": "".join(texts) if texts or not calls else None}
    if calls:
        message["tool_calls"] = calls
    if reasoning_content and thoughts:
        message["reasoning_content"] = "".join(thoughts)
    if carried:
        message["reasoning_details"] = encrypted_details(carried)
    return message


def _add_openai_tools(out: JSON, body: JSON) -> None:
    tools = body.get("tools")
    if not tools:
        return
    converted = []
    searches: str | None = None  # the web search tool's name
    loaded = _loaded_tools(body.get("messages"))
    for tool in tools:
        if tool.get("defer_loading") is True and tool.get("name") not in loaded:
            continue  # offered once a tool search's result loads it, as Claude's server does
        if is_web_search(tool):
            out["web_search_options"] = chat_web_search_options(tool)
            searches = str(tool.get("name") or "web_search")
            continue
        if tool.get("type") not in _CUSTOM_TOOL_TYPES:
            client_tool = client_tool_function(tool)
            if client_tool is None:
                raise TranslationError(
                    f"Anthropic tool {tool.get('type')!r} cannot run on an OpenAI-compatible "
                    "upstream (a server tool runs on Anthropic's side)"
                )
            converted.append(client_tool)
            continue
        function: JSON = {"name": tool.get("name")}
        if tool.get("description"):
            function["description"] = tool["description"]
        schema = tool.get("input_schema") or {"type": "object", "properties": {}}
        function["parameters"] = openai_schema(schema)
        converted.append({"type": "function", "function": function})
    if converted:
        out["tools"] = converted

    choice = body.get("tool_choice")
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if not converted or (kind == "tool" and choice.get("name") == searches):
        # The search runs whenever the model decides, chat has no choice naming it; and a
        # `tool_choice` without `tools` OpenAI refuses ("tools are required when tool choice
        # is specified").
        return
    if kind == "auto":
        out["tool_choice"] = "auto"
    elif kind == "any":
        out["tool_choice"] = "required"
    elif kind == "none":
        out["tool_choice"] = "none"
    elif kind == "tool":
        out["tool_choice"] = {"type": "function", "function": {"name": choice.get("name")}}
    if choice.get("disable_parallel_tool_use") and kind != "none":
        out["parallel_tool_calls"] = False
