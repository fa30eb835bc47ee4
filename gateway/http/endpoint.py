"""The ASGI endpoint for proxied routes: read the body, run the stages, answer, finish.

Raw ASGI on purpose: this is the hot path, and the request/response objects of a framework cost
more than the few lines here. A request's path, in order: `read_body`, each stage of
`gateway.pipeline.stages.STAGES`, one response writer of `gateway.http.responses`, and
`gateway.pipeline.finish.finish_request` in `finally` (exactly one record per request). A client
that leaves while the stages run cancels them (`DisconnectWatch`): the upstream call is closed,
no retry or fallback starts, and the record says 499 `client_closed`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import replace

from starlette.types import Receive, Scope, Send

from gateway.errors import (
    GatewayError,
    MethodNotAllowed,
    PayloadTooLarge,
    UpstreamTimeout,
    unexpected,
)
from gateway.http.arrival import arrived
from gateway.http.body_budget import BodyBudget
from gateway.http.disconnect import WATCH_STAGES_AFTER_S, DisconnectWatch
from gateway.http.framing import body_refusal
from gateway.http.responses import send_cached_stream, send_error, send_json, send_stream
from gateway.pipeline.context import Endpoint, HttpRoute
from gateway.pipeline.finish import finish_request, free_slots_before_last_byte
from gateway.pipeline.services import Services
from gateway.pipeline.stages import GUARDRAIL_STAGES, HEAD_STAGES, STAGES, Stage
from gateway.quoted_text import quoted

log = logging.getLogger("gateway")
# How long past the request's deadline a stream may take to write its closing error event
# (the stream stops itself at the deadline; this bounds a client that stopped reading).
STREAM_END_GRACE_S = 5.0


class ClientDisconnected(Exception):
    """The client closed the connection before its request body was complete."""


async def read_body(
    receive: Receive,
    headers: dict[str, str],
    limit: int,
    budget: BodyBudget | None = None,
    budget_limit: int = 0,
) -> bytes:
    """The whole request body, refusing (413) anything over `limit` bytes before reading it all.
    With `budget`, its bytes are counted there as they come (503 past `budget_limit`: see
    body_budget.py); the caller gives back the length of the body returned, this function what
    it took of a body it did not return."""
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(
            f"request body of {declared} bytes exceeds the limit of {limit} bytes"
        )
    parts: list[bytes] = []
    size = 0
    try:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnected()
            chunk = message.get("body", b"")
            if chunk:
                if size + len(chunk) > limit:
                    raise PayloadTooLarge(f"request body exceeds the limit of {limit} bytes")
                if budget is not None:
                    budget.take(len(chunk), budget_limit)
                size += len(chunk)
                parts.append(chunk)
            if not message.get("more_body", False):
                return parts[0] if len(parts) == 1 else b"".join(parts)
    except BaseException:
        if budget is not None:
            budget.give(size)
        raise


class ProxyEndpoint:
    """ASGI app for one proxied route (`/v1/chat/completions`, `/v1/messages`, ...); `stages`
    are the pipeline's (`STAGES`) unless the route has its own short list."""

    def __init__(
        self,
        endpoint: Endpoint,
        services: Services,
        stages: tuple[Stage, ...] = STAGES,
        bodies: BodyBudget | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.services = services
        # The process's request bodies, shared by every route (`body_budget.py`).
        self.bodies = bodies if bodies is not None else BodyBudget()
        # Each stage with whether its time counts as the guardrails' (decided once, not per call).
        # The leading stages that need only the head, run before the body is read (`HEAD_STAGES`).
        self._head_stages = tuple(itertools.takewhile(HEAD_STAGES.__contains__, stages))
        self._steps = tuple(
            (stage, stage in GUARDRAIL_STAGES) for stage in stages[len(self._head_stages) :]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        services = self.services
        runtime = services.runtime
        ctx = arrived(self.endpoint, runtime, scope)
        if services.tracer is not None:
            ctx.trace = services.tracer.start(ctx.headers)
        started_response = False
        watch: DisconnectWatch | None = None
        services.records.write_soon()  # earlier requests' records, while this one waits
        services.metrics.inflight.inc()
        try:
            if scope["method"] != "POST":
                # Traced as the HTTP request it was (`GET /v1/chat/completions`), not as a GenAI
                # operation asked with POST.
                ctx.endpoint = replace(
                    ctx.endpoint, http=HttpRoute(scope["method"], ctx.endpoint.path)
                )
                raise MethodNotAllowed(
                    f"{quoted(scope['method'])} is not allowed on {self.endpoint.path}; use POST",
                    headers={"allow": "POST"},
                )
            for stage in self._head_stages:
                await stage(ctx, services)
            try:
                server = runtime.config.server
                ctx.raw_body = await read_body(
                    receive,
                    ctx.headers,
                    server.max_body_bytes,
                    self.bodies,
                    server.max_inflight_body_bytes,
                )
            except ClientDisconnected:
                refused = body_refusal(scope)
                if refused is None:
                    # Not an error of ours: one line at most, and the request's record (499).
                    log.info("client left while sending the body of %s", ctx.request_id)
                    ctx.client_closed = True
                    ctx.status = 499
                    return
                # The server answered already (408 stalled, 400 unreadable); the record says so.
                raise refused from None
            async with asyncio.timeout(runtime.config.server.request_timeout_s) as limit:
                watch = DisconnectWatch(receive, ctx, WATCH_STAGES_AFTER_S)
                try:
                    for stage, timed in self._steps:
                        if timed:  # a guardrail stage: timed for Server-Timing and the record
                            began = time.perf_counter()
                            try:
                                await stage(ctx, services)
                            finally:
                                ctx.guardrails_ms += (time.perf_counter() - began) * 1000
                        else:
                            await stage(ctx, services)
                finally:
                    watch.stop()
                started_response = True
                out = free_slots_before_last_byte(ctx, services, send)
                if ctx.stream_reply is not None:
                    # The stream ends itself at its deadline (no later than this one), with an
                    # error event; this one stays, later, for a client that stopped reading.
                    when = limit.when()
                    if when is not None:
                        limit.reschedule(when + STREAM_END_GRACE_S)
                    await send_stream(ctx, out, receive)
                elif ctx.cached_stream is not None:
                    await send_cached_stream(ctx, out, ctx.cached_stream)
                else:
                    await send_json(ctx, out, ctx.response_body or b"")
        except GatewayError as error:
            if not started_response:
                await send_error(ctx, free_slots_before_last_byte(ctx, services, send), error)
            else:
                ctx.error = error
        except TimeoutError:
            timeout = UpstreamTimeout("the request exceeded the gateway's total time limit")
            if not started_response:
                await send_error(ctx, free_slots_before_last_byte(ctx, services, send), timeout)
            else:
                ctx.error = timeout
        except asyncio.CancelledError:
            ctx.client_closed = True
            ctx.status = 499
            if watch is None or not watch.fired:
                raise
            # The client left: the upstream call was cancelled with the stages; nothing to send.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
        except Exception as exc:
            log.exception("unexpected error handling %s", ctx.request_id)
            bug = unexpected(exc)
            if not started_response:
                await send_error(ctx, send, bug)
            else:
                ctx.error = bug
        finally:
            if ctx.stream_reply is not None and not started_response:
                await ctx.stream_reply.aclose()
            services.metrics.inflight.dec()
            self.bodies.give(len(ctx.raw_body))
            finish_request(ctx, services)
