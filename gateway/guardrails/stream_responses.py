"""The Responses API events a stream guard reads: which window a delta goes to, and where the
events that repeat a whole text (`.done`, `output_item.done`, `response.completed`) hold it.

A window's key is (output index, part): TEXT for a message's text (`PART - n` for its text part
n > 0), REFUSAL for its refusal, 0 for a function call's arguments (JSON), CUSTOM for a custom
tool call's input (text), `SUMMARY - n` for a reasoning item's summary part n, `REASONING - n`
for its text part n.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from gateway.guardrails.bodies import Slot, citation_slots, summary_slots

Key = tuple[int, int]
TEXT = -1
REASONING = -2
REFUSAL = -500
SUMMARY = -1000
PART = -2000
CUSTOM = -3000

TEXT_DELTA = "response.output_text.delta"
_REFUSAL_DELTA = "response.refusal.delta"
_ARGUMENTS_DELTA = "response.function_call_arguments.delta"
_CUSTOM_DELTA = "response.custom_tool_call_input.delta"
_SUMMARY_DELTA = "response.reasoning_summary_text.delta"
_REASONING_DELTA = "response.reasoning_text.delta"
_DELTAS = {
    TEXT_DELTA,
    _REFUSAL_DELTA,
    _ARGUMENTS_DELTA,
    _CUSTOM_DELTA,
    _SUMMARY_DELTA,
    _REASONING_DELTA,
}
# The events that open a part of an item (with its text, which real providers send empty).
PART_ADDED = ("response.content_part.added", "response.reasoning_summary_part.added")
# The `.done` events of each delta kind, and the field that repeats the whole text.
DONE = {
    "response.output_text.done": "text",
    "response.refusal.done": "refusal",
    "response.function_call_arguments.done": "arguments",
    "response.custom_tool_call_input.done": "input",
    "response.reasoning_summary_text.done": "text",
    "response.reasoning_text.done": "text",
}
# What a delta event made by the guard (a window's held text released) copies from the item's
# last one; never its `logprobs`, which spell out the text the window rewrote.
_KEPT = ("type", "item_id", "output_index", "content_index", "summary_index", "sequence_number")


def _number(value: object) -> int:
    return value if isinstance(value, int) else 0


def key_of(event: dict[str, Any]) -> Key:
    """The window of a delta or `.done` event (or a `content_part` / `reasoning_summary_part`
    event's part)."""
    index = _number(event.get("output_index", 0))
    kind = str(event.get("type", ""))
    if kind.startswith("response.reasoning_summary_"):
        return index, SUMMARY - _number(event.get("summary_index"))
    part = event.get("part")
    if kind.startswith("response.reasoning_text.") or (
        isinstance(part, dict) and part.get("type") == "reasoning_text"
    ):
        return index, REASONING - _number(event.get("content_index"))
    if kind.startswith("response.function_call_arguments."):
        return index, 0
    if kind.startswith("response.custom_tool_call_input."):
        return index, CUSTOM
    if kind.startswith("response.refusal.") or (
        isinstance(part, dict) and part.get("type") == "refusal"
    ):
        return index, REFUSAL
    return index, _text_part(_number(event.get("content_index")))


def _text_part(number: int) -> int:
    return TEXT if number == 0 else PART - number


def is_delta(event: dict[str, Any]) -> bool:
    return event.get("type") in _DELTAS and isinstance(event.get("delta"), str)


def delta_like(like: dict[str, Any], text: str) -> dict[str, Any]:
    """A delta event like `like` (its item's last one) carrying `text`."""
    event = {name: like[name] for name in _KEPT if name in like}
    event.setdefault("type", TEXT_DELTA)
    event["delta"] = text
    return event


def part_field(part: Any) -> str | None:
    """Where a content part holds its text (`refusal` for a refusal part), or None."""
    if not isinstance(part, dict):
        return None
    field = "refusal" if part.get("type") == "refusal" else "text"
    return field if isinstance(part.get(field), str) else None


# (window key, container, field, the model of a delta event for that window)
Text = tuple[Key, dict[str, Any], str, dict[str, Any]]


def item_texts(item: Any, index: int) -> list[Text]:
    """A Responses item's texts: a message's text and refusal parts, a function call's
    arguments, a custom tool call's input, a reasoning item's summary and text parts; each with
    the delta event its window's text would stream in."""
    if not isinstance(item, dict):
        return []
    kind = item.get("type")
    model: dict[str, Any] = {"output_index": index}
    if isinstance(item.get("id"), str):
        model["item_id"] = item["id"]
    if kind == "function_call":
        if not isinstance(item.get("arguments"), str):
            return []
        return [((index, 0), item, "arguments", {**model, "type": _ARGUMENTS_DELTA})]
    if kind == "custom_tool_call":
        if not isinstance(item.get("input"), str):
            return []
        return [((index, CUSTOM), item, "input", {**model, "type": _CUSTOM_DELTA})]
    found: list[Text] = []
    if kind == "message":
        for number, part in enumerate(item.get("content") or ()):
            field = part_field(part)
            if field is not None:
                refusal = field == "refusal"
                part_key = REFUSAL if refusal else _text_part(number)
                delta = _REFUSAL_DELTA if refusal else TEXT_DELTA
                like = {**model, "type": delta, "content_index": number}
                found.append(((index, part_key), part, field, like))
    elif kind == "reasoning":
        for number, part in enumerate(item.get("summary") or ()):
            if part_field(part) == "text":
                like = {**model, "type": _SUMMARY_DELTA, "summary_index": number}
                found.append(((index, SUMMARY - number), part, "text", like))
        for number, part in enumerate(item.get("content") or ()):
            if part_field(part) == "text":
                like = {**model, "type": _REASONING_DELTA, "content_index": number}
                found.append(((index, REASONING - number), part, "text", like))
    return found


def part_delta(event: dict[str, Any]) -> dict[str, Any]:
    """The model of a delta event for the part a `content_part.added` or
    `reasoning_summary_part.added` event opens."""
    part = event.get("part")
    kind = part.get("type") if isinstance(part, dict) else None
    if event.get("type") == "response.reasoning_summary_part.added":
        delta = _SUMMARY_DELTA
    elif kind == "refusal":
        delta = _REFUSAL_DELTA
    elif kind == "reasoning_text":
        delta = _REASONING_DELTA
    else:
        delta = TEXT_DELTA
    return {**{name: event[name] for name in _KEPT if name in event}, "type": delta}


def citations(event: dict[str, Any]) -> Iterator[Slot]:
    """The texts an event carries whole: an `output_text.annotation.added` event's
    annotation, the annotations of the text parts of a part, an item or a whole response; the
    summary of a gateway `compaction` item (`bodies.summary_slots`)."""
    yield from citation_slots(event.get("annotation"))
    response = event.get("response")
    items = [event.get("item")]
    if isinstance(response, dict) and isinstance(response.get("output"), list):
        items += response["output"]
    yield from summary_slots(items)
    parts = [event.get("part")]
    for item in items:
        content = item.get("content") if isinstance(item, dict) else None
        parts += content if isinstance(content, list) else []
    for part in parts:
        if isinstance(part, dict):
            yield from citation_slots(part.get("annotations"))
