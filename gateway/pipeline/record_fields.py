"""The fields of a request's record (schema: docs/request-log.md), built from its context once
it finished (`build_record`), and what the tracer exports of it (`trace_facts`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.observability.finish_reasons import USUAL_REASONS
from gateway.observability.trace_context import CapturedContent, TraceIds, record_trace_id
from gateway.pipeline.context import RequestContext
from gateway.pipeline.record_text import record_text
from gateway.prompts.apply import PromptUse, client_part
from gateway.providers import Usage, innermost
from gateway.providers.base import reports_finish
from gateway.routing.exchange import Attempt


def finish_reason(ctx: RequestContext) -> str | None:
    """Why the answer ended, as the upstream said it: OpenAI's `finish_reason`, Anthropic's
    `stop_reason`, a Responses `status`, in the client's format; for a stream, as its converter
    read it (`ReportsFinish`: OpenAI's and Anthropic's streams passed through, Anthropic's to an
    OpenAI client, Responses streams passed through or translated)."""
    data = ctx.response_json
    if isinstance(data, dict):
        choices = data.get("choices")
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            reason = choices[0].get("finish_reason")
        elif data.get("type") == "message":
            reason = data.get("stop_reason")
        else:
            reason = data.get("status") if data.get("object") == "response" else None
        return reason if isinstance(reason, str) else None
    if ctx.stream_reply is None:
        return None
    converter = innermost(ctx.stream_reply.converter)
    return converter.finish_reason if reports_finish(converter) else None


def _ms(start: float | None, end: float | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start) * 1000, 3)


def build_record(
    ctx: RequestContext, include_bodies: bool, finished: float, usage: Usage | None, cost: float
) -> dict[str, Any]:
    """`finished`: when the request ended (`time.monotonic()`); `usage`: `request_usage(ctx)`;
    `cost`: its price (`cost_usd`), computed once when the limits were settled."""
    key = ctx.key
    latency_ms = (finished - ctx.started) * 1000
    upstream_ms = 0.0
    for attempt in ctx.exchange.attempts:
        upstream_ms += attempt.duration_ms
    error = ctx.error
    # Text from a client or an upstream may quote a key (record_text.py says which fields).
    secrets = ctx.runtime.secrets
    scrub = secrets.scrub
    reason = finish_reason(ctx)
    if reason is not None and reason not in USUAL_REASONS:  # the usual ones skip the scrub
        reason = record_text(secrets, reason)
    record: dict[str, Any] = {
        "id": ctx.request_id,
        "ts": ctx.ts,
        "key_id": key.id if key else None,
        "team": key.team if key else None,
        "policy": key.policy if key else None,
        "model": ctx.model_name if ctx.model else record_text(secrets, ctx.model_name),
        "deployment": ctx.exchange.deployment.name if ctx.exchange.deployment else None,
        "provider": ctx.exchange.provider.name if ctx.exchange.provider else None,
        "endpoint": ctx.endpoint.path,
        "stream": ctx.stream,
        "status": ctx.status,
        "error_type": "client_closed"
        if ctx.client_closed
        else (scrub(error.kind) if error else None),
        "error_message": scrub(error.message) if error else None,
        "attempts": [_attempt_entry(a, scrub) for a in ctx.exchange.attempts],
        "fallback_used": ctx.exchange.fallback_used,
        "cache": ctx.cache,
        "prompt_tokens": usage.prompt_tokens if usage else 0,
        "completion_tokens": usage.completion_tokens if usage else 0,
        "cached_tokens": usage.cached_tokens if usage else 0,
        "cache_write_tokens": usage.cache_write_tokens if usage else 0,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens if usage else 0,
        # OpenAI's audio tokens, parts of prompt_tokens and completion_tokens priced apart.
        "audio_prompt_tokens": usage.audio_prompt_tokens if usage else 0,
        "audio_completion_tokens": usage.audio_completion_tokens if usage else 0,
        # Part of completion_tokens (and priced with them), as OpenAI reports it.
        "reasoning_tokens": usage.reasoning_tokens if usage else 0,
        # Billed per search, apart from the tokens (`web_search_cost_per_1k`).
        "web_searches": usage.web_searches if usage else 0,
        "service_tier": usage.service_tier if usage else None,
        "usage_estimated": bool(usage and not usage.reported),
        "cost_usd": cost,
        "latency_ms": round(latency_ms, 3),
        "response_start_ms": _ms(ctx.started, ctx.response_started),
        # What the gateway added: the latency minus the upstream attempts (x-gateway-overhead-ms
        # is the same sum when the response started).
        "overhead_ms": round(max(0.0, latency_ms - upstream_ms), 3),
        "guardrails_ms": round(ctx.guardrails_ms, 3),
        "limits_ms": round(ctx.limits_ms, 3),
        "finish_reason": reason,
        "ttft_ms": _ms(ctx.started, ctx.first_byte_sent) if ctx.stream else None,
        "upstream_latency_ms": _ms(ctx.exchange.started, ctx.exchange.finished),
        "upstream_request_id": ctx.exchange.upstream_request_id,
        "trace_id": record_trace_id(ctx.trace, ctx.headers),
        "guardrails": ctx.guardrails,
        "user": ctx.user and scrub(ctx.user),
        "tags": ctx.tags and secrets.scrub_items(ctx.tags),
        "session_id": ctx.session_id and scrub(ctx.session_id),
        **_prompt_fields(ctx.prompt, include_bodies),
    }
    if ctx.semantic is not None:
        ctx.semantic.add_to(record)
    if ctx.previous_secret:  # which clients still use a secret being rotated out
        record["key_secret"] = "previous"
    if ctx.exchange.fallbacks_skipped:
        record["fallbacks_skipped"] = list(ctx.exchange.fallbacks_skipped)
    if ctx.exchange.fallbacks_limited:
        record["fallbacks_limited"] = list(ctx.exchange.fallbacks_limited)
    if include_bodies:
        use = ctx.prompt
        body = ctx.body
        record["request"] = (
            body if use is None or body is None else client_part(body, ctx.endpoint.kind, use)
        )
        if ctx.stream_reply is not None:
            record["response"] = {"text": "".join(ctx.stream_reply.converter.text)}
        else:
            record["response"] = logged_answer(ctx)
    return record


def logged_answer(ctx: RequestContext) -> dict[str, Any] | None:
    """A JSON answer as records and traces keep it: an embeddings answer without its vectors
    (each `embedding` becomes `embedding_dimensions`), which take megabytes a batch and tell
    a reader nothing; any other answer as it is."""
    data = ctx.response_json
    if ctx.endpoint.kind != "embeddings" or data is None or type(data.get("data")) is not list:
        return data
    return {**data, "data": [_without_vector(item) for item in data["data"]]}


def _without_vector(item: object) -> object:
    if not isinstance(item, dict):
        return item
    vector = item.get("embedding")
    if isinstance(vector, list):
        dimensions = len(vector)
    elif isinstance(vector, str):  # base64 of little-endian float32s
        dimensions = (len(vector) * 3 // 4 - vector[-2:].count("=")) // 4
    else:
        return item
    kept = {name: value for name, value in item.items() if name != "embedding"}
    return {**kept, "embedding_dimensions": dimensions}


def _prompt_fields(use: PromptUse | None, include_bodies: bool) -> dict[str, Any]:
    if use is None:
        return _NO_PROMPT
    fields: dict[str, Any] = {
        "prompt_id": use.id,
        "prompt_version": use.version,
        "prompt_alias": use.alias,
        "prompt_hash": use.hash,
    }
    if include_bodies:
        fields["prompt_variables"] = dict(use.variables)
    return fields


_NO_PROMPT: dict[str, Any] = dict.fromkeys(
    ("prompt_id", "prompt_version", "prompt_alias", "prompt_hash")
)


def trace_facts(
    ctx: RequestContext, record: dict[str, Any]
) -> tuple[dict[str, Any], TraceIds, list[int | None], CapturedContent | None]:
    """What the tracer exports of a finished request: its record with the facts a span needs
    that the record leaves out (`http_method` and `http_route` on a route that is not a GenAI
    operation), its ids, its attempts' span ids, and its text when
    `capture_content` is on."""
    assert ctx.trace is not None
    facts = {
        **record,
        "endpoint_kind": ctx.endpoint.kind,
        "provider_type": ctx.exchange.provider.type if ctx.exchange.provider else None,
        "response_model": _response_model(ctx),
        "model_configured": record.get("model") in ctx.runtime.config.models,
        "attempt_targets": [
            _attempt_target(ctx, a.model, a.deployment) for a in ctx.exchange.attempts
        ],
    }
    http = ctx.endpoint.http
    if http is not None:  # not a GenAI operation: an HTTP span, named by these
        facts["http_method"], facts["http_route"] = http.method, http.template
    content = None
    if ctx.runtime.config.tracing.capture_content:
        answer: Any = logged_answer(ctx)
        if ctx.stream_reply is not None:
            answer = {"text": "".join(ctx.stream_reply.converter.text)}
        content = CapturedContent(ctx.body, answer, ctx.runtime.secrets)
    return facts, ctx.trace, [a.span_id for a in ctx.exchange.attempts], content


def _response_model(ctx: RequestContext) -> str | None:
    """The model the upstream says answered (scrubbed and bounded), else the deployment's."""
    answered = (ctx.response_json or {}).get("model")
    if isinstance(answered, str) and answered:
        return record_text(ctx.runtime.secrets, answered)
    return ctx.exchange.deployment.model if ctx.exchange.deployment else None


def _attempt_entry(attempt: Attempt, scrub: Callable[[str], str]) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "deployment": attempt.deployment,
        "model": attempt.model,
        "status": attempt.status,
        "error": attempt.error_kind and scrub(attempt.error_kind),
        "start_ms": round(attempt.start_ms, 3),
        "duration_ms": round(attempt.duration_ms, 3),
    }
    if attempt.continuation_error is not None:  # a paused turn's continuation failed
        entry["continuation_error"] = scrub(attempt.continuation_error)
    return entry


def _attempt_target(ctx: RequestContext, model: str, deployment: str) -> tuple[str, str] | None:
    """(provider type, upstream model) an attempt called: its client span's `gen_ai.*` (the
    model the provider was asked for, not the gateway's name for it)."""
    config = ctx.runtime.config
    found = config.models.get(model)
    for candidate in found.deployments if found is not None else ():
        if candidate.name == deployment:
            provider = config.providers.get(candidate.provider)
            return (provider.type if provider else candidate.provider, candidate.model)
    return None
