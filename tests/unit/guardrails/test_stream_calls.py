"""Streamed tool-call arguments go through windows of their own: output guardrails act on
them and `restore` placeholders are put back, even when cut across events, in all three wires."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Placeholders
from gateway.guardrails.compiled import Decision, GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.guardrails.window import TextWindow
from gateway.providers.responses.events import ResponseEvents, encode
from gateway.sse import SSEDecoder
from tests.unit.guardrails.test_stream import Passthrough

EMAIL = "jane.doe@example.org"


def ignore(decision: Decision) -> None:
    pass


def restoring() -> tuple[Placeholders, str]:
    placeholders = Placeholders()
    return placeholders, placeholders.placeholder("EMAIL_ADDRESS", EMAIL)


def sse(data: dict[str, Any], name: str | None = None) -> bytes:
    head = b"event: " + name.encode() + b"\n" if name else b""
    return head + b"data: " + orjson.dumps(data) + b"\n\n"


def convert(converter: GuardedConverter, events: list[bytes]) -> list[Any]:
    out: list[bytes] = []
    for event in events:
        out += converter.feed(event)
    out += converter.finish()
    return [
        orjson.loads(e.data) if e.data.startswith(b"{") else e.data
        for e in SSEDecoder().feed(b"".join(out))
    ]


def openai_call(arguments: str, first: bool = False, finish: str | None = None) -> bytes:
    call: dict[str, Any] = {"index": 0, "function": {"arguments": arguments}}
    if first:
        call.update(id="c1", type="function")
        call["function"]["name"] = "send"
    choice = {"index": 0, "delta": {"tool_calls": [call]}, "finish_reason": finish}
    return sse({"id": "c", "object": "chat.completion.chunk", "choices": [choice]})


def openai_arguments(events: list[Any]) -> str:
    return "".join(
        call["function"].get("arguments", "")
        for event in events
        if isinstance(event, dict)
        for choice in event["choices"]
        for call in choice["delta"].get("tool_calls", ())
    )


def test_openai_placeholder_cut_across_tool_call_events_is_restored() -> None:
    placeholders, token = restoring()
    converter = GuardedConverter(Passthrough(), "openai", GuardrailSet(), placeholders, ignore)
    finish = {"index": 0, "delta": {}, "finish_reason": "tool_calls"}
    events = convert(
        converter,
        [
            openai_call('{"to": "' + token[:6], first=True),
            openai_call(token[6:] + '"}'),
            sse({"id": "c", "object": "chat.completion.chunk", "choices": [finish]}),
            b"data: [DONE]\n\n",
        ],
    )
    assert orjson.loads(openai_arguments(events)) == {"to": EMAIL}
    assert events[-1] == b"[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_openai_tool_call_arguments_are_redacted(compile_set: Callable[..., GuardrailSet]) -> None:
    guards = compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )
    converter = GuardedConverter(Passthrough(), "openai", guards, None, lambda d: None)
    events = convert(
        converter,
        [
            openai_call('{"to": "jane.d', first=True),
            openai_call("oe@exam"),
            openai_call('ple.org"}', finish="tool_calls"),
            b"data: [DONE]\n\n",
        ],
    )
    assert orjson.loads(openai_arguments(events)) == {"to": "<EMAIL_ADDRESS>"}
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_anthropic_input_json_placeholder_is_restored() -> None:
    placeholders, token = restoring()
    converter = GuardedConverter(Passthrough(), "anthropic", GuardrailSet(), placeholders, ignore)
    block = {"type": "tool_use", "id": "t", "name": "send", "input": {}}

    def piece(text: str) -> bytes:
        delta = {"type": "input_json_delta", "partial_json": text}
        event = {"type": "content_block_delta", "index": 1, "delta": delta}
        return sse(event, "content_block_delta")

    events = convert(
        converter,
        [
            sse({"type": "content_block_start", "index": 1, "content_block": block}, "x"),
            piece('{"to": "' + token[:9]),
            piece(token[9:] + '"}'),
            sse({"type": "content_block_stop", "index": 1}, "content_block_stop"),
            sse({"type": "message_stop"}, "message_stop"),
        ],
    )
    json = "".join(e["delta"]["partial_json"] for e in events if e["type"] == "content_block_delta")
    assert orjson.loads(json) == {"to": EMAIL}
    assert [e["type"] for e in events][-2:] == ["content_block_stop", "message_stop"]


def test_responses_function_call_arguments_are_restored_in_deltas_and_done_events() -> None:
    placeholders, token = restoring()
    converter = GuardedConverter(Passthrough(), "responses", GuardrailSet(), placeholders, ignore)
    events = ResponseEvents({"model": "m"}, "resp_1", "m", created_at=1)
    produced = events.call_start("k", "call_1", "send")
    produced += events.call_arguments("k", '{"to": "' + token[:5])
    produced += events.call_arguments("k", token[5:] + '"}')
    produced += events.complete({"input_tokens": 1, "output_tokens": 2})
    out = convert(converter, [encode(e) for e in produced])
    deltas = [e["delta"] for e in out if e["type"] == "response.function_call_arguments.delta"]
    restored = '{"to": "' + EMAIL + '"}'
    assert "".join(deltas) == restored
    done = next(e for e in out if e["type"] == "response.function_call_arguments.done")
    assert done["arguments"] == restored
    completed = out[-1]
    assert completed["type"] == "response.completed"
    assert completed["response"]["output"][0]["arguments"] == restored


def test_a_restored_value_in_arguments_is_json_escaped() -> None:
    placeholders = Placeholders()
    token = placeholders.placeholder("CODE", 'say "hi"\\')
    window = TextWindow(GuardrailSet(), placeholders, lambda d: None, json_string=True)
    released = window.push('{"a": "' + token + '"}') + window.flush()
    assert orjson.loads(released) == {"a": 'say "hi"\\'}
