"""The sliding window over streamed answers, both wire formats."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.errors import ContentBlocked
from gateway.guardrails.base import Placeholders
from gateway.guardrails.compiled import Decision, GuardrailSet
from gateway.guardrails.stream import GuardedConverter
from gateway.guardrails.window import TextWindow
from gateway.providers.base import Usage
from gateway.sse import SSEDecoder


class Passthrough:
    def __init__(self) -> None:
        self.usage: Usage | None = None
        self.text: list[str] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        return [chunk]

    def finish(self) -> list[bytes]:
        return []


def openai_event(content: str | None, finish: str | None = None) -> bytes:
    delta = {} if content is None else {"content": content}
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return (
        b"data: "
        + orjson.dumps({"id": "c1", "object": "chat.completion.chunk", "choices": [choice]})
        + b"\n\n"
    )


def anthropic_events(pieces: list[str]) -> list[bytes]:
    def ev(name: str, data: dict[str, Any]) -> bytes:
        return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"

    out = [
        ev("message_start", {"type": "message_start", "message": {"id": "m"}}),
        ev(
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "text", "text": ""},
            },
        ),
    ]
    out += [
        ev(
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": p}},
        )
        for p in pieces
    ]
    out += [
        ev("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ev("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}),
        ev("message_stop", {"type": "message_stop"}),
    ]
    return out


def run(converter: GuardedConverter, events: list[bytes]) -> tuple[str, list[bytes]]:
    out: list[bytes] = []
    for event in events:
        out += converter.feed(event)
    out += converter.finish()
    text = ""
    for decoded in SSEDecoder().feed(b"".join(out)):
        if decoded.data.startswith(b"{"):
            data = orjson.loads(decoded.data)
            if "choices" in data:
                text += data["choices"][0]["delta"].get("content") or ""
            elif data.get("type") == "content_block_delta":
                text += data["delta"]["text"]
    return text, out


@pytest.fixture
def redact(compile_set: Callable[..., GuardrailSet]) -> GuardrailSet:
    return compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )


def test_email_split_in_three_openai_chunks(redact: GuardrailSet) -> None:
    hits: list[Decision] = []
    converter = GuardedConverter(Passthrough(), "openai", redact, None, hits.append)
    pieces = ["Mail jo", "hn.doe@exa", "mple.com now. Bye"]
    text, out = run(
        converter,
        [openai_event(p) for p in pieces] + [openai_event(None, "stop"), b"data: [DONE]\n\n"],
    )
    assert text == "Mail <EMAIL_ADDRESS> now. Bye"
    assert out[-1] == b"data: [DONE]\n\n"
    assert b'"finish_reason":"stop"' in out[-2]
    assert [h.hits[0][1:] for h in hits] == [("redact", ["EMAIL_ADDRESS"])]


def test_anthropic_stream_masks_a_card(compile_set: Callable[..., GuardrailSet]) -> None:
    guards = compile_set(
        GuardrailConfig(
            name="cards", type="pii", applies_to="output", action="mask", entities=("CREDIT_CARD",)
        )
    )
    converter = GuardedConverter(Passthrough(), "anthropic", guards, None, lambda d: None)
    text, out = run(converter, anthropic_events(["Card 4111 11", "11 1111 1", "111 is yours."]))
    assert text == "Card ****1111 is yours."
    names = [e.event for e in SSEDecoder().feed(b"".join(out))]
    assert names[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_text_is_released_as_soon_as_it_is_safe(redact: GuardrailSet) -> None:
    window = TextWindow(redact, None, lambda d: None)
    assert window.push("The weather is nice today, ") == "The weather is nice today, "
    # A partial phone number is held back, the words before it are not.
    assert window.push("call +1 (415) 55") == "call "
    assert window.push("5-2671 soon") == "<PHONE_NUMBER> "
    assert window.flush() == "soon"


def test_block_mid_stream_raises(compile_set: Callable[..., GuardrailSet]) -> None:
    guards = compile_set(
        GuardrailConfig(
            name="no-ip", type="pii", applies_to="output", action="block", entities=("IP_ADDRESS",)
        )
    )
    converter = GuardedConverter(Passthrough(), "openai", guards, None, lambda d: None)
    assert converter.feed(openai_event("Connect to the host "))
    with pytest.raises(ContentBlocked, match="no-ip"):
        converter.feed(openai_event("at 10.0.0.1 now"))
        converter.finish()


def test_restore_placeholders_split_across_chunks() -> None:
    placeholders = Placeholders()
    token = placeholders.placeholder("EMAIL_ADDRESS", "ana@example.com")
    window = TextWindow(GuardrailSet(), placeholders, lambda d: None)
    head, tail = token[:7], token[7:]
    released = window.push("Write to " + head) + window.push(tail + " today") + window.flush()
    assert released == "Write to ana@example.com today"


def test_pending_bytes_go_through_the_same_window(redact: GuardrailSet) -> None:
    converter = GuardedConverter(Passthrough(), "openai", redact, None, lambda d: None)
    first = converter.rewrite([openai_event("Reach me at a@b"), openai_event(".com or later")])
    text, _ = run(converter, [openai_event(None, "stop")])
    released = "".join(
        orjson.loads(e.data)["choices"][0]["delta"].get("content") or ""
        for e in SSEDecoder().feed(b"".join(first))
    )
    assert released + text == "Reach me at <EMAIL_ADDRESS> or later"


def test_a_deny_list_phrase_cut_by_an_invisible_character_waits_whole(
    compile_set: Callable[..., GuardrailSet],
) -> None:
    guards = compile_set(
        GuardrailConfig(
            name="codes",
            type="regex",
            applies_to="output",
            action="redact",
            deny_list=("Project Bluebird",),
        )
    )
    window = TextWindow(guards, None, lambda d: None)
    released = window.push("About Project Blue\u200b") + window.push("bird now") + window.flush()
    assert released == "About <CODES> now"
