"""The Responses API events a stream guard reads: which window a delta goes to, and where the
events that repeat a whole text (`.done`, `output_item.done`, `response.completed`) hold it.

A window's key is (output index, part): TEXT for a message's text (`PART - n` for its text part
n > 0), REFUSAL for its refusal, 0 for a function call's arguments (JSON), CUSTOM for a custom
tool call's input (text), `SUMMARY - n` for a reasoning item's summary part n, `REASONING - n`
for its text part n.
"""

from __future__ import annotations

from typing import Any

Key = tuple[int, int]
TEXT = -1
REASONING = -2
REFUSAL = -500
SUMMARY = -1000
PART = -2000
CUSTOM = -3000

TEXT_DELTA = "response.output_text.delta"
_DELTAS = {
    TEXT_DELTA,
    "response.refusal.delta",
    "response.function_call_arguments.delta",
    "response.custom_tool_call_input.delta",
    "response.reasoning_summary_text.delta",
    "response.reasoning_text.delta",
}
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


Text = tuple[Key, dict[str, Any], str]


def item_texts(item: Any, index: int) -> list[Text]:
    """A Responses item's texts as (window key, container, field): a message's text and refusal
    parts, a function call's arguments, a custom tool call's input, a reasoning item's summary
    and text parts."""
    if not isinstance(item, dict):
        return []
    kind = item.get("type")
    if kind == "function_call":
        return [((index, 0), item, "arguments")] if isinstance(item.get("arguments"), str) else []
    if kind == "custom_tool_call":
        return [((index, CUSTOM), item, "input")] if isinstance(item.get("input"), str) else []
    found: list[Text] = []
    if kind == "message":
        for number, part in enumerate(item.get("content") or ()):
            field = part_field(part)
            if field is not None:
                part_key = REFUSAL if field == "refusal" else _text_part(number)
                found.append(((index, part_key), part, field))
    elif kind == "reasoning":
        for number, part in enumerate(item.get("summary") or ()):
            if part_field(part) == "text":
                found.append(((index, SUMMARY - number), part, "text"))
        for number, part in enumerate(item.get("content") or ()):
            if part_field(part) == "text":
                found.append(((index, REASONING - number), part, "text"))
    return found
