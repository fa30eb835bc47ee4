"""A moderation guardrail on a streamed answer reads what it reads on a JSON answer: every text
(reasoning, refusal, tool-call arguments too) as the other output guardrails left it, and
`restore` placeholders rather than the values behind them (its model is a provider too)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any, cast

import orjson
import pytest

from gateway.config.types import GuardrailConfig
from gateway.errors import ContentBlocked
from gateway.guardrails.base import Finding, Placeholders
from gateway.guardrails.bodies import SEPARATOR
from gateway.guardrails.compiled import Guard, GuardrailSet, compile_guardrails
from gateway.guardrails.moderation import Complete
from gateway.guardrails.stream import GuardedConverter
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard_stream import guard_stream
from gateway.pipeline.services import Services
from gateway.providers import StreamConverter
from gateway.providers.openai_streams import OpenAIStreamPassthrough
from gateway.sse import SSEDecoder
from tests.unit.guardrails.test_stream import Passthrough, anthropic_events
from tests.unit.pipeline.test_guard_remote import MODERATION, Asked
from tests.unit.pipeline.test_guard_stream_threads import Finishing

PII = GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")


class Flagging(Asked):
    async def scan(self, text: str, complete: Complete) -> list[Finding]:
        await super().scan(text, complete)
        return [Finding("MODERATION_FLAGGED", 0, len(text))]


def guards_with(asked: Asked, *local: GuardrailConfig) -> GuardrailSet:
    compiled = compile_guardrails(list(local))
    return GuardrailSet(output=(*compiled.output, Guard(MODERATION, remote=asked)))


def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return b"data: " + orjson.dumps({"id": "c", "choices": [choice]}) + b"\n\n"


async def sent(
    guards: GuardrailSet,
    events: list[bytes],
    placeholders: Placeholders | None = None,
    out: list[bytes] | None = None,
    converter: StreamConverter | None = None,
) -> bytes:
    """What the client is sent (also into `out` as it goes), read as the responder reads a
    guarded stream (the adapter's own OpenAI converter inside)."""

    async def upstream() -> AsyncIterator[bytes]:
        for item in events:
            yield item

    if converter is None:
        converter = OpenAIStreamPassthrough(client_wants_usage=False)
    reply = SimpleNamespace(converter=converter, pending=[], chunks=upstream())
    ctx = SimpleNamespace(
        stream_reply=reply, endpoint=SimpleNamespace(kind="chat", wire="openai"), guardrails=[]
    )
    await guard_stream(cast(RequestContext, ctx), cast(Services, None), guards, placeholders)
    out = [] if out is None else out
    async for item in reply.chunks:
        out += reply.converter.feed(item)
    out += reply.converter.finish()
    return b"".join(out)


REASONING_AND_ANSWER = [
    chunk({"reasoning_content": "The user wants the contact, bob.smith@example.org "}),
    chunk({"reasoning_content": "is the one."}),
    chunk({"content": "Write to jane.doe@exa"}),
    chunk({"content": "mple.org"}),  # held by the window until the stream ends
    chunk({}, "stop"),
    b"data: [DONE]\n\n",
]


async def test_moderation_reads_the_reasoning_and_the_text_as_the_guardrails_left_it() -> None:
    asked = Asked()
    out = await sent(guards_with(asked, PII), REASONING_AND_ANSWER)
    assert b"example.org" not in out and b"[DONE]" in out
    assert asked.texts == [
        "The user wants the contact, <EMAIL_ADDRESS> is the one."
        + SEPARATOR
        + "Write to <EMAIL_ADDRESS>"
    ]


async def test_moderation_reads_restore_placeholders_never_the_values_put_back() -> None:
    asked = Asked()
    placeholders = Placeholders()
    token = placeholders.placeholder("EMAIL_ADDRESS", "alice@corp.example")
    events = [chunk({"content": f"Mail {token[:8]}"}), chunk({"content": f"{token[8:]} now"})]
    out = await sent(guards_with(asked), [*events, chunk({}, "stop")], placeholders)
    assert b"alice@corp.example now" in out and b"EMAIL_ADDRESS" not in out
    assert asked.texts == ["Mail <EMAIL_ADDRESS_1> now"]


async def test_a_flagged_stream_never_sends_its_end() -> None:
    asked = Flagging()
    out: list[bytes] = []
    with pytest.raises(ContentBlocked):
        await sent(guards_with(asked, PII), REASONING_AND_ANSWER, out=out)
    # Neither the finish reason nor `[DONE]` went out: no client takes the answer as complete.
    assert b"".join(out).count(b"<EMAIL_ADDRESS>") == 2 and b"[DONE]" not in b"".join(out)
    assert b'"finish_reason":"stop"' not in b"".join(out)
    assert len(asked.texts) == 1 and asked.texts[0].endswith("Write to <EMAIL_ADDRESS>")


async def test_moderation_reads_what_the_converter_writes_when_the_upstream_ends() -> None:
    # A translating adapter writes its last events in `finish` (here "The end."): the verdict
    # is asked after them, and about them.
    asked = Asked()
    events = [chunk({"content": "All good so far. "})]
    out = await sent(guards_with(asked, PII), events, converter=Finishing())
    assert b"The end." in out
    assert asked.texts == ["All good so far. The end."]


async def test_a_safe_stream_ends_with_its_finish_usage_and_done_in_order() -> None:
    asked = Asked()
    usage = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}
    events = [
        chunk({"content": "Hello there"}),
        chunk({"content": " friend."}, "stop"),
        b'data: {"id":"c","choices":[],"usage":' + orjson.dumps(usage) + b"}\n\n",
        b"data: [DONE]\n\n",
    ]
    reply_out = await sent(guards_with(asked, PII), events, converter=Passthrough())
    data = [e for e in reply_out.split(b"\n\n") if e]
    assert data[-1] == b"data: [DONE]"
    assert orjson.loads(data[-2][6:])["usage"] == usage
    last = orjson.loads(data[-3][6:])["choices"][0]
    assert last["finish_reason"] == "stop" and last["delta"] == {}
    text = orjson.loads(data[-4][6:])["choices"][0]
    assert text["delta"]["content"].endswith(" friend.") and text["finish_reason"] is None
    assert asked.texts == ["Hello there friend."]


def test_an_anthropic_stop_reason_waits_for_the_verdict() -> None:
    events = anthropic_events(["Hello ", "there."])
    guarded = GuardedConverter(
        Passthrough(), "anthropic", compile_guardrails([PII]), None, lambda d: None, True
    )
    during = b"".join(b for event in events for b in guarded.feed(event))
    assert b"there." in during
    assert b"message_delta" not in during and b"message_stop" not in during
    names = [e.event for e in SSEDecoder().feed(b"".join(guarded.finish()))]
    assert names == ["message_delta", "message_stop"]
