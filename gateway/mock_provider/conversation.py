"""What the mock reads of a conversation: a message's text, the last user message's, and the
tool results a request ends with (OpenAI `role: tool` messages, Anthropic `tool_result`
blocks)."""

from __future__ import annotations

from typing import Any


def content_text(content: Any) -> str:
    """A message content's text: the string itself, or its text parts joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def last_text(messages: list[Any]) -> str:
    """The last message's text, whoever sent it (the hash input for ordinary models)."""
    if messages and isinstance(messages[-1], dict):
        return content_text(messages[-1].get("content"))
    return ""


def openai_tool_result(messages: list[Any]) -> str | None:
    """The text of the trailing `role: tool` messages, or None when the last message is not one."""
    results: list[str] = []
    for message in reversed(messages):
        if not isinstance(message, dict) or message.get("role") not in ("tool", "function"):
            break
        results.append(content_text(message.get("content")))
    return "\n".join(reversed(results)) if results else None


def anthropic_tool_result(messages: list[Any]) -> str | None:
    """The text of the `tool_result` blocks in the last message, or None when it has none."""
    if not messages or not isinstance(messages[-1], dict):
        return None
    content = messages[-1].get("content")
    if not isinstance(content, list):
        return None
    results = [
        content_text(block.get("content"))
        for block in content
        if isinstance(block, dict) and block.get("type") == "tool_result"
    ]
    return "\n".join(results) if results else None
