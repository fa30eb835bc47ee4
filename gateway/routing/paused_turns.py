"""The calls that continue a turn Claude paused, for a client whose API cannot
(`gateway.providers.anthropic.paused_turns` says why and what is sent).

Each continuation is the attempt's own request again, with the answer so far, sent by the same
client within the attempt's time. One that fails (a refusal, a transport error, a time-out, an
answer that is not a message) ends the continuing: the client gets the answer so far, as
Claude paused it, and the log says why; the attempt itself succeeded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import orjson

from gateway.providers.anthropic.paused_streams import PausedTurnStream
from gateway.providers.anthropic.paused_turns import (
    MAX_CONTINUATIONS,
    PAUSED,
    continuation_body,
    merged_message,
    paused_message,
)
from gateway.routing.exchange import Attempt, UpstreamCall
from gateway.upstream import (
    UpstreamClient,
    UpstreamError,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeouts,
    request_of,
)

log = logging.getLogger("gateway.routing")


def _continuation(call: UpstreamCall, content: list[dict[str, object]]) -> UpstreamRequest:
    sent = request_of(call.prepared)
    return UpstreamRequest("POST", sent.url, sent.headers, continuation_body(sent.body, content))


def _stopped(call: UpstreamCall, attempt: Attempt, kind: str, why: str = "") -> None:
    """A continuation failed (`kind`, the error kinds of attempts): logged, and kept on the
    attempt, whose record and metrics count it (`gateway_upstream_errors_total`)."""
    attempt.continuation_error = kind
    log.warning(
        "deployment %s: a paused turn was not continued (%s); the client gets the answer so far",
        call.deployment.name,
        why or kind,
    )


async def continued_answer(
    data: bytes,
    call: UpstreamCall,
    client: UpstreamClient,
    timeouts: UpstreamTimeouts,
    left_s: float,
    attempt: Attempt,
) -> bytes:
    """The Messages answer `data`, continued while Claude paused it (at most
    `MAX_CONTINUATIONS` times, within the attempt's `left_s`): every call's content and usage
    in one answer."""
    answer = paused_message(data)
    if answer is None:
        return data
    deadline = asyncio.get_running_loop().time() + left_s
    for _ in range(MAX_CONTINUATIONS):
        try:
            async with asyncio.timeout_at(deadline):
                response = await client.send(_continuation(call, answer["content"]), timeouts)
                try:
                    more = await response.read()
                finally:
                    await response.aclose()
        except UpstreamError as exc:
            _stopped(call, attempt, exc.kind)
            break
        except TimeoutError:
            _stopped(call, attempt, "timeout", "the attempt's time is up")
            break
        if response.status >= 300:
            _stopped(call, attempt, f"http_{response.status}")
            break
        try:
            next_answer = orjson.loads(more)
        except orjson.JSONDecodeError:
            next_answer = None
        if type(next_answer) is not dict or type(next_answer.get("content")) is not list:
            _stopped(call, attempt, "upstream_malformed", "its answer is not a message")
            break
        answer = merged_message(answer, next_answer)
        if next_answer.get("stop_reason") != PAUSED:
            break
    return orjson.dumps(answer)


class ContinuedResponse:
    """A streamed answer and its continuations as one `UpstreamResponse` (its chunks one
    message's stream, `PausedTurnStream`), continued while Claude paused it, at most
    `MAX_CONTINUATIONS` times. The continuations' time is the stream's: its deadline bounds
    the whole turn. Its body is complete only once no continuation can follow (the responder
    holds a complete body's last piece back for its end)."""

    def __init__(
        self,
        first: UpstreamResponse,
        call: UpstreamCall,
        client: UpstreamClient,
        timeouts: UpstreamTimeouts,
        attempt: Attempt,
    ) -> None:
        self.status = first.status
        self.headers = first.headers
        self._first = first
        self._call, self._client, self._timeouts = call, client, timeouts
        self._attempt = attempt
        self._continuation: UpstreamResponse | None = None
        self._ended = False  # no continuation can follow

    @property
    def body_complete(self) -> bool:
        return self._ended

    async def read(self) -> bytes:
        return b"".join([chunk async for chunk in self.iter_chunks()])

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        turn = PausedTurnStream()
        chunks = self._first.iter_chunks()
        for continued in range(MAX_CONTINUATIONS + 1):
            async for chunk in chunks:
                out = turn.feed(chunk)
                if out:
                    yield out
            await self._close_continuation()
            if not turn.paused or continued == MAX_CONTINUATIONS:
                break
            request = _continuation(self._call, turn.content)
            try:
                response = await self._client.send(request, self._timeouts)
            except UpstreamError as exc:
                _stopped(self._call, self._attempt, exc.kind)
                break
            self._continuation = response
            if response.status >= 300:
                _stopped(self._call, self._attempt, f"http_{response.status}")
                break
            turn.next_call()
            chunks = response.iter_chunks()
        self._ended = True
        tail = turn.end()
        if tail:
            yield tail

    async def _close_continuation(self) -> None:
        response, self._continuation = self._continuation, None
        if response is not None:
            await response.aclose()

    async def aclose(self) -> None:
        try:
            await self._first.aclose()
        finally:
            await self._close_continuation()
