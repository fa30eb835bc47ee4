"""The one record every request leaves (schema: docs/request-log.md), and when it is written;
the usage it is counted with (reported by the upstream, else estimated). Its fields are built
in `record_fields.py`.

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
from gateway.observability.trace_context import RequestTracer
from gateway.pipeline.context import RequestContext
from gateway.pipeline.record_fallback import fallback_record
from gateway.pipeline.record_fields import build_record, trace_facts
from gateway.providers import StreamConverter, Usage, innermost
from gateway.providers.base import WritesText

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
