"""A chat completions request -> a Responses API request (a deployment with
`api = "responses"`: a model its upstream serves only there, such as the codex and pro models,
or serves function tools with reasoning only there, such as gpt-5.6).

- `messages` -> `input` items: `system`, `developer` and `user` messages keep their role (text
  parts -> `input_text`, `image_url` -> `input_image`, `file` -> `input_file`), an assistant
  message its text (as a string); an assistant's `tool_calls` -> `function_call` items
  (a custom tool's call -> `custom_tool_call`); `tool` messages -> `function_call_output`; an
  assistant's encrypted reasoning (`reasoning_details`, as the answers carry it:
  `responses_responses_to_chat`) -> `reasoning` items before its text and calls, so a reasoning
  model goes on from its earlier thought;
- function `tools` (nested in chat) -> flat ones, `strict: false` unless the chat tool says
  `strict: true` (chat's default; the Responses API makes a function that does not say strict,
  its schema normalized so that every optional field is required), custom tools as they are;
  `tool_choice` likewise; `parallel_tool_calls`;
- `max_completion_tokens` or `max_tokens` -> `max_output_tokens`, at least OpenAI's minimum
  (`MIN_OUTPUT_TOKENS`: "Invalid 'max_output_tokens': integer below minimum value. Expected a
  value >= 16, but got 1 instead."; Claude Code checks a model with `max_tokens: 1`, and the
  answer may then hold up to 16 tokens); `reasoning_effort` ->
  `reasoning.effort`; `verbosity` -> `text.verbosity`; `response_format` `json_schema` /
  `json_object` -> `text.format`; `temperature`, `top_p`, `user`, `metadata`,
  `prompt_cache_key`, `safety_identifier`, `service_tier`, `stream` as they are;
  `web_search_options` -> the `web_search` tool, and the sources it read asked for
  (`web_search`);
  `store: false` (a chat client keeps its own history: nothing is kept upstream for it), and
  so, for a reasoning model (`keeps_reasoning`), `include: ["reasoning.encrypted_content"]`
  (other models refuse it: "Encrypted content is not supported with this model."); with
  `summaries`, `reasoning.summary: "auto"` (an Anthropic client that asked to see the thinking);
- what the Responses API has no place for (`n` above 1, `stop`, `logprobs`, the penalties,
  `logit_bias`, `seed`, `audio`, `prediction`, ... and legacy `function` messages) raises
  TranslationError naming it, a 400; `stream_options` is the gateway's (the usage always comes).
"""

from __future__ import annotations

from typing import Any

from gateway.json_types import JSON
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.chat_reasoning import encrypted_reasoning, unsealed
from gateway.providers.responses.web_search import SOURCES, web_search_tool

# The least `max_output_tokens` OpenAI takes.
MIN_OUTPUT_TOKENS = 16
_PASSED = (
    "temperature",
    "top_p",
    "user",
    "metadata",
    "parallel_tool_calls",
    "prompt_cache_key",
    "safety_identifier",
    "service_tier",
    "stream",
)
# Chat fields the Responses API has no place for, with the values that ask for nothing (what
# clients send as defaults: LangChain's `n=1`, a `modalities: ["text"]`): any other value is
# refused, never dropped silently. A `seed` always asks for something (0 is a seed).
_REFUSED: dict[str, tuple[object, ...]] = {
    "stop": (None, [], ""),
    "logprobs": (None, False),
    "top_logprobs": (None, 0),
    "frequency_penalty": (None, 0),
    "presence_penalty": (None, 0),
    "logit_bias": (None, {}),
    "seed": (None,),
    "audio": (None,),
    "modalities": (None, ["text"]),
    "prediction": (None,),
    "functions": (None, []),
    "function_call": (None,),
    "n": (None, 1),
}


def _asks_nothing(value: object, defaults: tuple[object, ...]) -> bool:
    # (`is` for None and the booleans: 0 == False, and a seed of 0 is a seed)
    return any(value is d if d is None or isinstance(d, bool) else value == d for d in defaults)


def chat_request_to_responses(
    body: JSON,
    model: str,
    keeps_reasoning: bool = False,
    summaries: bool = False,
    origin: str = "",
) -> JSON:
    """The Responses body asking `model` what the chat body `body` asks; `keeps_reasoning`:
    the model reasons, and its encrypted reasoning is asked for; `summaries`: so are its
    reasoning summaries; `origin`: the encrypted reasoning sent back is the one it sealed
    (`chat_reasoning.unsealed`: another deployment's could not be read)."""
    for name, defaults in _REFUSED.items():
        if not _asks_nothing(body.get(name), defaults):
            raise TranslationError(
                f"'{name}' is not supported by this deployment, which is served through the "
                "Responses API",
                param=name,
            )
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise TranslationError("'messages' must be an array", param="messages")
    out: JSON = {"model": model, "input": _input(messages, origin), "store": False}
    for name in _PASSED:
        if body.get(name) is not None:
            out[name] = body[name]
    limit = body.get("max_completion_tokens", body.get("max_tokens"))
    if isinstance(limit, int):
        out["max_output_tokens"] = max(limit, MIN_OUTPUT_TOKENS)
    if body.get("tools"):
        out["tools"] = [_tool(tool) for tool in body["tools"]]
    if body.get("tool_choice") is not None:
        out["tool_choice"] = _tool_choice(body["tool_choice"])
    include: list[str] = []
    if body.get("web_search_options") is not None:
        out["tools"] = [*out.get("tools", ()), web_search_tool(body["web_search_options"])]
        include.append(SOURCES)
    reasoning: JSON = {}
    if isinstance(body.get("reasoning_effort"), str):
        reasoning["effort"] = body["reasoning_effort"]
    if keeps_reasoning:
        include.append("reasoning.encrypted_content")
        if summaries:
            reasoning["summary"] = "auto"
    if include:
        out["include"] = include
    if reasoning:
        out["reasoning"] = reasoning
    text: JSON = {}
    text_format = _text_format(body.get("response_format"))
    if text_format is not None:
        text["format"] = text_format
    if isinstance(body.get("verbosity"), str):
        text["verbosity"] = body["verbosity"]
    if text:
        out["text"] = text
    return out


