"""A turn Claude paused (`stop_reason: "pause_turn"`), continued for a client that cannot.

Claude runs its server tools (web search, web fetch, code execution) in a loop of its own; a
long loop is paused, the answer so far sent with `pause_turn`, and "you may provide the
response back as-is in a subsequent request to let Claude continue its turn" (Anthropic's
docs). An Anthropic client does that itself. A chat completions or Responses client of a
Claude deployment cannot: its API has no such stop, so the paused answer reached it as a
finished one (`finish_reason: "stop"`), cut mid-work (often a heading, or nothing but the
searches). For those clients the gateway continues the turn: the same request again, with
the answer so far as the last assistant message, up to `MAX_CONTINUATIONS` times, and the
answers joined into one (`merged_message`; a stream's events into one message's,
`paused_streams`). Only requests that offer Claude a server tool can be paused
(`offers_server_tool`): only those are watched.

Pure functions; the calls are made where the upstream I/O is (`gateway.routing.paused_turns`).
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.json_types import JSON

PAUSED = "pause_turn"
# The most times one request's turn is continued; still paused after them, the answer so far
# is the client's, as Claude paused it (`finish_reason: "stop"`). Each continuation may run up
# to Claude's own loop limit of server tool calls; the tool's `max_uses` bounds the searches.
MAX_CONTINUATIONS = 5


def offers_server_tool(upstream: JSON) -> bool:
    """Whether the Messages request `upstream` (one the gateway translated from an OpenAI
    client's) offers a tool Claude runs itself: a typed tool (`web_search_20250305`); the
    client's own tools have no `type` (or `custom`), and the client tools Anthropic defines by
    type alone (bash, the text editor) have no OpenAI form to come from."""
    tools = upstream.get("tools")
    if type(tools) is not list:
        return False
    return any(type(t) is dict and t.get("type") not in (None, "custom") for t in tools)


def paused_message(data: bytes) -> JSON | None:
    """The Messages answer `data` when Claude paused it, else None (not paused, or not a
    message at all: its adapter says what is wrong with it)."""
    if b'"pause_turn"' not in data:
        return None
    try:
        message = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if type(message) is not dict or message.get("stop_reason") != PAUSED:
        return None
    if type(message.get("content")) is not list:
        return None
    return message


def continuation_body(sent: bytes, content: list[JSON]) -> bytes:
    """The request `sent` again, with the paused answer's `content` (all of it so far) as its
    last assistant message: after the request's own messages, or joined to the assistant
    message it ended with (a prefill the answer went on from)."""
    body: dict[str, Any] = orjson.loads(sent)
    messages = list(body.get("messages") or ())
    last = messages[-1] if messages else None
    if type(last) is dict and last.get("role") == "assistant":
        before = last.get("content")
        if isinstance(before, str):
            before = [{"type": "text", "text": before}] if before else []
        messages[-1] = {**last, "content": [*(before or ()), *content]}
    else:
        messages.append({"role": "assistant", "content": content})
    body["messages"] = messages
    return orjson.dumps(body)


def merged_message(answer: JSON, more: JSON) -> JSON:
    """One answer of a turn continued: `answer`'s content then `more`'s, the usage of both
    calls added up (each is billed), the stop as `more` says it."""
    merged = dict(answer)
    merged["content"] = [*answer.get("content", ()), *(more.get("content") or ())]
    merged["stop_reason"] = more.get("stop_reason")
    merged["stop_sequence"] = more.get("stop_sequence")
    merged["usage"] = summed_usage(answer.get("usage"), more.get("usage"))
    return merged


def summed_usage(first: object, then: object) -> JSON:
    """Two calls' `usage` added up: counts summed, nested counts too (`server_tool_use`,
    `cache_creation`); anything else (`service_tier`) as the later call says it."""
    a = first if isinstance(first, dict) else {}
    b = then if isinstance(then, dict) else {}
    out: JSON = {}
    for name in {**a, **b}:
        x, y = a.get(name), b.get(name)
        if isinstance(x, int | float) and isinstance(y, int | float):
            out[name] = x + y
        elif isinstance(x, dict) and isinstance(y, dict):
            out[name] = summed_usage(x, y)
        else:
            out[name] = y if y is not None else x
    return out
