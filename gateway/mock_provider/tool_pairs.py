"""The mock's check that a conversation's tool calls and results pair up, as OpenAI's chat
completions and Anthropic's Messages check it (each refuses a call without its result right
after, and a result without its call, with a 400 in these words); and Claude's check of the
server tool blocks sent back to it: a `server_tool_use` without its `web_search_tool_result`
in the same message (unless it ends the conversation: a paused turn sent back), a search
without its `query`, a result without the `encrypted_content` Claude reads the page from."""

from __future__ import annotations

from typing import Any

from gateway.json_types import JSON
from gateway.mock_provider.behaviour import RequestError


def check_openai_tool_pairs(messages: list[Any]) -> None:
    """Raise OpenAI's 400 for an assistant message whose tool calls the tool messages after it
    do not all answer, or a tool message that answers no call."""
    pending: dict[str, None] = {}
    opened_at = 0
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role == "tool":
            if pending.pop(str(message.get("tool_call_id")), 0) is not None:
                raise RequestError(
                    "Invalid parameter: messages with role 'tool' must be a response to a "
                    "preceeding message with 'tool_calls'.",
                    f"messages.[{index}].role",
                )
            continue
        _unanswered_openai(pending, opened_at)
        pending = {}
        calls = message.get("tool_calls") if role == "assistant" else None
        if isinstance(calls, list):
            pending = dict.fromkeys(str(c.get("id")) for c in calls if isinstance(c, dict))
            opened_at = index
    _unanswered_openai(pending, opened_at)


def _unanswered_openai(pending: dict[str, None], index: int) -> None:
    if pending:
        raise RequestError(
            "An assistant message with 'tool_calls' must be followed by tool messages "
            "responding to each 'tool_call_id'. The following tool_call_ids did not have "
            f"response messages: {', '.join(pending)}",
            f"messages.[{index}].role",
        )


def check_anthropic_tool_pairs(messages: list[Any]) -> None:
    """Raise Anthropic's 400 for `tool_use` blocks the next message does not answer with
    `tool_result` blocks, or a `tool_result` whose `tool_use` is not in the message before."""
    previous_uses: set[str] = set()
    for index, message in enumerate(messages):
        blocks = _blocks(message)
        results = {str(b.get("tool_use_id")) for b in blocks if b.get("type") == "tool_result"}
        stray = results - previous_uses
        if stray:
            raise RequestError(
                f"messages.{index}.content.0: unexpected `tool_use_id` found in `tool_result` "
                f"blocks: {', '.join(sorted(stray))}. Each `tool_result` block must have a "
                "corresponding `tool_use` block in the previous message."
            )
        missing = previous_uses - results
        if missing:
            raise RequestError(
                f"messages.{index - 1}: `tool_use` ids were found without `tool_result` blocks "
                f"immediately after: {', '.join(sorted(missing))}. Each `tool_use` block must "
                "have a corresponding `tool_result` block in the next message."
            )
        previous_uses = {str(b.get("id")) for b in blocks if b.get("type") == "tool_use"}
    # (a conversation may end on the model's tool use: its results come with the next request)


def _blocks(message: object) -> list[dict[str, Any]]:
    content = message.get("content") if isinstance(message, dict) else None
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def check_server_tool_blocks(messages: list[Any]) -> None:
    """Claude's 400 for server tool blocks not as it sent them (see the module)."""
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, list):
            continue
        last = index == len(messages) - 1
        uses: dict[str, int] = {}
        for at, block in enumerate(content):
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            where = f"messages.{index}.content.{at}"
            if kind == "server_tool_use":
                _check_use(block, where)
                uses[str(block.get("id"))] = at
            elif kind == "web_search_tool_result":
                _check_result(block, where)
                uses.pop(str(block.get("tool_use_id")), None)
        for block_id, at in uses.items():
            if not (last and at == len(content) - 1):
                raise RequestError(
                    f"messages.{index}.content.{at}: web_search tool use with id {block_id} "
                    "was found without a corresponding web_search_tool_result block"
                )


def _check_use(block: JSON, where: str) -> None:
    given = block.get("input")
    if not isinstance(given, dict) or not isinstance(given.get("query"), str):
        raise RequestError(f"{where}.input.query: Field required")


def _check_result(block: JSON, where: str) -> None:
    results = block.get("content")
    if isinstance(results, dict):  # an error result (`web_search_tool_result_error`)
        return
    if not isinstance(results, list):
        raise RequestError(f"{where}.content: Input should be a valid list")
    for n, result in enumerate(results):
        if not isinstance(result, dict) or not isinstance(result.get("encrypted_content"), str):
            raise RequestError(f"{where}.content.{n}.encrypted_content: Field required")
