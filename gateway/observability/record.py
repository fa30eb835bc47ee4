"""Build the one JSON record every request leaves (schema: docs/request-log.md)."""

from __future__ import annotations

from typing import Any

from gateway import tokens
from gateway.config.types import DeploymentConfig
from gateway.pipeline.context import RequestContext
from gateway.providers import Usage


def cost_usd(usage: Usage, deployment: DeploymentConfig | None) -> float:
    """Price of one call from the deployment's per-1M-token prices; cached input at its own rate."""
    if deployment is None:
        return 0.0
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_price = (
        deployment.cached_input_cost_per_1m
        if deployment.cached_input_cost_per_1m is not None
        else deployment.input_cost_per_1m
    )
    total = (
        (usage.prompt_tokens - cached) * deployment.input_cost_per_1m
        + cached * cached_price
        + usage.completion_tokens * deployment.output_cost_per_1m
    ) / 1_000_000
    return round(total, 10)


def request_usage(ctx: RequestContext) -> Usage | None:
    """Upstream-reported usage, else a tiktoken estimate when a call was made."""
    if ctx.usage is not None:
        return ctx.usage
    if ctx.stream_reply is not None and ctx.stream_reply.converter.usage is not None:
        return ctx.stream_reply.converter.usage
    if not ctx.attempts or ctx.body is None:
        return None
    prompt = tokens.count_messages(ctx.body.get("messages"), ctx.body.get("system"))
    completion = 0
    if ctx.stream_reply is not None:
        completion = tokens.count_text("".join(ctx.stream_reply.converter.text))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, reported=False)


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 3)


def build_record(
    ctx: RequestContext, include_bodies: bool, finished: float, usage: Usage | None
) -> dict[str, Any]:
    """`finished`: when the request ended (`time.monotonic()`); `usage`: `request_usage(ctx)`."""
    key = ctx.key
    error = ctx.error
    record: dict[str, Any] = {
        "id": ctx.request_id,
        "ts": ctx.ts,
        "key_id": key.id if key else None,
        "team": key.team if key else None,
        "policy": key.policy if key else None,
        "model": ctx.model_name,
        "deployment": ctx.deployment.name if ctx.deployment else None,
        "provider": ctx.provider.name if ctx.provider else None,
        "endpoint": ctx.endpoint.path,
        "stream": ctx.stream,
        "status": ctx.status,
        "error_type": "client_closed" if ctx.client_closed else (error.kind if error else None),
        "error_message": error.message if error else None,
        "attempts": [
            {
                "deployment": a.deployment,
                "model": a.model,
                "status": a.status,
                "error": a.error_kind,
                "start_ms": round(a.start_ms, 3),
                "duration_ms": round(a.duration_ms, 3),
            }
            for a in ctx.attempts
        ],
        "fallback_used": ctx.fallback_used,
        "cache": ctx.cache,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "cached_tokens": usage.cached_tokens if usage else 0,
        # Part of completion_tokens (and priced with them), as OpenAI reports it.
        "reasoning_tokens": usage.reasoning_tokens if usage else 0,
        "usage_estimated": bool(usage and not usage.reported),
        "cost_usd": cost_usd(usage, ctx.deployment) if usage else 0.0,
        "latency_ms": _ms(ctx.started, finished),
        "ttft_ms": _ms(ctx.started, ctx.first_byte_sent) if ctx.stream else None,
        "upstream_latency_ms": _ms(ctx.upstream_started, ctx.upstream_finished),
        "guardrails": ctx.guardrails,
    }
    if include_bodies:
        record["request"] = ctx.body
        if ctx.stream_reply is not None:
            record["response"] = {"text": "".join(ctx.stream_reply.converter.text)}
        else:
            record["response"] = ctx.response_json
    return record