def _input(messages: list[Any], origin: str) -> list[JSON]:
    items: list[JSON] = []
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            raise TranslationError(f"messages[{index}] must be an object", param="messages")
        role = message.get("role")
        if role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": str(message.get("tool_call_id", "")),
                    "output": _text(message.get("content")),
                }
            )
        elif role == "assistant":
            for data in encrypted_reasoning(message):
                if (encrypted := unsealed(origin, data)) is not None:
                    items.append(
                        {"type": "reasoning", "summary": [], "encrypted_content": encrypted}
                    )
            # Its text as a string: the form of an earlier answer every Responses server takes.
            text = "".join(p["text"] for p in _content(message.get("content"), "assistant", index))
            if text:
                items.append({"type": "message", "role": "assistant", "content": text})
            items += [_call_item(call) for call in message.get("tool_calls") or ()]
        elif role in ("system", "developer", "user"):
            content = _content(message.get("content"), str(role), index)
            if content:
                items.append({"type": "message", "role": role, "content": content})
        else:
            raise TranslationError(
                f"messages[{index}] has a role the Responses API does not take: {role!r}",
                param=f"messages[{index}].role",
            )
    return items


def _content(content: object, role: str, index: int) -> list[JSON]:
    """A message's content as Responses parts (none for an empty one)."""
    text_kind = "output_text" if role == "assistant" else "input_text"
    if isinstance(content, str):
        return [{"type": text_kind, "text": content}] if content else []
    parts: list[JSON] = []
    for part in content if isinstance(content, list) else ():
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part, dict):
            parts.append({"type": text_kind, "text": str(part.get("text", ""))})
        elif kind == "refusal" and isinstance(part, dict):
            parts.append({"type": text_kind, "text": str(part.get("refusal", ""))})
        elif kind == "image_url" and isinstance(part, dict) and role == "user":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            detail = image.get("detail", "auto") if isinstance(image, dict) else "auto"
            parts.append({"type": "input_image", "image_url": url, "detail": detail})
        elif kind == "file" and isinstance(part, dict) and role == "user":
            file = part.get("file")
            fields = ("file_data", "file_id", "filename")
            chosen = {k: file[k] for k in fields if isinstance(file, dict) and k in file}
            parts.append({"type": "input_file", **chosen})
        else:
            raise TranslationError(
                f"messages[{index}] has a content part the Responses API does not take here: "
                f"{kind!r}",
                param=f"messages[{index}].content",
            )
    return parts


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    texts = [
        str(part.get("text", ""))
        for part in (content if isinstance(content, list) else ())
        if isinstance(part, dict) and part.get("type") == "text"
    ]
    return "".join(texts)


def _call_item(call: object) -> JSON:
    fields: JSON = call if isinstance(call, dict) else {}
    call_id = str(fields.get("id", ""))
    custom = fields.get("custom")
    if fields.get("type") == "custom" and isinstance(custom, dict):
        return {
            "type": "custom_tool_call",
            "call_id": call_id,
            "name": str(custom.get("name", "")),
            "input": str(custom.get("input", "")),
        }
    function = fields.get("function")
    function = function if isinstance(function, dict) else {}
    return {
        "type": "function_call",
        "call_id": call_id,
        "name": str(function.get("name", "")),
        "arguments": str(function.get("arguments") or ""),
    }


def _tool(tool: object) -> JSON:
    kind = tool.get("type") if isinstance(tool, dict) else None
    if kind == "function" and isinstance(tool, dict) and isinstance(tool.get("function"), dict):
        function = tool["function"]
        flat: JSON = {"type": "function", "name": function.get("name")}
        for name in ("description", "parameters"):
            if function.get(name) is not None:
                flat[name] = function[name]
        # Chat's default: the Responses API makes a function without `strict` strict, every
        # optional field then one the model must fill.
        flat["strict"] = function.get("strict") is True
        return flat
    if kind == "custom" and isinstance(tool, dict) and isinstance(tool.get("custom"), dict):
        return {"type": "custom", **tool["custom"]}
    raise TranslationError(f"a tool of type {kind!r} cannot be sent here", param="tools")


def _tool_choice(choice: object) -> object:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict):
        kind = choice.get("type")
        named = choice.get(kind) if isinstance(kind, str) else None
        if kind in ("function", "custom") and isinstance(named, dict):
            return {"type": kind, "name": named.get("name")}
    raise TranslationError("this tool_choice cannot be sent here", param="tool_choice")


def _text_format(response_format: object) -> JSON | None:
    if not isinstance(response_format, dict):
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    schema = response_format.get("json_schema")
    if kind == "json_schema" and isinstance(schema, dict):
        return {"type": "json_schema", **schema}
    return None
