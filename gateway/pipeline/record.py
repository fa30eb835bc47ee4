"""The one record every request leaves (schema: docs/request-log.md), and when it is written.

A request's record is built and written, and counted in the metrics, after its response: at
the next request's first await (`RecordQueue.write_soon`, called as a request starts, so the
work runs while that request waits on its first round trip), or at the latest
`RECORD_WITHIN_S` after the request ended, before /metrics answers, and at shutdown. It is
built with the config the request ran under, even if a reload happened since.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any

from gateway import tokens
from gateway.guardrails.bodies import output_groups
from gateway.observability.metrics import Metrics
from gateway.observability.recorder import RecordSink
from gateway.observability.trace_context import (
    CapturedContent,
    RequestTracer,
    TraceIds,
    record_trace_id,
)
from gateway.pipeline.context import RequestContext
from gateway.pipeline.record_fallback import fallback_record
from gateway.pipeline.record_text import USUAL_REASONS, record_text
from gateway.prompts.apply import PromptUse, client_part
from gateway.providers import StreamConverter, Usage, innermost
from gateway.providers.base import WritesText
from gateway.providers.openai_streams import OpenAIStreamPassthrough

log = logging.getLogger("gateway")
RECORD_WITHIN_S = 0.002


def reported_usage(ctx: RequestContext) -> Usage | None:
    """The usage the upstream reported (in its answer, or in its stream so far), if any; for a
    stream cut short, at least the tokens of the text relayed (`relayed_at_least`). An answer
    without `usage` (some compatible servers send none) reported nothing: its zeros are not
    counts."""
    if ctx.usage is not None:
        return ctx.usage if ctx.usage.reported else None
    if ctx.stream_reply is not None:
        converter = ctx.stream_reply.converter
        usage = converter.usage
        if usage is not None and (ctx.client_closed or ctx.error is not None):
            return relayed_at_least(usage, relayed_text(converter))
        return usage
    return None


def relayed_text(converter: StreamConverter) -> str:
    """What a stream's upstream wrote so far, for estimating its completion tokens: all of it
    when its converter can tell (`WritesText`: every choice, thinking and reasoning, tool-call
    arguments), else the answer's text deltas."""
    upstream = innermost(converter)
    if isinstance(upstream, WritesText):
        return upstream.written_text()
    return "".join(converter.text)


def relayed_at_least(usage: Usage, text: str) -> Usage:
    """A stream cut short may hold only the counts of its start (Anthropic's `message_start`
    says `output_tokens: 1`; the real count comes with `message_delta`, at the end): its
    completion is then the text relayed so far, estimated with tiktoken."""
    relayed = tokens.count_text(text)
    if relayed <= usage.completion_tokens:
        return usage
    return replace(usage, completion_tokens=relayed, reported=False)


def request_usage(ctx: RequestContext) -> Usage | None:
    """Upstream-reported usage, else a tiktoken estimate when a call was made."""
    reported = reported_usage(ctx)
    if reported is not None:
        return reported
    if ctx.cache == "hit":
        return ctx.usage  # what the stored answer was counted as: here an estimate
    if not ctx.exchange.attempts or ctx.body is None:
        return None
    prompt = ctx.prompt_estimate()
    completion = 0
    if ctx.stream_reply is not None:
        completion = tokens.count_text(relayed_text(ctx.stream_reply.converter))
    elif ctx.response_json is not None:
        completion = tokens.count_text(answer_text(ctx.response_json, ctx.endpoint.wire))
    return Usage(prompt_tokens=prompt, completion_tokens=completion, reported=False)


def answer_text(data: dict[str, Any], wire: str) -> str:
    """The text of a JSON answer (its messages and tool-call arguments), for estimating it."""
    return "".join(
        str(container[key])
        for group in output_groups(data, wire)
        for container, key in group
        if isinstance(container[key], str)
    )


def finish_reason(ctx: RequestContext) -> str | None:
    """Why the answer ended, as the upstream said it: OpenAI's `finish_reason`, Anthropic's
    `stop_reason`, a Responses `status`; for streams only when relayed in OpenAI's format."""
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
    return converter.finish_reason if isinstance(converter, OpenAIStreamPassthrough) else None


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
        "attempts": [
            {
                "deployment": a.deployment,
                "model": a.model,
                "status": a.status,
                "error": a.error_kind and scrub(a.error_kind),
                "start_ms": round(a.start_ms, 3),
                "duration_ms": round(a.duration_ms, 3),
            }
            for a in ctx.exchange.attempts
        ],
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


class RecordQueue:
    """Finished requests whose record is not written yet, and the writing of them."""

    def __init__(
        self, sink: RecordSink, metrics: Metrics, tracer: RequestTracer | None = None
    ) -> None:
        self.sink = sink
        self.metrics = metrics
        self.tracer = tracer
        # (context, when it ended, its usage, its cost) of each finished request not recorded.
        self._pending: list[tuple[RequestContext, float, Usage | None, float]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._soon = False

    def add(self, ctx: RequestContext, ended: float, usage: Usage | None, cost: float) -> None:
        """Queue the record of a finished request (written at once when no loop runs)."""
        self._pending.append((ctx, ended, usage, cost))
        if not ctx.runtime.config.logging.record_batch_ms:
            self.write_pending()  # `[logging] record_batch_ms = 0`: before anything else runs
            return
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.write_pending()
            return
        self._timer = loop.call_later(RECORD_WITHIN_S, self._due)

    def write_soon(self) -> None:
        """Write the pending records at the caller's next await."""
        if self._pending and not self._soon:
            self._soon = True
            asyncio.get_running_loop().call_soon(self.write_pending)

    def _due(self) -> None:
        # The timer is left to run out rather than cancelled by every drain: at most one timer
        # per RECORD_WITHIN_S instead of one created and cancelled per request.
        self._timer = None
        self.write_pending()

    def write_pending(self) -> None:
        """Write and count the records of the requests finished so far; never raises."""
        self._soon = False
        pending, self._pending = self._pending, []
        for ctx, ended, usage, cost in pending:
            # The bodies are scrubbed of the secrets of the config the request ran under (the
            # keys it sent upstream, which an upstream may echo), in the sink's writer thread.
            body_secrets = None
            try:
                include_bodies = ctx.runtime.config.logging.include_bodies
                record = build_record(ctx, include_bodies, ended, usage, cost)
                if include_bodies:
                    body_secrets = ctx.runtime.secrets
            except Exception:  # a record is never dropped: the fields that need no work
                log.exception("cannot build the record of request %s", ctx.request_id)
                record = fallback_record(ctx)
                self.metrics.record_errors.inc()
            try:
                self.sink.write(record, body_secrets)
            except Exception:
                log.exception("cannot write the record of request %s", ctx.request_id)
            try:
                config = ctx.runtime.config
                self.metrics.observe_record(
                    record, config.models, config.metrics.tag_labels, config.metrics.tag_values_max
                )
                if ctx.trace is not None and self.tracer is not None:
                    self.tracer.export(*trace_facts(ctx, record))
            except Exception:
                log.exception("cannot count request %s", ctx.request_id)

    def close(self) -> None:
        """Write what is pending and stop the timer (at shutdown)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.write_pending()
