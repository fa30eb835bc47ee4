"""The end of a request, whatever path it took: one place, called once per request.

0. Just before the answer's last byte is sent, its concurrency slots are freed
   (`free_slots_before_last_byte` wraps the response writer's `send`), so a client that sends
   its next request as soon as it has this answer never finds its own slot still taken; when
   the upstream has reported the usage by then, its whole settlement goes in that write. (On
   Redis the write leaves at the end of that turn of the event loop: `gateway.limits.limiter`.)
1. Its limits are settled at once, unless step 0 did it (the concurrency slot freed, tokens and
   spend reconciled): other requests, on any replica, read them next (`Limiter.settle`, no
   await).
2. Its record is queued; it is built, written and counted a moment later, off the response's
   path (`RecordQueue`).
3. A successful answer the policy caches is stored in the background, and a Responses API
   answer's id remembered (`conversations.remember_soon`).
4. The error kept on the context lets go of its traceback (`tracebacks.forget_tracebacks`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable

from starlette.types import Message, Send

from gateway.observability.cost import cost_usd
from gateway.pipeline.cache import storable, store_answer
from gateway.pipeline.context import RequestContext
from gateway.pipeline.conversations import remember_soon
from gateway.pipeline.record import reported_usage, request_usage
from gateway.pipeline.services import Services
from gateway.providers import Usage
from gateway.tracebacks import forget_tracebacks

log = logging.getLogger("gateway")


def finish_request(ctx: RequestContext, services: Services) -> None:
    """Settle, queue the record, store the answer; never raises."""
    if ctx.error is not None:
        forget_tracebacks(ctx.error)
    try:
        ended = time.monotonic()
        usage = request_usage(ctx)
        cost = 0.0
        try:
            held = ctx.limits_held
            if held is not None and held.settled_cost is not None:
                cost = held.settled_cost  # priced before the last byte, from this same usage
            else:
                cost = request_cost(ctx, usage)
            services.limiter.settle(
                ctx.limits_held,
                usage.prompt_tokens + usage.completion_tokens if usage else 0,
                cost,
                ctx.key.spenders if ctx.key else (),
            )
        except Exception:  # the record is written whatever happens here
            log.exception("cannot settle request %s", ctx.request_id)
        services.records.add(ctx, ended, usage, cost)
        remember_soon(ctx, services)
        if storable(ctx):
            services.spawn(store_answer(ctx, services))
    except Exception:
        log.exception("cannot finish request %s", ctx.request_id)


def request_cost(ctx: RequestContext, usage: Usage | None) -> float:
    """What the request spent: its answer's price, and a semantic cache's embedding call (a
    semantic hit is not free). Budgets settle it and the record's `cost_usd` is it."""
    cost = cost_usd(usage, ctx.exchange.deployment) if usage is not None else 0.0
    if ctx.semantic is not None and ctx.semantic.embedding_cost_usd:
        cost = round(cost + ctx.semantic.embedding_cost_usd, 10)
    return cost


def free_slots_before_last_byte(ctx: RequestContext, services: Services, send: Send) -> Send:
    """`send`, freeing the request's concurrency slots just before the message that ends the
    answer; `send` itself when the request holds no slot. When the upstream has reported the
    usage by then (nearly always), the whole settlement goes in that one write
    (`Limiter.settle_before_last_byte`: tokens and spend too, one state write instead of two);
    else only the slots are freed (`Limiter.free_slots`) and `finish_request` settles the rest."""
    held = ctx.limits_held
    if held is None or not held.holds_slots:
        return send
    limiter = services.limiter

    # A plain function handing back `send`'s own awaitable: no coroutine of its own for each
    # message (a stream sends one per chunk), and the caller awaits it at once as before.
    def send_then_free(message: Message) -> Awaitable[None]:
        if message["type"] != "http.response.body" or message.get("more_body"):
            return send(message)  # not the answer's end
        usage = reported_usage(ctx)
        if usage is None:
            limiter.free_slots(held)
        else:
            limiter.settle_before_last_byte(
                held,
                usage.prompt_tokens + usage.completion_tokens,
                request_cost(ctx, usage),
                ctx.key.spenders if ctx.key else (),
            )
        return send(message)

    return send_then_free
