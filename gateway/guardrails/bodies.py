"""Where the text is in a request or an answer, in both wire formats.

A slot is (container, key): `container[key]` is a string the guardrails may read and replace.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

Slot = tuple[Any, Any]


def _content_slots(message: Any, key: str = "content") -> Iterator[Slot]:
    """A message content: a string, or a list of parts / blocks (text, tool_result)."""
    if not isinstance(message, dict):
        return
    content = message.get(key)
    if isinstance(content, str):
        yield message, key
    elif isinstance(content, list):
        for part in content:
            if not isinstance(part, dict):
                continue
            if isinstance(part.get("text"), str):
                yield part, "text"
            elif part.get("type") == "tool_result":
                yield from _content_slots(part)


def input_slots(body: dict[str, Any], kind: str) -> list[Slot]:
    """Every text the client sends: messages (tool results included), system, embeddings input."""
    if kind == "embeddings":
        value = body.get("input")
        if isinstance(value, str):
            return [(body, "input")]
        if isinstance(value, list):
            return [(value, i) for i, item in enumerate(value) if isinstance(item, str)]
        return []
    slots: list[Slot] = list(_content_slots(body, "system"))
    for message in body.get("messages") or ():
        slots.extend(_content_slots(message))
    return slots


def output_slots(data: Any, wire: str) -> list[Slot]:
    """The answer's text: OpenAI `choices[].message.content`, Anthropic `content[].text`."""
    if not isinstance(data, dict):
        return []
    if wire == "anthropic":
        return [
            (b, "text")
            for b in data.get("content") or ()
            if isinstance(b, dict) and isinstance(b.get("text"), str)
        ]
    slots: list[Slot] = []
    for choice in data.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            slots.append((message, "content"))
    return slots


def string_slots(value: Any) -> Iterator[Slot]:
    """Every string anywhere inside a JSON value (for putting placeholders back in tool calls)."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    for key, item in items:
        if isinstance(item, str):
            yield value, key
        else:
            yield from string_slots(item)
