"""Text in the events that open a block, item or part (Anthropic `content_block_start`,
Responses `output_item.added`, `content_part.added`): real providers send it empty, but what an
upstream puts there is the start of the text a client builds, so it goes through the windows
like a delta (a value split between it and the first delta included)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Placeholders
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.sse import encode_event
from tests.unit.guardrails.test_reasoning import run
from tests.unit.guardrails.test_stream import Passthrough

EMAIL = "jane.doe@example.org"


@pytest.fixture
def pii(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )


def anthropic(name: str, data: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps({"type": name, **data}), name)


def anthropic_blocks(sent: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The content blocks a client builds from the events (as the Anthropic SDKs do: a block
    from its start, text appended, `input` parsed from the `partial_json` when there is any)."""
    blocks: dict[int, dict[str, Any]] = {}
    partial: dict[int, str] = {}
    for event in sent:
        if event["type"] == "content_block_start":
            blocks[event["index"]] = dict(event["content_block"])
        elif event["type"] == "content_block_delta":
            block, delta = blocks[event["index"]], event["delta"]
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "input_json_delta":
                partial[event["index"]] = partial.get(event["index"], "") + delta["partial_json"]
    for index, text in partial.items():
        blocks[index]["input"] = orjson.loads(text)
    return [blocks[i] for i in sorted(blocks)]


def anthropic_stream(block: dict[str, Any], deltas: list[dict[str, Any]]) -> list[bytes]:
    return [
        anthropic("message_start", {"message": {"id": "m", "content": []}}),
        anthropic("content_block_start", {"index": 0, "content_block": block}),
        *(anthropic("content_block_delta", {"index": 0, "delta": d}) for d in deltas),
        anthropic("content_block_stop", {"index": 0}),
        anthropic("message_delta", {"delta": {"stop_reason": "end_turn"}}),
        anthropic("message_stop", {}),
    ]


def guarded(wire: str, guards: GuardrailSet, placeholders: Placeholders | None = None) -> Any:
    return GuardedConverter(Passthrough(), wire, guards, placeholders, lambda d: None)


def test_a_whole_answer_in_a_text_block_start_is_scanned(pii: GuardrailSet) -> None:
    events = anthropic_stream({"type": "text", "text": f"Write to {EMAIL} today."}, [])
    sent = run(guarded("anthropic", pii), events)
    assert EMAIL not in orjson.dumps(sent).decode()
    assert anthropic_blocks(sent)[0]["text"] == "Write to <EMAIL_ADDRESS> today."


def test_a_value_split_between_the_block_start_and_its_first_delta(pii: GuardrailSet) -> None:
    block = {"type": "text", "text": "Write to jane.doe@exa"}
    events = anthropic_stream(block, [{"type": "text_delta", "text": "mple.org today."}])
    sent = run(guarded("anthropic", pii), events)
    assert "jane.doe@exa" not in orjson.dumps(sent).decode()
    assert anthropic_blocks(sent)[0]["text"] == "Write to <EMAIL_ADDRESS> today."


def test_thinking_in_a_block_start_is_scanned(pii: GuardrailSet) -> None:
    block = {"type": "thinking", "thinking": f"They asked for {EMAIL}", "signature": ""}
    deltas = [{"type": "signature_delta", "signature": "sig"}]
    sent = run(guarded("anthropic", pii), anthropic_stream(block, deltas))
    assert EMAIL not in orjson.dumps(sent).decode()
    assert anthropic_blocks(sent)[0]["thinking"] == "They asked for <EMAIL_ADDRESS>"


def test_a_tool_use_input_in_its_block_start_is_scanned(pii: GuardrailSet) -> None:
    block = {"type": "tool_use", "id": "t", "name": "mail", "input": {"to": [EMAIL], "n": 1}}
    sent = run(guarded("anthropic", pii), anthropic_stream(block, []))
    assert EMAIL not in orjson.dumps(sent).decode()
    assert anthropic_blocks(sent)[0]["input"] == {"to": ["<EMAIL_ADDRESS>"], "n": 1}


