"""What a model answered, whatever wire shape the answer came in.

A logged `response` is an OpenAI chat completion, an Anthropic message, or `{"text": ...}` for
a stream (the gateway keeps only the streamed text). `Answer` is the common form the scorers
compare: the text of the first choice and its tool calls as (name, canonical JSON arguments).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from gateway.errors import UpstreamFailed
from gateway.providers.base import token_count

CHAT = "/v1/chat/completions"
MESSAGES = "/v1/messages"
ENDPOINTS = (CHAT, MESSAGES)


@dataclass(frozen=True)
class ToolCall:
    name: str
    arguments: str  # canonical JSON (sorted keys, compact), or the raw text when it is not JSON

    def render(self) -> str:
        return f"{self.name}({self.arguments})"


@dataclass(frozen=True)
class Answer:
    text: str
    tool_calls: tuple[ToolCall, ...] = ()
    # False for a streamed answer: the log keeps its text only, so tool calls are unknown.
    tools_known: bool = True

    def render(self) -> str:
        """Text, then one `name(args)` line per tool call: what similarity and diffs look at."""
        lines = [self.text] if self.text else []
        lines += [call.render() for call in self.tool_calls]
        return "\n".join(lines)


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    # Anthropic prompt-cache writes (part of prompt_tokens, priced at their own rate).
    cache_write_tokens: int = 0
    # Of those, the writes to the 1-hour cache (priced at theirs).
    cache_write_1h_tokens: int = 0
    # Web searches the provider ran (billed per search: `web_search_cost_per_1k`).
    web_searches: int = 0

    @property
    def total(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def canonical_json(value: Any) -> str:
    """Arguments as canonical JSON; text that is not JSON stays as it is."""
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text)
        except ValueError:
            return text
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_text(content: object) -> str:
    """A message's (or Anthropic `system`'s) text: a string, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _list(value: Any) -> list[Any]:
    """`value` when it is a list, else no items: a target at a URL may be any server, and a
    `tool_calls` or `content` of 5 is no list of anything."""
    return value if isinstance(value, list) else []


def _openai(body: dict[str, Any]) -> Answer:
    choices = body.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return Answer("")
    message = choices[0].get("message")
    if not isinstance(message, dict):
        return Answer("")
    calls = []
    for call in _list(message.get("tool_calls")):
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            calls.append(
                ToolCall(str(function.get("name")), canonical_json(function.get("arguments", "")))
            )
    return Answer(content_text(message.get("content")), tuple(calls))


def _anthropic(body: dict[str, Any]) -> Answer:
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in _list(body.get("content")):
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_use":
            calls.append(ToolCall(str(block.get("name")), canonical_json(block.get("input", {}))))
    return Answer("".join(texts), tuple(calls))


def extract_answer(body: Any) -> Answer | None:
    """The answer in a response body, or None when there is none (an error body, nothing logged)."""
    if not isinstance(body, dict) or "error" in body:
        return None
    if "choices" in body:
        return _openai(body)
    if body.get("type") == "message" or isinstance(body.get("content"), list):
        return _anthropic(body)
    if isinstance(body.get("text"), str):
        return Answer(body["text"], tools_known=False)
    return None


class InvalidUsage(ValueError):
    """A response's usage holds a count that is no whole number with 0 <= n < 2**53."""


def _count(usage: dict[str, Any], name: str) -> int:
    # Bounded as the gateway bounds an upstream's usage (`token_count`): a target at a URL may
    # be any server, and "12", 1e400 or 10**30 are no counts to add up or price.
    try:
        return token_count(usage.get(name), name)
    except UpstreamFailed as exc:
        raise InvalidUsage(str(exc)) from None


def extract_usage(body: Any) -> Usage | None:
    """Token usage (and web searches) from an OpenAI or Anthropic response body; InvalidUsage
    when a count in it is no whole number with 0 <= n < 2**53."""
    usage = body.get("usage") if isinstance(body, dict) else None
    if not isinstance(usage, dict):
        return None
    if "input_tokens" in usage or "output_tokens" in usage:
        cached = _count(usage, "cache_read_input_tokens")
        written = _count(usage, "cache_creation_input_tokens")
        by_ttl = usage.get("cache_creation")
        written_1h = _count(by_ttl, "ephemeral_1h_input_tokens") if isinstance(by_ttl, dict) else 0
        return Usage(
            _count(usage, "input_tokens") + cached + written,
            _count(usage, "output_tokens"),
            cached,
            written,
            min(written_1h, written),
            _searches(body, usage),
        )
    details = usage.get("prompt_tokens_details")
    cached = _count(details, "cached_tokens") if isinstance(details, dict) else 0
    return Usage(_count(usage, "prompt_tokens"), _count(usage, "completion_tokens"), cached)


def _searches(body: dict[str, Any], usage: dict[str, Any]) -> int:
    """The web searches of an Anthropic answer (`server_tool_use.web_search_requests`) or a
    Responses one (its `web_search_call` items)."""
    server_tools = usage.get("server_tool_use")
    if isinstance(server_tools, dict):
        return _count(server_tools, "web_search_requests")
    output = body.get("output")
    items = output if isinstance(output, list) else ()
    return sum(1 for i in items if isinstance(i, dict) and i.get("type") == "web_search_call")


def wants_json(request: Any) -> bool:
    """The request asked for a JSON answer (`response_format` json_object or json_schema)."""
    fmt = request.get("response_format") if isinstance(request, dict) else None
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


def has_tools(request: Any) -> bool:
    return isinstance(request, dict) and bool(request.get("tools"))
