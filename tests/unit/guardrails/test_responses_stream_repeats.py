"""The Responses stream events that repeat a whole text (`.done`, `content_part.done`,
`output_item.done`, `response.completed`) carry what the client was sent: a text no delta
streamed (an upstream that sends it only there) is scanned when it appears, and two text parts
of one message keep their own texts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.config.types import GuardrailConfig
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


def event(data: dict[str, Any]) -> bytes:
    return encode_event(orjson.dumps(data))


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": []}


def test_text_never_streamed_is_scanned_where_it_appears(pii: GuardrailSet) -> None:
    where = {"item_id": "msg_1", "output_index": 0, "content_index": 0}
    said = f"Write to {EMAIL}."
    item = {"type": "message", "id": "msg_1", "role": "assistant", "content": [text_part(said)]}
    events = [
        event({"type": "response.output_text.done", **where, "text": said}),
        event({"type": "response.content_part.done", **where, "part": text_part(said)}),
        event({"type": "response.output_item.done", "output_index": 0, "item": item}),
        event({"type": "response.completed", "response": {"output": [item]}}),
    ]
    sent = run(GuardedConverter(Passthrough(), "responses", pii, None, lambda d: None), events)
    assert EMAIL not in orjson.dumps(sent).decode()
    redacted = "Write to <EMAIL_ADDRESS>."
    assert sent[0]["text"] == redacted
    assert sent[-1]["response"]["output"][0]["content"][0]["text"] == redacted


def test_two_text_parts_of_one_message_keep_their_texts(pii: GuardrailSet) -> None:
    first, second = "First part. ", f"Second part, to {EMAIL}."
    item = {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "content": [text_part(first), text_part(second)],
    }
    events = []
    for number, text in enumerate((first, second)):
        where = {"item_id": "msg_1", "output_index": 0, "content_index": number}
        events += [event({"type": "response.output_text.delta", **where, "delta": c}) for c in text]
        events.append(event({"type": "response.output_text.done", **where, "text": text}))
    events.append(event({"type": "response.completed", "response": {"output": [item]}}))
    sent = run(GuardedConverter(Passthrough(), "responses", pii, None, lambda d: None), events)
    parts = sent[-1]["response"]["output"][0]["content"]
    assert [p["text"] for p in parts] == [first, "Second part, to <EMAIL_ADDRESS>."]
    deltas = [e for e in sent if e["type"] == "response.output_text.delta"]
    assert {e["content_index"] for e in deltas} == {0, 1}
