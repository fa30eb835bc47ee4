"""The routing stage, and the gateway's own completions (a moderation guardrail's question).

The router knows nothing of the request context: this stage says what it needs to know
(`route_request`) and takes the answer from the exchange it fills.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from gateway import tokens
from gateway.config.types import ModelConfig
from gateway.guardrails.base import GuardrailUnavailable
from gateway.guardrails.moderation import Complete
from gateway.observability.trace_context import upstream_trace
from gateway.pipeline.context import RequestContext
from gateway.pipeline.fallback_limits import admit_fallback
from gateway.pipeline.services import Services
from gateway.providers import EndpointKind
from gateway.routing.exchange import Exchange, RouteRequest


def route_request(ctx: RequestContext) -> RouteRequest:
    """What the router needs of this request (after the model is resolved)."""
    assert ctx.body is not None and ctx.model is not None
    held = ctx.limits_held
    return RouteRequest(
        runtime=ctx.runtime,
        kind=ctx.endpoint.kind,
        operation=ctx.endpoint.operation,
        body=ctx.body,
        model=ctx.model,
        stream=ctx.stream,
        key_id=ctx.key.id if ctx.key is not None else "",
        started=ctx.started,
        body_bytes=len(ctx.raw_body),
        prompt_tokens=ctx.prompt_estimate,
        anthropic_beta=ctx.headers.get("anthropic-beta"),
        request_id=ctx.request_id,
        breakers=held.breakers if held is not None else None,
        deployment=ctx.pinned_deployment,
        models=ctx.key.models if ctx.key is not None else None,
        trace=(
            upstream_trace(ctx.trace, ctx.headers)
            if ctx.trace is not None or "traceparent" in ctx.headers
            else None  # most requests: no trace context to pass on
        ),
    )


async def route_and_call(ctx: RequestContext, services: Services) -> None:
    """Pipeline stage: hand the request to the router (unless the cache already answered)."""
    if ctx.cache == "hit":
        return
    exchange = ctx.exchange
    request = route_request(ctx)
    if ctx.runtime.limit_plans.fallback_limits:  # a policy limits a model used as a fallback
        request.admit_fallback = admit_fallback(ctx, services.limiter)
    await services.router.route(request, exchange)
    ctx.response_body, ctx.response_json = exchange.body, exchange.json
    ctx.usage, ctx.stream_reply = exchange.usage, exchange.stream


async def internal_call(
    ctx: RequestContext,
    services: Services,
    kind: EndpointKind,
    body: dict[str, Any],
    model: ModelConfig,
    prompt_tokens: Callable[[], int],
) -> Exchange:
    """A call of `model` through the gateway's own routing on behalf of `ctx`'s key (same
    deployments, retries, fallbacks and breakers as client traffic); not recorded on its own."""
    request = RouteRequest(
        runtime=ctx.runtime,
        kind=kind,
        body=body,
        model=model,
        stream=False,
        key_id=ctx.key.id if ctx.key is not None else "",
        started=time.monotonic(),
        body_bytes=len(orjson.dumps(body)),
        prompt_tokens=prompt_tokens,
        request_id=ctx.request_id,
    )
    exchange = Exchange()
    await services.router.route(request, exchange)
    return exchange


def internal_completion(ctx: RequestContext, services: Services) -> Complete:
    """A chat completion asked through the gateway's own routing (`internal_call`)."""

    async def complete(body: dict[str, Any]) -> dict[str, Any] | None:
        name = body.get("model")
        model = ctx.runtime.config.models.get(name) if isinstance(name, str) else None
        if model is None:
            raise GuardrailUnavailable(f"moderation model '{name}' is not configured")

        def prompt_tokens() -> int:
            return tokens.count_messages(body.get("messages"), None)

        return (await internal_call(ctx, services, "chat", body, model, prompt_tokens)).json

    return complete