def test_restore_puts_values_back_in_a_block_start(pii: GuardrailSet) -> None:
    placeholders = Placeholders()
    token = placeholders.placeholder("EMAIL_ADDRESS", EMAIL)
    block = {"type": "text", "text": f"Write to {token[:9]}"}
    events = anthropic_stream(block, [{"type": "text_delta", "text": f"{token[9:]} today."}])
    sent = run(guarded("anthropic", GuardrailSet(), placeholders), events)
    assert anthropic_blocks(sent)[0]["text"] == f"Write to {EMAIL} today."


def responses(data: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps(data))


def responses_texts(sent: list[dict[str, Any]]) -> dict[tuple[int, int], str]:
    """The texts a client builds from the events, by (output index, content index): an item's
    parts from `output_item.added`, a part from `content_part.added`, deltas appended (a
    function call's arguments at content index -1)."""
    texts: dict[tuple[int, int], str] = {}
    for event in sent:
        kind, index = event["type"], event.get("output_index", 0)
        if kind == "response.output_item.added":
            item = event["item"]
            if item["type"] == "function_call":
                texts[index, -1] = item["arguments"]
            for number, part in enumerate(item.get("content") or ()):
                texts[index, number] = part["text"]
        elif kind == "response.content_part.added":
            texts[index, event["content_index"]] = event["part"]["text"]
        elif kind == "response.output_text.delta":
            texts[index, event["content_index"]] += event["delta"]
        elif kind == "response.function_call_arguments.delta":
            texts[index, -1] += event["delta"]
    return texts


def part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def test_a_message_item_added_with_its_text_is_scanned(pii: GuardrailSet) -> None:
    said = f"Write to {EMAIL} today."
    item = {"type": "message", "id": "msg", "role": "assistant", "content": [part(said)]}
    done = {"type": "response.output_text.done", "item_id": "msg", "output_index": 0}
    events = [
        responses({"type": "response.output_item.added", "output_index": 0, "item": item}),
        responses({**done, "content_index": 0, "text": said}),
        responses({"type": "response.completed", "response": {"output": [item]}}),
    ]
    sent = run(guarded("responses", pii), events)
    assert EMAIL not in orjson.dumps(sent).decode()
    redacted = "Write to <EMAIL_ADDRESS> today."
    assert responses_texts(sent) == {(0, 0): redacted}
    assert sent[-2]["text"] == redacted  # the `.done` repeats what the client built


def test_a_part_added_with_the_start_of_a_value_and_deltas(pii: GuardrailSet) -> None:
    where = {"item_id": "msg", "output_index": 0, "content_index": 0}
    item = {"type": "message", "id": "msg", "role": "assistant", "content": []}
    events = [
        responses({"type": "response.output_item.added", "output_index": 0, "item": item}),
        responses({"type": "response.content_part.added", **where, "part": part("Mail jane")}),
        responses({"type": "response.output_text.delta", **where, "delta": ".doe@example.org"}),
        responses({"type": "response.output_text.delta", **where, "delta": " now."}),
    ]
    sent = run(guarded("responses", pii), events)
    assert "jane" not in orjson.dumps(sent).decode()
    assert responses_texts(sent) == {(0, 0): "Mail <EMAIL_ADDRESS> now."}


def test_function_call_arguments_in_the_item_added_are_scanned(pii: GuardrailSet) -> None:
    arguments = orjson.dumps({"to": EMAIL}).decode()
    item = {"type": "function_call", "id": "fc", "call_id": "c", "name": "mail"}
    events = [
        responses(
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "arguments": arguments},
            }
        ),
        responses({"type": "response.output_item.done", "output_index": 0, "item": item}),
    ]
    sent = run(guarded("responses", pii), events)
    assert EMAIL not in orjson.dumps(sent).decode()
    built = responses_texts(sent)[0, -1]
    assert orjson.loads(built) == {"to": "<EMAIL_ADDRESS>"}
