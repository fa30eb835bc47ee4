"""The Responses API objects, built as OpenAI sends them: the `response`, its output items, its
usage, and the gateway's `Usage` read from it.

Shared by the translations (a chat completion or an Anthropic message turned into a response)
and by the mock provider, so every Responses body the gateway makes has one shape.
"""

from __future__ import annotations

import secrets
import time

from gateway.json_types import JSON
from gateway.providers.anthropic.carried_thinking import as_encrypted_content
from gateway.providers.base import Usage, token_count

# Request fields a response object echoes back, with OpenAI's defaults.
_ECHOED: JSON = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "user": None,
}


def new_id(prefix: str) -> str:
    """`resp_`, `msg_`, `fc_` ... + 48 hex digits, unique across processes."""
    return f"{prefix}_{secrets.token_hex(24)}"


def response_object(
    request: JSON,
    response_id: str,
    model: str,
    output: list[JSON],
    usage: JSON | None,
    *,
    status: str = "completed",
    incomplete_reason: str | None = None,
    created_at: int | None = None,
) -> JSON:
    """A `response` object answering `request` (whose fields it echoes, as OpenAI does)."""
    response: JSON = {
        "id": response_id,
        "object": "response",
        "created_at": int(time.time()) if created_at is None else created_at,
        "status": status,
        "error": None,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "model": model,
        "output": output,
    }
    for name, default in _ECHOED.items():
        value = request.get(name)
        response[name] = default if value is None else value
    response["usage"] = usage
    return response


def message_item(item_id: str, text: str, status: str = "completed") -> JSON:
    """An assistant `message` output item with one `output_text` part."""
    return {
        "id": item_id,
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": [output_text_part(text)],
    }


def user_message_item(content: object) -> JSON:
    """A user `message` item; text `content` as one `input_text` part, parts as they are."""
    if isinstance(content, str):
        content = [{"type": "input_text", "text": content}]
    return {"type": "message", "role": "user", "content": content}


def reasoning_item(item_id: str, text: str) -> JSON:
    """A `reasoning` output item holding the model's own reasoning text (not a summary)."""
    return {
        "id": item_id,
        "type": "reasoning",
        "status": "completed",
        "summary": [],
        "content": [{"type": "reasoning_text", "text": text}],
    }


ENCRYPTED_INCLUDE = "reasoning.encrypted_content"


def asks_encrypted_reasoning(request: JSON) -> bool:
    """Whether the Responses request `request` asks for the encrypted reasoning (`include`),
    as a client that stores nothing upstream does (Codex) to send it back."""
    include = request.get("include")
    return type(include) is list and ENCRYPTED_INCLUDE in include


def carried_thinking_item(item_id: str, entry: JSON) -> JSON:
    """A `reasoning` item carrying Claude's thinking block `entry` (`carried_thinking`): its
    shown text as the item's reasoning text, the entry as its `encrypted_content`."""
    item: JSON = {"id": item_id, "type": "reasoning", "status": "completed", "summary": []}
    text = entry.get("text")
    if isinstance(text, str) and text:
        item["content"] = [{"type": "reasoning_text", "text": text}]
    item["encrypted_content"] = as_encrypted_content(entry)
    return item


def reasoning_parts_text(item: JSON, field: str) -> str:
    """The text of a `reasoning` item's `content` (its raw reasoning, joined as it is) or
    `summary` (its summary parts, a blank line between them)."""
    parts = item.get(field)
    texts = [
        part["text"]
        for part in (parts if isinstance(parts, list) else ())
        if isinstance(part, dict) and isinstance(part.get("text"), str)
    ]
    return ("\n\n" if field == "summary" else "").join(texts)


def output_text_part(text: str) -> JSON:
    return {"type": "output_text", "text": text, "annotations": []}


def function_call_item(
    item_id: str, call_id: str, name: str, arguments: str, status: str = "completed"
) -> JSON:
    return {
        "id": item_id,
        "type": "function_call",
        "status": status,
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
    }


def responses_usage(
    input_tokens: int, output_tokens: int, cached_tokens: int = 0, reasoning_tokens: int = 0
) -> JSON:
    return {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": cached_tokens},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": reasoning_tokens},
        "total_tokens": input_tokens + output_tokens,
    }


def usage_from_responses(usage: object) -> Usage | None:
    """A Responses `usage` as the gateway's record; None when it counts nothing (absent, not an
    object, or `{}` as some compatible servers send), so the gateway's estimate stands in."""
    if not isinstance(usage, dict) or not usage:
        return None
    input_details = usage.get("input_tokens_details")
    output_details = usage.get("output_tokens_details")
    return Usage(
        prompt_tokens=token_count(usage.get("input_tokens"), "input_tokens"),
        completion_tokens=token_count(usage.get("output_tokens"), "output_tokens"),
        cached_tokens=token_count(input_details.get("cached_tokens"), "cached_tokens")
        if isinstance(input_details, dict)
        else 0,
        reasoning_tokens=token_count(output_details.get("reasoning_tokens"), "reasoning_tokens")
        if isinstance(output_details, dict)
        else 0,
        reported=True,
    )


def usage_with_searches(usage: Usage, response: JSON) -> Usage:
    """`usage` with the web searches `response` made: its `web_search_call` output items
    (each a call OpenAI bills, whatever its action)."""
    output = response.get("output")
    if isinstance(output, list):
        usage.web_searches = sum(
            1 for item in output if isinstance(item, dict) and item.get("type") == "web_search_call"
        )
    return usage


def output_text(response: object) -> str:
    """The text of every `output_text` part of a response (or of its `output` list)."""
    output = response.get("output") if isinstance(response, dict) else response
    parts: list[str] = []
    for item in output if isinstance(output, list) else ():
        if isinstance(item, dict) and item.get("type") == "message":
            for part in item.get("content") or ():
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    parts.append(part["text"])
    return "".join(parts)
