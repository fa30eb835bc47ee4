"""Response writers: a JSON answer, an error, a relayed stream, a cached stream.

Each sets the status the record shows. A relayed stream that fails after its first byte ends
with a well-formed error event the SDKs understand; a client that leaves stops the upstream.
"""

from __future__ import annotations

import asyncio
import time

import orjson
from starlette.types import Receive, Send

from gateway.errors import GatewayError, UpstreamFailed, UpstreamStreamError, UpstreamTimeout
from gateway.http.answer_scrub import StreamScrub, scrubbed_answer
from gateway.http.disconnect import WATCH_STREAM_AFTER_S, DisconnectWatch
from gateway.pipeline.cache import will_store
from gateway.pipeline.context import RequestContext
from gateway.providers.anthropic.headers_anthropic_to_openai import openai_rate_limit_headers
from gateway.providers.base import relayed_failure
from gateway.quoted_text import quoted
from gateway.upstream import UpstreamError

_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


def gateway_headers(ctx: RequestContext) -> list[tuple[bytes, bytes]]:
    request_id = ctx.request_id.encode()
    headers = [(b"x-request-id", request_id), (b"x-gateway-cache", ctx.cache.encode())]
    if ctx.endpoint.wire == "anthropic":
        headers.append((b"request-id", request_id))  # where the anthropic SDK reads it
    if ctx.exchange.deployment is not None:
        headers.append((b"x-gateway-deployment", ctx.exchange.deployment.name.encode()))
    if ctx.exchange.attempts:
        headers.append((b"x-gateway-attempts", str(len(ctx.exchange.attempts)).encode()))
    if ctx.rate_headers:
        headers += ctx.rate_headers
    for name, value in ctx.response_headers.items():
        headers.append((name.encode(), value.encode("latin-1", "replace")))
    if ctx.exchange.upstream_request_id is not None or ctx.exchange.upstream_headers:
        headers += upstream_headers(ctx)
    headers += timing_headers(ctx)
    return headers


def timing_headers(ctx: RequestContext) -> list[tuple[bytes, bytes]]:
    """`Server-Timing` and `x-gateway-overhead-ms` as the response starts: the gateway's time so
    far, the upstream attempts' (for a stream: until the upstream's headers), the guardrails'
    when the key has any. The record's `response_start_ms` is this `gateway;dur`; its
    `overhead_ms` is the same difference at the last byte."""
    ctx.response_started = now = time.monotonic()
    gateway_ms = (now - ctx.started) * 1000
    upstream_ms = 0.0
    attempts = ctx.exchange.attempts
    for attempt in attempts:
        upstream_ms += attempt.duration_ms
    if attempts:
        timing = b"gateway;dur=%.3f, upstream;dur=%.3f" % (gateway_ms, upstream_ms)
    else:
        timing = b"gateway;dur=%.3f" % gateway_ms
    if ctx.key is not None and ctx.key.policy in ctx.runtime.guardrails:
        timing += b", guardrails;dur=%.3f" % ctx.guardrails_ms
    overhead = b"%.3f" % (gateway_ms - upstream_ms if gateway_ms > upstream_ms else 0.0)
    return [(b"server-timing", timing), (b"x-gateway-overhead-ms", overhead)]


def upstream_headers(ctx: RequestContext) -> list[tuple[bytes, bytes]]:
    """What the client is told of the last upstream answer's headers: its request id as
    `x-upstream-request-id`, and its rate-limit headers when the gateway set none: as they are
    on `/v1/messages`, Anthropic's in OpenAI's `x-ratelimit-*` names on the OpenAI routes."""
    exchange = ctx.exchange
    headers: list[tuple[bytes, bytes]] = []
    if exchange.upstream_request_id is not None:
        request_id = exchange.upstream_request_id.encode("latin-1", "replace")
        headers.append((b"x-upstream-request-id", request_id))
    limits = exchange.upstream_headers
    if (
        limits
        and not ctx.rate_headers
        and not any(name.startswith("x-ratelimit-") for name in ctx.response_headers)
    ):
        provider = exchange.provider
        if ctx.endpoint.wire == "openai" and provider is not None and provider.type == "anthropic":
            limits = openai_rate_limit_headers(limits)
        for name, value in limits.items():
            headers.append((name.encode(), value.encode("latin-1", "replace")))
    return headers


def stream_error_event(error: GatewayError, wire: str, kind: str = "chat") -> bytes:
    """A well-formed last event that tells the SDK the stream failed. On the Responses API:
    a typed `error` event (`type`, `code`, `message`, `param`) that also carries the OpenAI
    `error` object, on which the openai SDK raises `APIError`."""
    if wire == "anthropic":
        return b"event: error\ndata: " + error.body("anthropic") + b"\n\n"
    if kind == "responses":
        event = {
            "type": "error",
            "code": error.code or error.type,
            "message": error.message,
            "param": error.param,
            "error": orjson.loads(error.body("openai"))["error"],
        }
        return b"event: error\ndata: " + orjson.dumps(event) + b"\n\n"
    return b"data: " + error.body("openai") + b"\n\n"


