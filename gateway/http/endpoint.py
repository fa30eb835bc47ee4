"""The ASGI endpoint for proxied routes: read the body, run the stages, answer, record.

Raw ASGI on purpose: this is the hot path, and the request/response objects of a framework cost
more than the few lines here. Exactly one record is written per request, in `finally`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import time
from typing import Any

from starlette.types import Message, Receive, Scope, Send

from gateway.errors import (
    GatewayError,
    MethodNotAllowed,
    PayloadTooLarge,
    UpstreamFailed,
    UpstreamTimeout,
    unexpected,
)
from gateway.pipeline.cache import storable, store_answer
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.services import Services
from gateway.pipeline.stages import STAGES
from gateway.upstream import UpstreamError

log = logging.getLogger("gateway")

_JSON = (b"content-type", b"application/json")
_SSE = [(b"content-type", b"text/event-stream; charset=utf-8"), (b"cache-control", b"no-cache")]


# How long a stream runs before the gateway starts watching for the client going away.
WATCH_DISCONNECT_AFTER_S = 0.05

_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count(1)


def new_request_id() -> str:
    """Unique across processes (random per-process prefix) and cheap (no syscall per request)."""
    return f"req_{_ID_PREFIX}{next(_id_counter):016x}"


def request_headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The whole request body, refusing (413) anything over `limit` bytes before reading it all."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"request body of {declared} bytes exceeds the limit of {limit} bytes"
        )
    parts: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError("client disconnected while sending the body")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
            parts.append(chunk)
        if not message.get("more_body", False):
            return parts[0] if len(parts) == 1 else b"".join(parts)


def gateway_headers(ctx: RequestContext) -> list[tuple[bytes, bytes]]:
    ctx.run_deferred()  # e.g. the rate-limit headers, if no await has built them yet
    headers = [(b"x-request-id", ctx.request_id.encode()), (b"x-gateway-cache", ctx.cache.encode())]
    if ctx.deployment is not None:
        headers.append((b"x-gateway-deployment", ctx.deployment.name.encode()))
    if ctx.attempts:
        headers.append((b"x-gateway-attempts", str(len(ctx.attempts)).encode()))
    for name, value in ctx.response_headers.items():
        headers.append((name.encode(), value.encode("latin-1", "replace")))
    return headers


def stream_error_event(error: GatewayError, wire: str) -> bytes:
    """A well-formed last event that tells the SDK the stream failed."""
    if wire == "anthropic":
        return b"event: error\ndata: " + error.body("anthropic") + b"\n\n"
    return b"data: " + error.body("openai") + b"\n\n"


async def send_error(ctx: RequestContext, send: Send, error: GatewayError) -> None:
    ctx.error = error
    ctx.status = error.status
    body = error.body(ctx.endpoint.wire)
    headers = [_JSON, (b"content-length", str(len(body)).encode()), *gateway_headers(ctx)]
    headers.extend((k.encode(), v.encode()) for k, v in error.headers.items())
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_json(ctx: RequestContext, send: Send, body: bytes) -> None:
    ctx.status = 200
    headers = [_JSON, (b"content-length", str(len(body)).encode()), *gateway_headers(ctx)]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _watch_disconnect(
    receive: Receive, ctx: RequestContext, streamer: asyncio.Task[Any]
) -> None:
    while True:
        message: Message = await receive()
        if message["type"] == "http.disconnect":
            ctx.client_closed = True
            streamer.cancel()
            return


async def send_stream(ctx: RequestContext, send: Send, receive: Receive) -> None:
    """Forward the upstream stream as it arrives; end it with an error event if the upstream fails."""
    reply = ctx.stream_reply
    assert reply is not None
    ctx.status = 200
    await send(
        {"type": "http.response.start", "status": 200, "headers": [*_SSE, *gateway_headers(ctx)]}
    )
    sent = ctx.sent_chunks = [] if storable_later(ctx) else None
    # The last piece of a finished upstream body is held back and leaves together with the
    # end of the response: one write instead of two. When the whole upstream body is already
    # in, nothing is awaited from it, so there is no disconnect to watch for either.
    last: list[bytes] = []
    if reply.upstream.body_complete:
        last += reply.pending
    # A client that goes away must stop the upstream (uvicorn's `send` stays silent once the
    # client is gone). Watching costs a task per stream, so it starts only once the stream has
    # lasted WATCH_DISCONNECT_AFTER_S: a fast stream never pays for it, a slow one is cut off
    # at most that much later.
    streamer = asyncio.current_task()
    assert streamer is not None
    watcher: list[asyncio.Task[None]] = []
    watch_timer = None
    if not reply.upstream.body_complete:
        watch_timer = asyncio.get_running_loop().call_later(
            WATCH_DISCONNECT_AFTER_S,
            lambda: watcher.append(asyncio.create_task(_watch_disconnect(receive, ctx, streamer))),
        )
    try:
        if reply.pending and not reply.upstream.body_complete:
            ctx.first_byte_sent = time.monotonic()
            piece = b"".join(reply.pending)
            if sent is not None:
                sent.append(piece)
            await send({"type": "http.response.body", "body": piece, "more_body": True})
        try:
            async for chunk in reply.chunks:
                out = reply.converter.feed(chunk)
                if reply.upstream.body_complete:
                    last += out
                elif out:
                    if ctx.first_byte_sent is None:
                        ctx.first_byte_sent = time.monotonic()
                    piece = b"".join(out)
                    if sent is not None:
                        sent.append(piece)
                    await send({"type": "http.response.body", "body": piece, "more_body": True})
            tail = [*last, *reply.converter.finish()]
            if tail and ctx.first_byte_sent is None:
                ctx.first_byte_sent = time.monotonic()
            if sent is not None and tail:
                sent.append(b"".join(tail))
        except (UpstreamError, GatewayError) as exc:
            error = exc if isinstance(exc, GatewayError) else _stream_failure(exc, ctx)
            ctx.error = error
            if ctx.attempts:
                ctx.attempts[-1].error_kind = error.kind
            tail = [*last, stream_error_event(error, ctx.endpoint.wire)]
        ctx.upstream_finished = time.monotonic()
        await send({"type": "http.response.body", "body": b"".join(tail), "more_body": False})
    except asyncio.CancelledError:
        if not ctx.client_closed:
            raise
        ctx.status = 499
        current = asyncio.current_task()
        if current is not None:
            current.uncancel()
    except OSError:
        # The client went away while we were writing.
        ctx.client_closed = True
        ctx.status = 499
    finally:
        if watch_timer is not None:
            watch_timer.cancel()
        for task in watcher:
            task.cancel()
        await reply.upstream.aclose()


def storable_later(ctx: RequestContext) -> bool:
    return ctx.cache_key is not None and ctx.cache_store and ctx.cache != "hit"


async def send_cached_stream(ctx: RequestContext, send: Send, pieces: list[bytes]) -> None:
    """Replay a cached stream with the boundaries it was first sent with."""
    ctx.status = 200
    await send(
        {"type": "http.response.start", "status": 200, "headers": [*_SSE, *gateway_headers(ctx)]}
    )
    ctx.first_byte_sent = time.monotonic()
    for piece in pieces:
        await send({"type": "http.response.body", "body": piece, "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


def _stream_failure(exc: UpstreamError, ctx: RequestContext) -> GatewayError:
    where = ctx.deployment.name if ctx.deployment else "upstream"
    if exc.kind.endswith("timeout"):
        return UpstreamTimeout(f"upstream {where} stalled mid-stream ({exc.kind})")
    return UpstreamFailed(f"upstream {where} failed mid-stream: {exc}", code="stream_interrupted")


class ProxyEndpoint:
    """ASGI app for one proxied route (`/v1/chat/completions`, `/v1/messages`, `/v1/embeddings`)."""

    def __init__(self, endpoint: Endpoint, services: Services) -> None:
        self.endpoint = endpoint
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = self.services
        runtime = services.runtime
        ctx = RequestContext(
            endpoint=self.endpoint,
            runtime=runtime,
            request_id=new_request_id(),
            ts=time.time(),
            started=time.monotonic(),
            headers=request_headers(scope),
        )
        started_response = False
        services.record_soon()  # the previous requests' records, while this one waits
        services.metrics.inflight.inc()
        try:
            if scope["method"] != "POST":
                raise MethodNotAllowed(
                    f"{scope['method']} is not allowed on {self.endpoint.path}; use POST"
                )
            ctx.raw_body = await read_body(
                receive, ctx.headers, runtime.config.server.max_body_bytes
            )
            async with asyncio.timeout(runtime.config.server.request_timeout_s):
                for stage in STAGES:
                    await stage(ctx, services)
                started_response = True
                if ctx.stream_reply is not None:
                    await send_stream(ctx, send, receive)
                elif ctx.cached_stream is not None:
                    await send_cached_stream(ctx, send, ctx.cached_stream)
                else:
                    await send_json(ctx, send, ctx.response_body or b"")
        except GatewayError as error:
            if not started_response:
                await send_error(ctx, send, error)
            else:
                ctx.error = error
        except TimeoutError:
            timeout = UpstreamTimeout("the request exceeded the gateway's total time limit")
            if not started_response:
                await send_error(ctx, send, timeout)
            else:
                ctx.error = timeout
        except asyncio.CancelledError:
            ctx.client_closed = True
            ctx.status = 499
            raise
        except Exception as exc:
            log.exception("unexpected error handling %s", ctx.request_id)
            bug = unexpected(exc)
            if not started_response:
                await send_error(ctx, send, bug)
            else:
                ctx.error = bug
        finally:
            if ctx.stream_reply is not None and not started_response:
                await ctx.stream_reply.upstream.aclose()
            services.metrics.inflight.dec()
            services.finish(ctx)
            if storable(ctx):
                services.spawn(store_answer(ctx, services))
