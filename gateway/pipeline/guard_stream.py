"""`guard_output` on a streamed answer: the adapter's converter wrapped in the guardrails'
windows (`GuardedConverter`), its scans kept off the event loop when they may be long.

A window's scan is synchronous (it runs inside a converter's `feed`). A chunk long enough to
make one of those scans longer than a detector's `inline_limit` (a 1 MB delta under a PII
guardrail; any chunk under the toxicity classifier, which never runs on the event loop) is
converted in a worker thread, as a long input is scanned (`guard_scan.scan`): one tenant's long
answer never stalls the worker's other requests. Other chunks are converted inline.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from gateway.errors import ContentBlocked, GatewayError
from gateway.guardrails.base import Placeholders
from gateway.guardrails.compiled import Guard, GuardrailSet, decide
from gateway.guardrails.stream import GuardedConverter
from gateway.guardrails.stream_completions import GuardedCompletion
from gateway.pipeline.context import RequestContext
from gateway.pipeline.guard_scan import record, scan
from gateway.pipeline.services import Services
from gateway.providers import StreamConverter
from gateway.providers.base import WrappingConverter, malformed
from gateway.providers.checked import CheckedStream


async def guard_stream(
    ctx: RequestContext, services: Services, guards: GuardrailSet, placeholders: Placeholders | None
) -> None:
    """Wrap `ctx.stream_reply` so that what the client is sent went through the guardrails."""
    reply = ctx.stream_reply
    assert reply is not None
    remote = [g for g in guards.output if g.remote is not None]
    inner = reply.converter
    # A legacy completion's chunks carry `choices[].text`, a chat's `choices[].delta`.
    guarding = GuardedCompletion if ctx.endpoint.kind == "completions" else GuardedConverter
    guarded = guarding(
        inner,
        "responses" if ctx.endpoint.kind == "responses" else ctx.endpoint.wire,
        guards,
        placeholders,
        lambda d: record(ctx, "output", d),
        judge_at_end=bool(remote),
    )
    limit = guards.stream_inline_limit
    # Already converted from the first upstream chunk: goes through the same windows.
    try:
        if sum(len(piece) for piece in reply.pending) > limit:
            reply.pending = await asyncio.to_thread(guarded.rewrite, reply.pending)
        else:
            reply.pending = guarded.rewrite(reply.pending)
    except GatewayError:
        raise
    except Exception as exc:  # noqa: BLE001 - as CheckedStream: an event the guard cannot read
        raise malformed(f"cannot read it ({type(exc).__name__})") from None
    # Like the adapter's converter, the guard's: an upstream event it trips over (a choice
    # `index` that is a list) ends the stream as `upstream_malformed`, never as a bare 500.
    checked = CheckedStream(guarded)
    converted = Converted(checked)
    reply.chunks = _converted(reply.chunks, converted, limit)
    if remote:
        reply.chunks = _check_when_done(reply.chunks, guarded, remote, ctx, services)
    reply.converter = converted


class Converted(WrappingConverter):
    """What the responder sees of a guarded stream: `_converted` already turned each upstream
    chunk into the bytes to send (in a worker thread when its scans may be long), so `feed`
    passes them on, and `finish` gives what the converter's own `finish` made when the upstream
    ended (kept until the responder asks, so the stages that wrap the chunks after this one,
    such as remembering a Responses answer, still run before the stream's last events go)."""

    def __init__(self, inner: StreamConverter) -> None:
        self._inner = inner
        self.tail: list[bytes] = []

    @property
    def text(self) -> list[str]:
        return self._inner.text

    def feed(self, chunk: bytes) -> list[bytes]:
        return [chunk] if chunk else []

    def finish(self) -> list[bytes]:
        tail, self.tail = self.tail, []
        return tail


async def _converted(
    chunks: AsyncIterator[bytes], converted: Converted, limit: int
) -> AsyncIterator[bytes]:
    """Each upstream chunk converted (off the event loop when longer than `limit`), then what
    the converter adds when the upstream ended (off the loop too when `limit` is 0: the windows'
    last scans run a classifier that never runs on it), kept for `converted.finish`."""
    converter = converted.inner
    async for chunk in chunks:
        out = (
            await asyncio.to_thread(converter.feed, chunk)
            if len(chunk) > limit
            else (converter.feed(chunk))
        )
        if out:
            yield b"".join(out)
    converted.tail = await asyncio.to_thread(converter.finish) if limit == 0 else converter.finish()


async def _check_when_done(
    chunks: AsyncIterator[bytes],
    guarded: GuardedConverter,
    guards: list[Guard],
    ctx: RequestContext,
    services: Services,
) -> AsyncIterator[bytes]:
    """Remote checks see the whole answer once the windows released all of it (`_converted`
    ran the converter's `finish`); the stream's ending events wait for their verdict. A
    moderation model is a provider too: like on the JSON path it reads every text (reasoning,
    refusal, tool-call arguments too) as the other guardrails left it, before `restore` put
    values back, never the values they took out."""
    async for chunk in chunks:
        yield chunk
    full = guarded.judged_text()
    results = [(guard, await scan(guard, full, ctx, services)) for guard in guards]
    decision = decide(full, results, None)
    if decision.hits:
        record(ctx, "output", decision)
    if decision.blocked is not None:
        raise ContentBlocked(f"the answer was blocked by the guardrail '{decision.blocked.name}'")