async def send_error(ctx: RequestContext, send: Send, error: GatewayError) -> None:
    ctx.error = error
    ctx.status = error.status_on(ctx.endpoint.wire)
    # An upstream's error text may quote the credentials it was sent.
    body = ctx.runtime.secrets.scrub_bytes(error.body(ctx.endpoint.wire))
    headers = [_JSON, (b"content-length", str(len(body)).encode()), *gateway_headers(ctx)]
    headers.extend((k.encode(), v.encode()) for k, v in error.headers.items())
    await send({"type": "http.response.start", "status": ctx.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(ctx: RequestContext, send: Send, body: bytes) -> None:
    """Send a JSON answer (200). One that reports its own failure (`Exchange.failure`: a
    Responses `"status": "failed"`) is sent as it is and recorded as that failure, as a stream
    ending with it is (`_stream_failed`); the router gave its breaker that outcome."""
    ctx.status = 200
    if ctx.exchange.failure is not None:
        _stream_failed(ctx.exchange.failure, ctx)
    clean = scrubbed_answer(ctx, body)
    if clean is not body:
        if ctx.response_body is body:
            ctx.response_body = clean  # what the cache stores
        body = clean
    headers = [_JSON, (b"content-length", str(len(body)).encode()), *gateway_headers(ctx)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_stream(ctx: RequestContext, send: Send, receive: Receive) -> None:
    """Forward the upstream stream as it arrives; end it with an error event if the upstream
    fails, after what the converter made before the failure (`GatewayError.pending`)."""
    reply = ctx.stream_reply
    assert reply is not None
    ctx.status = 200
    await send(
        {"type": "http.response.start", "status": 200, "headers": [*_SSE, *gateway_headers(ctx)]}
    )
    sent = ctx.sent_chunks = [] if will_store(ctx) else None
    scrub = StreamScrub(ctx)  # what is sent and stored holds no configured secret
    # The last piece of a finished upstream body is held back and leaves together with the
    # end of the response: one write instead of two. When the whole upstream body is already
    # in, nothing is awaited from it, so there is no disconnect to watch for either.
    last: list[bytes] = []
    piece = b""  # the last piece sent before the end: whether the client has its stream's end
    upstream_fault = False  # the upstream broke the stream (not its deadline, nor a guardrail)
    busy: GatewayError | None = None  # the upstream ended it saying it is overloaded
    if reply.upstream.body_complete:
        last += reply.pending
    # A client that goes away must stop the upstream (`DisconnectWatch`).
    watch = (
        None
        if reply.upstream.body_complete
        else DisconnectWatch(receive, ctx, WATCH_STREAM_AFTER_S)
    )
    try:
        if reply.pending and not reply.upstream.body_complete:
            ctx.first_byte_sent = time.monotonic()
            piece = scrub.piece(b"".join(reply.pending))
            if sent is not None:
                sent.append(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        try:
            feed, upstream = reply.converter.feed, reply.upstream  # once, not per chunk
            check = scrub.check
            first_piece = ctx.first_byte_sent is None  # whether the next piece sent is the first
            # The stream's own deadline (the attempt's `total_timeout_s`, the request's limit):
            # reached, the stream ends with an error event, as for any failure after its start.
            left_s = None if reply.deadline is None else reply.deadline - time.monotonic()
            async with asyncio.timeout(None if left_s is None else max(0.0, left_s)):
                async for chunk in reply.chunks:
                    out = feed(chunk)
                    if upstream.body_complete:
                        last += out
                    elif out:
                        joined = b"".join(out)
                        # A line unended, or a secret's run (`answer_scrub.StreamScrub`).
                        if not joined.endswith(b"\n") or check(joined) is not None:
                            joined = scrub.piece(joined)
                            check = scrub.check
                            if not joined:  # one incomplete line, held for the next
                                continue
                        if first_piece:
                            ctx.first_byte_sent = time.monotonic()
                            first_piece = False
                        piece = joined
                        if sent is not None:
                            sent.append(piece)
                        await send({"type": "http.response.body", "body": piece, "more_body": True})
            tail = [scrub.end(b"".join([*last, *reply.converter.finish()]))]
            if ctx.endpoint.kind == "responses":  # only a Responses upstream relays its failure
                upstream_fault, busy = _ended_failed(ctx)
            if tail[0] and ctx.first_byte_sent is None:
                ctx.first_byte_sent = time.monotonic()
            if sent is not None and tail[0]:
                sent.append(tail[0])
        except (UpstreamError, GatewayError, TimeoutError) as exc:
            if not isinstance(exc, GatewayError) and has_stream_end(piece, ctx):
                # The client has the whole answer (its stream's last event went out); the
                # upstream only failed to end its body after it: held it open, or dropped it.
                tail = [scrub.end(b"".join(last))]
                upstream_fault, busy = _ended_failed(ctx)
            else:
                error, upstream_fault = _stream_failed(exc, ctx)
                if isinstance(exc, UpstreamStreamError) and exc.rate_limited:
                    busy = exc  # its deployment is benched (a 529 / 429 said late)
                # An upstream's error text may quote the credentials it was sent.
                event = stream_error_event(error, ctx.endpoint.wire, ctx.endpoint.kind)
                # The events that came before the failure in its chunk (`GatewayError.pending`)
                # go first: the client gets all the upstream sent before its error.
                pending = exc.pending if isinstance(exc, GatewayError) else ()
                if pending and ctx.first_byte_sent is None:
                    ctx.first_byte_sent = time.monotonic()
                event = ctx.runtime.secrets.scrub_bytes(event)
                tail = [scrub.end(b"".join([*last, *pending, event]))]
        ctx.exchange.finished = time.monotonic()
        await send({"type": "http.response.body", "body": b"".join(tail), "more_body": False})
    except asyncio.CancelledError:
        if not ctx.client_closed:
            raise
        if has_stream_end(piece, ctx):
            # The SDKs close the connection once they read the stream's last event, before the
            # response's own end: it left with the whole answer, nothing failed (but what
            # that answer says: a `response.failed`).
            ctx.client_closed = False
            upstream_fault, busy = _ended_failed(ctx)
        else:
            ctx.status = 499
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
    except OSError:
        # The client went away while we were writing.
        ctx.client_closed = True
        ctx.status = 499
    finally:
        if watch is not None:
            watch.stop()
        await reply.aclose(upstream_fault, busy)


async def send_cached_stream(ctx: RequestContext, send: Send, pieces: list[bytes]) -> None:
    """Replay a cached stream with the boundaries it was first sent with."""
    ctx.status = 200
    await send(
        {"type": "http.response.start", "status": 200, "headers": [*_SSE, *gateway_headers(ctx)]}
    )
    ctx.first_byte_sent = time.monotonic()
    scrub = StreamScrub(ctx)  # an entry stored before a key was configured holds it as it is
    for stored in pieces:
        piece = scrub.piece(stored)
        if piece:
            await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": scrub.end(b""), "more_body": False})


def _stream_failed(
    exc: UpstreamError | GatewayError | TimeoutError, ctx: RequestContext
) -> tuple[GatewayError, bool]:
    """A stream that failed after its start (or a JSON answer that says it failed, sent as it
    is: `send_json`): its error (`ctx.error`, the last attempt's kind), and whether the
    upstream is at fault (not its deadline, nor a guardrail: an upstream that says mid-stream
    it is overloaded is busy, not broken; one that names a 4xx refuses the request)."""
    if isinstance(exc, TimeoutError):
        exc = UpstreamTimeout("the stream did not end within its time limit")
    error = exc if isinstance(exc, GatewayError) else _stream_failure(exc, ctx)
    ctx.error = error
    if ctx.exchange.attempts:
        ctx.exchange.attempts[-1].error_kind = error.kind
    fault = isinstance(exc, (UpstreamError, UpstreamFailed)) and not (
        isinstance(exc, UpstreamStreamError) and not exc.upstream_fault
    )
    return error, fault


def _ended_failed(ctx: RequestContext) -> tuple[bool, GatewayError | None]:
    """A stream whose upstream ended it with its own failure event, which the client got as it
    is (`relayed_failure`: a Responses `response.failed`), failed all the same: its error is
    recorded and counted as a break after the first byte is. Whether the upstream is at fault,
    and the error when it said it is busy (`send_stream`'s `upstream_fault` and `busy`)."""
    assert ctx.stream_reply is not None
    failure = relayed_failure(ctx.stream_reply.converter)
    if failure is None:
        return False, None
    _, fault = _stream_failed(failure, ctx)
    return fault, failure if failure.rate_limited else None


# The line that ends a stream in each client format (the Responses API: each of its ends).
_STREAM_ENDS = {
    "openai": (b"data: [DONE]",),
    "anthropic": (b"event: message_stop",),
    "responses": (
        b"event: response.completed",
        b"event: response.incomplete",
        b"event: response.failed",
    ),
}


def has_stream_end(piece: bytes, ctx: RequestContext) -> bool:
    """Whether `piece` (the last one sent) holds the event that ends the client's stream, at
    the start of a line (an answer's text is JSON there: it holds no line break)."""
    endpoint = ctx.endpoint
    ends = _STREAM_ENDS["responses" if endpoint.kind == "responses" else endpoint.wire]
    return any(piece.startswith(end) or b"\n" + end in piece for end in ends)


def _stream_failure(exc: UpstreamError, ctx: RequestContext) -> GatewayError:
    where = ctx.exchange.deployment.name if ctx.exchange.deployment else "upstream"
    if exc.kind.endswith("timeout"):
        return UpstreamTimeout(f"upstream {where} stalled mid-stream ({exc.kind})")
    code = "upstream_response_too_large" if exc.kind == "too_large" else "stream_interrupted"
    return UpstreamFailed(f"upstream {where} failed mid-stream: {quoted(exc)}", code=code)
