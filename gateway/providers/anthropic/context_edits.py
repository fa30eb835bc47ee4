"""Claude's context editing (`context_management`), done by the gateway for an Anthropic client
of an OpenAI-format deployment, whose server has no such thing, and of an Anthropic-compatible
server that refuses the field ("context_management: Extra inputs are not permitted": a
provider whose `drop_params` names it, or that the router learned refuses it,
`routing.learned_params`).

A Messages request may ask Claude's server to clear old tool results before the model reads
the conversation (`context_management.edits`: `clear_tool_uses_20250919`, beta
`context-management-2025-06-27`): a long agent session (the Claude Agent SDK's) then stays
within the context window and costs less. Sent to an OpenAI-format upstream, the field was
dropped with everything the chat API does not know: the session grew until the upstream
refused it as too long. The gateway applies the edit to the conversation it translates, as
Anthropic documents it:

- when the conversation reaches the `trigger` (`input_tokens`, 100,000 by default, counted
  with the gateway's tokenizer; or `tool_uses`, a count of tool calls),
- the results of the tool calls before the last `keep` ones (3 by default; `tool_uses`) are
  replaced by a placeholder that says so, oldest first, except those of the tools named in
  `exclude_tools`, and with `clear_tool_inputs` (true, or a list of tool names) the calls' own
  input too (`{}`);
- with `clear_at_least` (`input_tokens`), only when that many tokens would be cleared (a
  clearing that frees less is not worth the cache it breaks).

The client keeps its whole conversation, as with Claude (the edit is applied to what is sent,
not to what the client holds). `clear_thinking_20251015` has nothing to do here: the thinking
an OpenAI-format model is given back is the gateway's own (`thinking_blocks`). The answer does
not report `context_management.applied_edits`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway import tokens
from gateway.json_types import JSON

CLEAR_TOOL_USES = "clear_tool_uses_20250919"
DEFAULT_TRIGGER_TOKENS = 100_000
DEFAULT_KEEP = 3
PLACEHOLDER = "[This tool result was cleared to save context.]"


@dataclass(frozen=True)
class _Use:
    """One tool call of the conversation, and where its result is."""

    tool_id: str
    name: str
    at: tuple[int, int]  # (message, block) of the `tool_use`
    result_at: tuple[int, int] | None


def with_context_edits(body: JSON) -> JSON:
    """`body` with its `clear_tool_uses` edits applied (a copy where it changes; `body` itself
    when nothing is cleared)."""
    management = body.get("context_management")
    edits = management.get("edits") if isinstance(management, dict) else None
    if not isinstance(edits, list):
        return body
    for edit in edits:
        if isinstance(edit, dict) and edit.get("type") == CLEAR_TOOL_USES:
            body = _cleared(body, edit)
    return body


def _value(setting: object, kind: str, default: int | None) -> int | None:
    """The `value` of a `{"type": kind, "value": N}` setting; `default` when absent or not
    of that kind."""
    if isinstance(setting, dict) and setting.get("type") == kind:
        value = setting.get("value")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return value
    return default


def _cleared(body: JSON, edit: JSON) -> JSON:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    uses = _tool_uses(messages)
    if not _triggered(body, messages, uses, edit.get("trigger")):
        return body
    keep = _value(edit.get("keep"), "tool_uses", DEFAULT_KEEP) or 0
    excluded = edit.get("exclude_tools")
    excluded_names = set(excluded) if isinstance(excluded, list) else set()
    inputs = edit.get("clear_tool_inputs")
    older = uses[: max(0, len(uses) - keep)]
    chosen = [use for use in older if use.name not in excluded_names and use.result_at]
    chosen = [use for use in chosen if not _already_cleared(messages, use)]
    if not chosen:
        return body
    freed = sum(_result_tokens(messages, use) for use in chosen)
    least = _value(edit.get("clear_at_least"), "input_tokens", None)
    if least is not None and freed < least:
        return body
    edited = _Edited(messages)
    for use in chosen:
        assert use.result_at is not None
        edited.change(use.result_at, "content", PLACEHOLDER)
        if inputs is True or (isinstance(inputs, list) and use.name in inputs):
            edited.change(use.at, "input", {})
    return {**body, "messages": edited.messages}


class _Edited:
    """The conversation with some blocks changed: each message changed is a copy (the
    client's own is kept as it came)."""

    def __init__(self, messages: list[object]) -> None:
        self.messages = list(messages)
        self._copied: set[int] = set()

    def change(self, at: tuple[int, int], field: str, value: object) -> None:
        m, b = at
        message = self.messages[m]
        assert isinstance(message, dict)
        if m not in self._copied:
            message = {**message, "content": list(message["content"])}
            self.messages[m] = message
            self._copied.add(m)
        message["content"][b] = {**message["content"][b], field: value}


def _tool_uses(messages: list[object]) -> list[_Use]:
    """Every `tool_use` of the conversation, in order, with where its result is."""
    found: list[tuple[str, str, tuple[int, int]]] = []
    results: dict[str, tuple[int, int]] = {}
    for m, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        for b, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "tool_use":
                found.append((str(block.get("id")), str(block.get("name")), (m, b)))
            elif block.get("type") == "tool_result":
                results[str(block.get("tool_use_id"))] = (m, b)
    return [_Use(tool_id, name, at, results.get(tool_id)) for tool_id, name, at in found]


def _triggered(body: JSON, messages: list[object], uses: list[_Use], trigger: object) -> bool:
    count = _value(trigger, "tool_uses", None)
    if count is not None:
        return len(uses) >= count
    threshold = _value(trigger, "input_tokens", DEFAULT_TRIGGER_TOKENS)
    assert threshold is not None
    return tokens.count_messages(messages, body.get("system")) >= threshold


def _result(messages: list[object], use: _Use) -> JSON:
    assert use.result_at is not None
    message, block = use.result_at
    found = messages[message]
    assert isinstance(found, dict)
    result: JSON = found["content"][block]
    return result


def _already_cleared(messages: list[object], use: _Use) -> bool:
    return _result(messages, use).get("content") == PLACEHOLDER


def _result_tokens(messages: list[object], use: _Use) -> int:
    content = _result(messages, use).get("content")
    if isinstance(content, str):
        return tokens.count_text(content)
    texts = [part.get("text") for part in content or () if isinstance(part, dict)]
    return sum(tokens.count_text(text) for text in texts if isinstance(text, str))
