"""Guardrails on the Responses API: the texts of a request and an answer, and the stream."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.bodies import input_groups, output_groups
from gateway.guardrails.compiled import Decision, GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.providers.responses.events import ResponseEvents, encode
from gateway.providers.responses.objects import message_item, response_object
from gateway.sse import SSEDecoder
from tests.unit.guardrails.test_stream import Passthrough


def test_input_slots_cover_instructions_messages_tool_calls_and_tool_outputs() -> None:
    body: dict[str, Any] = {
        "instructions": "sys",
        "input": [
            {"role": "user", "content": "plain"},
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "part"}],
            },
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "result"},
            {
                "type": "function_call_output",
                "call_id": "d",
                "output": [
                    {"type": "input_text", "text": "in"},
                    {"type": "input_text", "text": "parts"},
                ],
            },
        ],
    }
    groups = input_groups(body, "responses")
    assert [[c[k] for c, k in g] for g in groups] == [
        ["sys"],
        ["plain"],
        ["part"],
        ["{}"],
        ["result"],
        ["in", "parts"],
    ]
    assert [c[k] for g in input_groups({"input": "just text"}, "responses") for c, k in g] == [
        "just text"
    ]


def test_output_slots_are_the_output_text_parts_and_function_call_arguments() -> None:
    response = response_object({}, "resp_1", "m", [message_item("msg_1", "answer")], None)
    response["output"].append({"type": "function_call", "arguments": "{}"})
    response["output"].append({"type": "reasoning", "summary": []})
    assert [c[k] for g in output_groups(response, "openai") for c, k in g] == ["answer", "{}"]


@pytest.fixture
def redact(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )


def stream_of(pieces: list[str]) -> list[bytes]:
    events = ResponseEvents({"model": "m"}, "resp_1", "m", created_at=1)
    out = events.start() + events.text("")
    for piece in pieces:
        out += events.text(piece)
    out += events.complete({"input_tokens": 1, "output_tokens": 2})
    return [encode(event) for event in out]


def test_stream_deltas_and_the_events_repeating_the_text_are_redacted(
    redact: GuardrailSet,
) -> None:
    hits: list[Decision] = []
    converter = GuardedConverter(Passthrough(), "responses", redact, None, hits.append)
    out: list[bytes] = []
    for event in stream_of(["Mail jo", "hn.doe@exa", "mple.com now. Bye"]):
        out += converter.feed(event)
    out += converter.finish()
    events = [(e.event, orjson.loads(e.data)) for e in SSEDecoder().feed(b"".join(out))]
    expected = "Mail <EMAIL_ADDRESS> now. Bye"
    deltas = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert deltas == expected
    by_name = {name: data for name, data in events}
    assert by_name["response.output_text.done"]["text"] == expected
    assert by_name["response.content_part.done"]["part"]["text"] == expected
    assert by_name["response.output_item.done"]["item"]["content"][0]["text"] == expected
    final = by_name["response.completed"]["response"]
    assert final["output"][0]["content"][0]["text"] == expected
    assert events[-1][0] == "response.completed"
    assert b"john.doe" not in b"".join(out)
    assert [h.hits[0][1:] for h in hits] == [("redact", ["EMAIL_ADDRESS"])]
