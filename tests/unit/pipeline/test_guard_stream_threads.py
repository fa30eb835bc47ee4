"""A streamed answer's output scans run where the input scans of the same length would: the
toxicity classifier always in a worker thread (one tenant's long answer never stalls the event
loop for the others), a PII scan of a small chunk inline, of a large one in a thread."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import cast

from gateway.config.types import GuardrailConfig
from gateway.guardrails.compiled import Guard, GuardrailSet, compile_guardrails
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard_stream import guard_stream
from gateway.pipeline.services import Services
from tests.unit.guardrails.test_stream import Passthrough, openai_event
from tests.unit.pipeline.test_guard_threads import Where

SENTENCE = "The quarterly numbers look fine and the team is on track. "


def probed(config: GuardrailConfig) -> tuple[GuardrailSet, Where]:
    """The compiled set of `config` (output), its detector noting where each scan ran."""
    guards = compile_guardrails([config])
    (guard,) = guards.output
    assert guard.detector is not None
    where = Where(guard.detector)
    return dataclasses.replace(guards, output=(Guard(guard.config, where),)), where


async def stream(guards: GuardrailSet, events: list[bytes]) -> bytes:
    """The bytes a client is sent for `events` (the first one already converted), read as the
    responder reads a guarded stream."""

    async def upstream() -> AsyncIterator[bytes]:
        for item in events[1:]:
            yield item

    reply = SimpleNamespace(converter=Passthrough(), pending=events[:1], chunks=upstream())
    ctx = SimpleNamespace(
        stream_reply=reply, endpoint=SimpleNamespace(kind="chat", wire="openai"), guardrails=[]
    )
    await guard_stream(cast(RequestContext, ctx), cast(Services, None), guards, None)
    sent = list(reply.pending)
    async for chunk in reply.chunks:
        sent += reply.converter.feed(chunk)
    sent += reply.converter.finish()
    return b"".join(sent)


async def test_toxicity_on_a_stream_never_scans_on_the_event_loop() -> None:
    guards, where = probed(GuardrailConfig(name="tox", type="toxicity", applies_to="output"))
    events = [openai_event(SENTENCE) for _ in range(3)] + [openai_event("Done", "stop")]
    sent = await stream(guards, events)
    assert sent.count(b"quarterly") == 3 and b"Done" in sent
    assert len(where.threads) >= 2  # every sentence was judged ...
    assert threading.get_ident() not in where.threads  # ... none of them on the event loop


async def test_pii_on_a_stream_scans_small_chunks_inline_and_a_large_one_in_a_thread() -> None:
    guards, where = probed(GuardrailConfig(name="pii", type="pii", applies_to="output"))
    await stream(guards, [openai_event(SENTENCE), openai_event(SENTENCE, "stop")])
    assert where.threads and set(where.threads) == {threading.get_ident()}
    where.threads.clear()
    await stream(guards, [openai_event(SENTENCE), openai_event(SENTENCE * 200, "stop")])
    assert threading.get_ident() not in where.threads[1:]
    assert len(where.threads) >= 2


class Finishing(Passthrough):
    """An adapter converter whose `finish` writes the stream's last event (as the Responses
    translation writes `response.completed`)."""

    def finish(self) -> list[bytes]:
        return [openai_event("The end.", "stop")]


async def test_the_last_events_wait_for_the_responder_after_the_chunks() -> None:
    # The stages that wrap the chunks after the guard (remembering a Responses answer) run when
    # the chunks end: the stream's last events must still be unsent then.
    guards, _ = probed(GuardrailConfig(name="tox", type="toxicity", applies_to="output"))

    async def upstream() -> AsyncIterator[bytes]:
        yield openai_event(SENTENCE)

    reply = SimpleNamespace(converter=Finishing(), pending=[], chunks=upstream())
    ctx = SimpleNamespace(
        stream_reply=reply, endpoint=SimpleNamespace(kind="chat", wire="openai"), guardrails=[]
    )
    await guard_stream(cast(RequestContext, ctx), cast(Services, None), guards, None)
    during = b"".join([chunk async for chunk in reply.chunks])
    assert b"quarterly" in during and b"The end." not in during
    assert b"The end." in b"".join(reply.converter.finish())
