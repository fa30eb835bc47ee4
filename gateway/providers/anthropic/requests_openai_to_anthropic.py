"""OpenAI chat requests -> Anthropic Messages requests (an OpenAI client, an Anthropic upstream).

A pure function over parsed JSON: no I/O. It builds the upstream body from scratch out of the
fields it knows, so a parameter Anthropic would reject never leaks through.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.anthropic.carried_thinking import (
    carried_blocks,
    without_thinking,
)
from gateway.providers.anthropic.claude_versions import default_max_tokens
from gateway.providers.anthropic.effort import claude_effort
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.anthropic.forced_tools import refuses_forced_tools, with_tool_choice_for
from gateway.providers.anthropic.reasoning_thinking import with_reasoning_thinking
from gateway.providers.anthropic.structured_output import (
    claude_output_format,
    forced_choice,
    json_instruction,
    structured_output_tool,
)
from gateway.providers.anthropic.thinking import openai_thinking_off, with_thinking_for
from gateway.providers.anthropic.thinking_blocks import loop_without_thought
from gateway.providers.anthropic.tool_calls import anthropic_tool_id, tool_use_from_tool_call
from gateway.providers.anthropic.web_search import anthropic_web_search_tool

_MEDIA_TYPE_SPELLINGS = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


def openai_request_to_anthropic(body: JSON, upstream_model: str, origin: str = "") -> JSON:
    """Translate an OpenAI chat request into an Anthropic `/v1/messages` request.

    - `system` and `developer` messages (wherever they stand) become the top-level `system`: a
      string, or a list of text blocks when there are several (or a part carries `cache_control`).
    - Consecutive messages of one role are merged, since Anthropic requires user/assistant
      alternation; `tool` messages become `tool_result` blocks of one user message.
    - Images (`image_url` with an http(s) or base64 `data:` URL; `image/jpg` is named
      `image/jpeg`, media types in lower case) become `image` blocks, PDF `file`
      parts with a `data:` URL become `document` blocks; assistant `tool_calls` become `tool_use`
      blocks (arguments that are not a JSON object become `{}`; ids made of other characters
      than Anthropic's `[a-zA-Z0-9_-]` have them replaced by `_`, in results alike).
    - `max_completion_tokens` or `max_tokens` -> `max_tokens` (when absent, which OpenAI reads as
      "as much as the model writes" and Anthropic refuses: 32,000 for Claude 4 and later, 4,096
      for the Claude 3 models and unknown names: `claude_versions.default_max_tokens`); `stop`
      -> `stop_sequences` (without those of whitespace only, which Anthropic refuses); `user` ->
      `metadata.user_id`; `parallel_tool_calls: false` -> `tool_choice.disable_parallel_tool_use`;
      `tool_choice` "none" stays `{"type": "none"}`, the tools kept (a history holding
      `tool_use` blocks stays valid).
    - Messages left without content are dropped, and a final assistant message (a prefill) loses
      its trailing whitespace: Anthropic rejects both.
    - `temperature` is clamped to Anthropic's range [0, 1] (OpenAI allows up to 2); `top_p` and
      `top_k` (an extension some OpenAI clients send) pass on, but `top_p: 1` (a no-op) is left
      out (the adapters then leave out what the deployment's model refuses: `sampling`).
    - `response_format` `json_schema`: a tool Claude is forced to call, taking the schema, whose
      input comes back as the answer's text (`structured_output`). `json_object`, and
      `json_schema` beside tools of the request's own: an instruction to answer with JSON only
      (and the schema, when given) is appended to the system prompt; the answer is then JSON by
      instruction.
    - An assistant message's Claude thinking blocks, carried in its `reasoning_details` sealed
      with `origin` (the deployment's), start its content again (`carried_thinking`).
    - `reasoning_effort` -> `output_config.effort` on Claude 4.6 and later (`effort`), and
      thinking on the Claude 4 models (`reasoning_thinking`); `none` and `minimal`, and a
      request returning tool results to a message without its thinking blocks, turn off the
      thinking of the models that think by default (`thinking`), the blocks then left out.
    - A forced `tool_choice` to a model that refuses forced tool use: `auto`, the call asked in
      the system prompt (`forced_tools`).
    - `web_search_options` -> Claude's web search tool (`web_search`).
    - Dropped: `n` == 1, `logprobs`, `top_logprobs`, `presence_penalty`, `frequency_penalty`,
      `logit_bias`, `seed`, `stream_options`, `store`, `metadata`, ...

    Raises `TranslationError` for what Anthropic cannot do: `n` > 1, audio input, non-function
    tools, the legacy `functions` / `function_call` fields and `function` messages, a
    conversation with no user or assistant message.
    """
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        raise TranslationError(
            f"n={n} is not supported by Anthropic models: they return one choice per request",
            param="n",
        )
    for legacy in ("functions", "function_call"):
        if body.get(legacy) is not None:
            # Dropping them would answer in prose a client waiting for a `function_call`.
            raise TranslationError(
                f"'{legacy}' is not supported by Anthropic models: use 'tools' and 'tool_choice'",
                param=legacy,
            )
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise TranslationError("'messages' must be a list")

    system: list[JSON] = []
    turns: list[tuple[str, list[JSON]]] = []
    for message in messages:
        if not isinstance(message, dict):
            raise TranslationError("each message must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_text_blocks(message.get("content")))
        elif role == "user":
            turns.append(("user", _user_blocks(message.get("content"))))
        elif role == "assistant":
            turns.append(("assistant", carried_blocks(message, origin) + _assistant(message)))
        elif role == "tool":
            turns.append(("user", [_tool_result_block(message)]))
        else:
            raise TranslationError(f"message role {role!r} is not supported; use 'tool' messages")

    out: JSON = {"model": upstream_model, "messages": _merge_turns(turns)}
    if not out["messages"]:
        raise TranslationError("at least one user or assistant message is required")
    max_tokens = body.get("max_completion_tokens")
    if max_tokens is None:
        max_tokens = body.get("max_tokens")
    out["max_tokens"] = default_max_tokens(upstream_model) if max_tokens is None else max_tokens

    structured = structured_output_tool(body)
    output_format = None
    if structured is not None and refuses_forced_tools(upstream_model):
        output_format = claude_output_format(structured["input_schema"])
        structured = None
    asked = structured or output_format
    instruction = None if asked else json_instruction(body.get("response_format"))
    if instruction:
        system.append({"type": "text", "text": instruction})
    if system:
        plain = len(system) == 1 and set(system[0]) == {"type", "text"}
        out["system"] = system[0]["text"] if plain else system

    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)):
        out["temperature"] = min(max(temperature, 0), 1)
    for key in ("top_p", "top_k"):
        if body.get(key) is not None:
            out[key] = body[key]
    if out.get("top_p") == 1:
        # Nucleus sampling over the whole distribution changes nothing, and Claude 4.1 and 4.5
        # models refuse `temperature` and `top_p` together, which OpenAI clients often send.
        del out["top_p"]
    stop = body.get("stop")
    if isinstance(stop, str):
        stop = [stop]
    if isinstance(stop, list):
        # Anthropic refuses a stop sequence of whitespace only ("\n" is a common one): it is
        # left out, as the established gateways do, rather than failing the request.
        sequences = [s for s in stop if isinstance(s, str) and s.strip()]
        if sequences:
            out["stop_sequences"] = sequences
    if body.get("stream"):
        out["stream"] = True
    if body.get("user") is not None:
        out["metadata"] = {"user_id": str(body["user"])}
    effort = claude_effort(body.get("reasoning_effort"), upstream_model)
    if effort is not None:
        out["output_config"] = {"effort": effort}
    sent = out["messages"]
    in_tool_loop = len(sent) >= 2 and loop_without_thought(sent[-2], sent[-1])
    if openai_thinking_off(body.get("reasoning_effort"), upstream_model, in_tool_loop):
        out["thinking"] = {"type": "disabled"}
        with_thinking_for(out, upstream_model)  # in the model's word, effort capped
        if "thinking" in out:  # off (a model that always thinks keeps its blocks)
            out["messages"] = _merge_turns([(r, without_thinking(b)) for r, b in turns])
    if output_format is not None:
        out["output_config"] = {**out.get("output_config", {}), "format": output_format}
    if structured:
        out["tools"], out["tool_choice"] = [structured], forced_choice()
    else:
        _add_tools(out, body)
        with_tool_choice_for(out, upstream_model)
    if body.get("web_search_options") is not None:
        out["tools"] = [
            *out.get("tools", ()),
            anthropic_web_search_tool(body["web_search_options"]),
        ]
    with_reasoning_thinking(out, body.get("reasoning_effort"), in_tool_loop)
    return out


def _has_text(text: object) -> bool:
    """Anthropic refuses a text block of whitespace only ("text content blocks must contain
    non-whitespace text"), in any message and in `system`; OpenAI takes them."""
    return isinstance(text, str) and text != "" and not text.isspace()


def _text_blocks(content: object) -> list[JSON]:
    """System/developer content (a string or text parts) as Anthropic text blocks."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if _has_text(content) else []
    blocks = []
    for part in content if isinstance(content, list) else ():
        if isinstance(part, dict) and part.get("type") == "text" and _has_text(part.get("text")):
            blocks.append(_text_block(part))
    return blocks


def _text_block(part: JSON) -> JSON:
    block: JSON = {"type": "text", "text": part["text"]}
    # Prompt caching markers some clients already put on OpenAI parts (as LiteLLM accepts them).
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _user_blocks(content: object) -> list[JSON]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if _has_text(content) else []
    if not isinstance(content, list):
        return []
    blocks: list[JSON] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if _has_text(part.get("text")):
                blocks.append(_text_block(part))
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            blocks.append(_image_block(url))
        elif kind == "file":
            blocks.append(_document_block(part.get("file")))
        else:
            raise TranslationError(
                f"content part type {kind!r} is not supported by Anthropic models"
            )
    return blocks


def _split_data_url(url: str) -> tuple[str, str]:
    header, sep, data = url.partition(",")
    if not sep or not header.endswith(";base64"):
        raise TranslationError("a data: URL must be base64-encoded ('data:<type>;base64,<data>')")
    return header[len("data:") : -len(";base64")], data


def _image_block(url: object) -> JSON:
    if not isinstance(url, str) or not url:
        raise TranslationError("image_url.url must be a non-empty string")
    if url.startswith("data:"):
        media_type, data = _split_data_url(url)
        # OpenAI takes "image/jpg" and capitals; Anthropic accepts only image/jpeg, image/png,
        # image/gif and image/webp, as written, and refuses the request for anything else.
        media_type = media_type.lower()
        media_type = _MEDIA_TYPE_SPELLINGS.get(media_type, media_type)
        return {
            "type": "image",
            "source": {"type": "base64", "media_type": media_type, "data": data},
        }
    if url.startswith(("http://", "https://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise TranslationError("image_url.url must be an http(s) URL or a base64 data: URL")


def _document_block(file: object) -> JSON:
    data_url = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data_url, str) or not data_url.startswith("data:"):
        raise TranslationError(
            "file parts need 'file_data' as a base64 data: URL (file_id is not supported)"
        )
    media_type, data = _split_data_url(data_url)
    if media_type != "application/pdf":
        raise TranslationError(f"file type {media_type!r} is not supported; only application/pdf")
    return {
        "type": "document",
        "source": {"type": "base64", "media_type": media_type, "data": data},
    }


def _assistant(message: JSON) -> list[JSON]:
    content = message.get("content")
    blocks: list[JSON] = []
    if isinstance(content, str):
        if _has_text(content):
            blocks.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            text = part.get("text") if part.get("type") == "text" else part.get("refusal")
            if _has_text(text):
                blocks.append({"type": "text", "text": text})
    if message.get("function_call"):
        raise TranslationError(
            "legacy 'function_call' messages are not supported; use 'tool_calls'"
        )
    for call in message.get("tool_calls") or ():
        block = tool_use_from_tool_call(call)
        blocks.append({**block, "id": anthropic_tool_id(block["id"])})
    return blocks


def _tool_result_block(message: JSON) -> JSON:
    block: JSON = {
        "type": "tool_result",
        "tool_use_id": anthropic_tool_id(message.get("tool_call_id")),
    }
    content = message.get("content")
    if isinstance(content, list):
        parts = _user_blocks([p for p in content if isinstance(p, dict)])
        if parts:
            block["content"] = parts
    elif isinstance(content, str) and content:
        block["content"] = content
    return block


def _merge_turns(turns: list[tuple[str, list[JSON]]]) -> list[JSON]:
    """Drop empty turns, merge neighbours of one role, and shape each as Anthropic wants it."""
    merged: list[JSON] = []
    for role, blocks in turns:
        if not blocks:
            continue
        if merged and merged[-1]["role"] == role:
            merged[-1]["content"].extend(blocks)
        else:
            merged.append({"role": role, "content": list(blocks)})
    if merged and merged[-1]["role"] == "assistant":
        # A final assistant turn is a prefill, and Anthropic rejects one ending in whitespace.
        last = merged[-1]["content"][-1]
        if last["type"] == "text":
            last["text"] = last["text"].rstrip()
            if not last["text"]:
                merged[-1]["content"].pop()
                if not merged[-1]["content"]:
                    merged.pop()
    for message in merged:
        content = message["content"]
        if len(content) == 1 and set(content[0]) == {"type", "text"}:
            message["content"] = content[0]["text"]
    return merged


def _add_tools(out: JSON, body: JSON) -> None:
    tools = body.get("tools")
    if not tools:
        return  # tool_choice without tools is an error at Anthropic: drop it with them.
    converted = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else None
            raise TranslationError(f"tool type {kind!r} is not supported; only 'function' tools")
        function = tool.get("function") or {}
        spec: JSON = {"name": function.get("name")}
        if function.get("description"):
            spec["description"] = function["description"]
        spec["input_schema"] = function.get("parameters") or {"type": "object", "properties": {}}
        converted.append(spec)
    out["tools"] = converted

    choice = body.get("tool_choice")
    tool_choice: JSON | None = None
    if choice == "auto":
        tool_choice = {"type": "auto"}
    elif choice == "none":
        tool_choice = {"type": "none"}
    elif choice == "required":
        tool_choice = {"type": "any"}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not name:
            raise TranslationError(
                "tool_choice must name a function: {'type': 'function', 'function': {'name': ...}}"
            )
        tool_choice = {"type": "tool", "name": name}
    if body.get("parallel_tool_calls") is False and (tool_choice or {}).get("type") != "none":
        tool_choice = tool_choice or {"type": "auto"}
        tool_choice["disable_parallel_tool_use"] = True
    if tool_choice is not None:
        out["tool_choice"] = tool_choice
