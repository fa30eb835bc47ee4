"""A Responses API request -> a chat completions request (for upstreams without Responses).

- `instructions` -> a leading `system` message; `developer` messages -> `system` (what every
  OpenAI-compatible server accepts);
- `input` as a string -> one user message; as items: `message` items (string content, or
  `input_text` / `output_text` / `input_image` parts) -> messages, `function_call`,
  `custom_tool_call` and `tool_search_call` items -> `tool_calls` on an assistant message
  (consecutive calls share one), their `*_output` items -> `tool` messages with its text (its
  images, which a tool message cannot carry, in a user message after the run of outputs),
  `reasoning` items are dropped (chat has no place for them), except to an upstream that takes
  the reasoning back (`reasoning_content`: the next assistant message's); a `compaction` item
  the gateway made -> the user message holding its summary, OpenAI's (its encrypted state)
  dropped (`compaction`); an `additional_tools` item's tools are offered with the request's
  (`chat_tools`); a call without its output gets one saying there is none, an output without
  its call becomes a user message (`_paired`: chat refuses both);
- function `tools` (flat in Responses) -> nested chat tools; `custom` tools, `namespace`s of
  tools and a client-run `tool_search` -> function tools too (`chat_tools`, which says how);
  `tool_choice` likewise;
- `text.format` `json_schema` / `json_object` -> `response_format`; `reasoning.effort` ->
  `reasoning_effort`; `max_output_tokens` -> `max_tokens`; `temperature`, `top_p`, `user`,
  `parallel_tool_calls` and `stream` as they are;
- `metadata`, `store`, `include`, `truncation`, `service_tier` ... have no chat counterpart
  and stay with the gateway. The hosted tools an app offers by default (`web_search`,
  `image_generation`) are left out (`chat_tools`); what else chat cannot express (the other
  hosted tools, a `tool_choice` naming one, `item_reference` items, `background`, an
  unexpanded `previous_response_id`) raises TranslationError, which the client sees as a 400.
"""

from __future__ import annotations

from typing import Any

from gateway.json_types import JSON
from gateway.providers.anthropic.carried_thinking import entry_of_encrypted_content
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.responses.chat_tools import (
    chat_call_arguments,
    chat_function_name,
    chat_tools,
    loaded_tools_text,
)
from gateway.providers.responses.compaction import compaction_summary, summary_text
from gateway.providers.responses.objects import reasoning_parts_text

_PASSED = ("temperature", "top_p", "user", "parallel_tool_calls", "stream")
_TEXT_PARTS = ("input_text", "output_text", "text")
_OUTPUTS = ("function_call_output", "custom_tool_call_output")
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "developer": "system"}


def responses_request_to_chat(
    body: JSON, model: str, reasoning_content: bool = False, carried: bool = False
) -> JSON:
    """The chat completions body asking `model` what `body` asks the Responses API;
    `reasoning_content`: the upstream takes the reasoning back (`reasoning_history`), and each
    `reasoning` item's text goes as the `reasoning_content` of the assistant message after it;
    `carried` (a Claude upstream): the thinking blocks `reasoning` items carry go in that
    message's `reasoning_details` (`anthropic.carried_thinking`)."""
    if body.get("previous_response_id"):
        raise TranslationError(
            "previous_response_id cannot be sent to a deployment without the Responses API",
            param="previous_response_id",
        )
    if body.get("background"):
        raise TranslationError(
            "background responses need a deployment with the Responses API", param="background"
        )
    messages: list[JSON] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    messages += input_messages(body.get("input"), reasoning_content, carried)
    out: JSON = {"model": model, "messages": messages}
    for name in _PASSED:
        if body.get(name) is not None:
            out[name] = body[name]
    if isinstance(body.get("max_output_tokens"), int):
        out["max_tokens"] = body["max_output_tokens"]
    tools = chat_tools(body)
    if tools:
        out["tools"] = tools
    choice = body.get("tool_choice")
    if choice is not None:
        out["tool_choice"] = _tool_choice(choice)
        if not tools and out["tool_choice"] == "required":
            raise TranslationError(
                "tool_choice 'required' with none but hosted tools needs a deployment with the "
                "Responses API",
                param="tool_choice",
            )
        if not tools:  # nothing to choose from (every tool was a hosted one, left out)
            del out["tool_choice"]
    response_format = chat_response_format((body.get("text") or {}).get("format"))
    if response_format is not None:
        out["response_format"] = response_format
    reasoning = body.get("reasoning")
    if isinstance(reasoning, dict) and isinstance(reasoning.get("effort"), str):
        out["reasoning_effort"] = reasoning["effort"]
    return out


