"""What the semantic cache compares: a request's text, and the rest of the request.

`request_text` is the text of the messages (the system prompt included), in order, one per
line: what is embedded. `without_texts` is the body with those texts blanked: its exact cache
key is the partition (same endpoint, model, parameters, tools, roles, number of messages), so
only requests that differ in their wording alone may share an answer.
"""

from __future__ import annotations

from typing import Any

# The endpoints whose requests are compared by meaning; any other is cached exactly.
SEMANTIC_KINDS = frozenset({"chat", "messages"})


def _texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        return [
            part["text"]
            for part in content
            if isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
        ]
    return []


def _blanked(content: object) -> object:
    if isinstance(content, str):
        return ""
    if isinstance(content, list):
        return [
            {**part, "text": ""} if isinstance(part, dict) and part.get("type") == "text" else part
            for part in content
        ]
    return content


def _messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else []


def request_text(body: dict[str, Any]) -> str:
    """The system prompt (Anthropic's `system`) and each message's text, in order."""
    texts = _texts(body.get("system"))
    for message in _messages(body):
        if isinstance(message, dict):
            texts.extend(_texts(message.get("content")))
    return "\n".join(texts)


def without_texts(body: dict[str, Any]) -> dict[str, Any]:
    """`body` with the texts `request_text` reads blanked (everything else kept)."""
    blanked = dict(body)
    if "system" in body:
        blanked["system"] = _blanked(body["system"])
    blanked["messages"] = [
        {**message, "content": _blanked(message.get("content"))}
        if isinstance(message, dict)
        else message
        for message in _messages(body)
    ]
    return blanked