def input_messages(
    value: object, reasoning_content: bool = False, carried: bool = False
) -> list[JSON]:
    """Responses `input` (a string or a list of items) as chat messages."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise TranslationError("'input' must be a string or an array of items", param="input")
    messages: list[JSON] = []
    # The images of the latest run of function_call_output items: a tool message carries text
    # only, so they follow the run in a user message (a screenshot a tool returned).
    attached: list[JSON] = []
    thought = ""  # the text of `reasoning` items, for the next assistant message
    details: list[JSON] = []  # the thinking blocks they carry, likewise
    for index, item in enumerate(value):
        if not isinstance(item, dict):
            raise TranslationError(f"input[{index}] must be an object", param=f"input[{index}]")
        kind = item.get("type", "message")
        if kind not in _OUTPUTS and attached:
            messages.append({"role": "user", "content": attached})
            attached = []
        if kind == "message":
            messages.append(_message(item, index))
        elif kind in ("function_call", "custom_tool_call", "tool_search_call"):
            _add_call(messages, item)
        elif kind == "tool_search_output":
            call_id = str(item.get("call_id", ""))
            text = loaded_tools_text(item)
            messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
        elif kind in _OUTPUTS:
            output = item.get("output")
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": str(item.get("call_id", "")),
                    "content": _output(output),
                }
            )
            for part in output if isinstance(output, list) else ():
                if not isinstance(part, dict) or part.get("type") not in _TEXT_PARTS:
                    attached.append(_part(part, index, "output"))
        elif kind == "reasoning":
            if reasoning_content:
                thought += _reasoning_text(item)
            entry = entry_of_encrypted_content(item.get("encrypted_content")) if carried else None
            if entry is not None:
                details.append({**entry, "index": len(details)})
            continue
        elif kind == "additional_tools":  # tools offered from here: the request's (chat_tools)
            continue
        elif kind == "compaction":
            summary = compaction_summary(item)
            if summary is None:  # OpenAI's: its encrypted state is for OpenAI only
                continue
            messages.append({"role": "user", "content": summary_text(summary)})
        else:
            raise TranslationError(
                f"input[{index}] of type '{kind}' needs a deployment with the Responses API",
                param=f"input[{index}].type",
            )
        if thought and messages[-1]["role"] == "assistant":
            last = messages[-1]
            last["reasoning_content"] = str(last.get("reasoning_content") or "") + thought
            thought = ""
        if details and messages[-1]["role"] == "assistant":
            messages[-1]["reasoning_details"] = [
                *messages[-1].get("reasoning_details", ()),
                *details,
            ]
            details = []
    if attached:
        messages.append({"role": "user", "content": attached})
    return _paired(messages)


# The result of a call the conversation holds no output of (the client stopped the turn while
# the tool ran, or lost its output): chat refuses a call without one.
NO_RESULT = "(no result: the call was stopped before it returned)"


def _paired(messages: list[JSON]) -> list[JSON]:
    """`messages` as chat takes them: each assistant message's tool calls answered by the tool
    messages right after it. A call without an output gets `NO_RESULT` ("An assistant message
    with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'"); an
    output without its call (Codex injects some, a client may lose the call) becomes a user
    message after the run of outputs ("messages with role 'tool' must be a response to a
    preceding message with 'tool_calls'"). Nothing changes for a conversation in order."""
    out: list[JSON] = []
    # The calls of the last assistant message not answered yet (a dict: one look-up each, for a
    # message of thousands of calls as for one of two).
    pending: dict[str, None] = {}
    strays: list[JSON] = []  # outputs without a call, for after the run of outputs
    for message in messages:
        if message["role"] == "tool":
            if pending.pop(str(message.get("tool_call_id")), 0) is None:  # (0: not pending)
                out.append(message)
            else:
                strays.append(_stray_output(message))
            continue
        out += [_no_result(call_id) for call_id in pending] + strays
        pending, strays = {}, []
        out.append(message)
        if message["role"] == "assistant":
            calls = message.get("tool_calls") or ()
            pending = dict.fromkeys(str(call.get("id", "")) for call in calls)
    return out + [_no_result(call_id) for call_id in pending] + strays


def _no_result(call_id: str) -> JSON:
    return {"role": "tool", "tool_call_id": call_id, "content": NO_RESULT}


def _stray_output(message: JSON) -> JSON:
    call_id = message.get("tool_call_id") or "without an id"
    text = f"The output of a tool call ({call_id}) this conversation does not hold:\n"
    return {"role": "user", "content": text + str(message.get("content") or "")}


def _reasoning_text(item: JSON) -> str:
    """A `reasoning` item's text: its full `content` when it has one, else its summary."""
    return reasoning_parts_text(item, "content") or reasoning_parts_text(item, "summary")


def _message(item: JSON, index: int) -> JSON:
    role = _ROLES.get(str(item.get("role")))
    if role is None:
        raise TranslationError(
            f"input[{index}].role must be user, assistant, system or developer",
            param=f"input[{index}].role",
        )
    content = item.get("content")
    if isinstance(content, str):
        return {"role": role, "content": content}
    if not isinstance(content, list):
        raise TranslationError(
            f"input[{index}].content must be a string or an array of parts",
            param=f"input[{index}].content",
        )
    if role != "user":
        # Chat takes text only from the other roles: the parts' text, joined.
        return {"role": role, "content": "".join(_text(part) for part in content)}
    return {"role": role, "content": [_part(part, index) for part in content]}


def _text(part: object) -> str:
    if isinstance(part, dict):
        for name in ("text", "refusal"):
            if isinstance(part.get(name), str):
                return str(part[name])
    return ""


def _part(part: object, index: int, field: str = "content") -> JSON:
    if not isinstance(part, dict):
        raise TranslationError(
            f"input[{index}] has a content part that is not an object",
            param=f"input[{index}].{field}",
        )
    kind = part.get("type")
    if kind in _TEXT_PARTS:
        return {"type": "text", "text": _text(part)}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image: JSON = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    raise TranslationError(
        f"input[{index}] has a content part of type '{kind}' that chat completions cannot carry",
        param=f"input[{index}].{field}",
    )


def _add_call(messages: list[JSON], item: JSON) -> None:
    if item.get("type") == "tool_search_call":
        name = "tool_search"
    else:
        namespace = item.get("namespace")
        name = chat_function_name(str(item.get("name", "")), str(namespace) if namespace else None)
    call = {
        "id": str(item.get("call_id", "")),
        "type": "function",
        "function": {"name": name, "arguments": chat_call_arguments(item)},
    }
    last = messages[-1] if messages else None
    if last is not None and last["role"] == "assistant" and "tool_calls" in last:
        last["tool_calls"].append(call)
    elif last is not None and last["role"] == "assistant" and isinstance(last.get("content"), str):
        last["tool_calls"] = [call]
    else:
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})


def _output(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_text(part) for part in value)
    return ""


def _tool_choice(choice: object) -> Any:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, dict) and choice.get("type") in ("function", "custom"):
        return {"type": "function", "function": {"name": choice.get("name")}}
    raise TranslationError(
        "this tool_choice needs a deployment with the Responses API", param="tool_choice"
    )


def chat_response_format(spec: object) -> JSON | None:
    """The chat `response_format` of a Responses `text.format` (None: plain text)."""
    if not isinstance(spec, dict):
        return None
    kind = spec.get("type")
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {
            name: spec[name]
            for name in ("name", "description", "schema", "strict")
            if spec.get(name) is not None
        }
        return {"type": "json_schema", "json_schema": schema}
    return None
