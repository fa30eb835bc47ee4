"""OpenTelemetry export of finished requests (the `otel` extra; on when `[tracing]` names an
endpoint).

Each request becomes one SERVER span (`<operation> <model>`, from arrival to the last byte) with
one CLIENT child per upstream attempt (`<operation> <upstream model>`, at its start offset, for
its duration), built from the request's record after the response has left, with the ids the
request carried (`trace_context`): so the `traceparent` each upstream saw names its attempt's
span. Attributes follow the OpenTelemetry GenAI semantic conventions (`gen_ai.*`) plus the
gateway's own (`gateway.*`); prompt and answer text only with `capture_content = true`. A
route that is not a GenAI operation (`/v1/models`, stored responses, the token count, the 404)
is an HTTP span instead (`http_spans`), and so is any request of a kind `_OPERATIONS` does not
name: a request that generated nothing is never traced as a chat.

Spans wait in a bounded queue that one background thread exports in batches over OTLP (HTTP or
gRPC, the SDK's exporters). The request path never waits on it: a full queue drops the new
spans, a failed export drops its batch, and both count in `gateway_trace_spans_dropped_total`.
Captured text is scrubbed of secrets as the records' bodies are (`body_scrub`, with the secrets
of the config the request ran under), then, with `[logging] redact_pii_in_logs`, redacted as
the records are (`redact`): in the export thread, which builds such a span when it takes it
from the queue, so neither runs on the event loop.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcExporter,
)
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import SpanContext, SpanKind
from opentelemetry.trace.status import Status, StatusCode

from gateway.config.types import TracingConfig
from gateway.observability.body_scrub import scrub_json
from gateway.observability.http_spans import http_spans
from gateway.observability.metrics import Metrics
from gateway.observability.span_basics import (
    SAMPLED,
    SPAN_BYTES,
    AttributeValue,
    client_parent,
    ns,
    optional,
)
from gateway.observability.trace_context import (
    CapturedContent,
    TraceIds,
    new_ids,
    parent_sampled,
)

log = logging.getLogger("gateway.tracing")
BATCH = 512
FLUSH_EVERY_S = 1.0
# A batch stays under what collectors accept (gRPC's default receive limit is 4 MiB): spans that
# carry content (`capture_content`) are batched by their size, not only by their number.
MAX_BATCH_BYTES = 3 * 1024 * 1024
# Each captured text keeps at most this many bytes (UTF-8), so one span always fits a batch.
MAX_CONTENT_BYTES = 512 * 1024
# The GenAI operation of each endpoint kind that generates (`count_tokens` does not).
_OPERATIONS = {
    "chat": "chat",
    "messages": "chat",
    "responses": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
}
# The longest client-written name (a model nobody configured) a span keeps: one client's 1 MB
# `model` would else make a batch the collector refuses, dropping every other request's spans.
MAX_NAME_CHARS = 256
# A span, or what builds it in the export thread (a span whose captured text is scrubbed
# and redacted there).
Pending = ReadableSpan | Callable[[], ReadableSpan]

# The GenAI conventions' detailed token usage, from the record's counts (set when not zero;
# each is part of the input or output count beside it).
_DETAILED_USAGE = (
    ("gen_ai.usage.cache_read.input_tokens", "cached_tokens"),
    ("gen_ai.usage.cache_creation.input_tokens", "cache_write_tokens"),
    ("gen_ai.usage.reasoning.output_tokens", "reasoning_tokens"),
)


class SpanQueue:
    """The bounded queue and the thread that exports it."""

    def __init__(self, exporter: SpanExporter, size: int, metrics: Metrics) -> None:
        self.exporter = exporter
        self.size = size
        self.metrics = metrics
        self._spans: deque[tuple[Pending, int]] = deque()  # with its size estimate
        self._bytes = 0
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="trace-export", daemon=True)
        self._thread.start()

    def put(self, spans: Sequence[tuple[Pending, int]]) -> None:
        """Queue `spans`, each with the bytes it is estimated to take in an export."""
        with self._wake:
            room = self.size - len(self._spans)
            if room < len(spans):
                self.metrics.trace_spans_dropped.labels("queue_full").inc(len(spans) - room)
                spans = spans[: max(0, room)]
            self._spans.extend(spans)
            self._bytes += sum(size for _, size in spans)
            if len(self._spans) >= BATCH or self._bytes >= MAX_BATCH_BYTES:
                self._wake.notify()

    def _run(self) -> None:
        while True:
            with self._wake:
                if not self._stopped and len(self._spans) < BATCH and self._bytes < MAX_BATCH_BYTES:
                    self._wake.wait(FLUSH_EVERY_S)
                batch = self._next_batch()
                stopped = self._stopped
            if batch:  # built here, out of the lock: `put` never waits on a redaction
                self._export([span if isinstance(span, ReadableSpan) else span() for span in batch])
            if stopped and not self._spans:
                return

    def _next_batch(self) -> list[Pending]:
        """Up to BATCH spans and MAX_BATCH_BYTES (at least one span); the caller holds the lock."""
        batch: list[Pending] = []
        total = 0
        while self._spans and len(batch) < BATCH:
            size = self._spans[0][1]
            if batch and total + size > MAX_BATCH_BYTES:
                break
            batch.append(self._spans.popleft()[0])
            total += size
        self._bytes -= total
        return batch

    def _export(self, batch: list[ReadableSpan]) -> None:
        try:
            result = self.exporter.export(batch)
        except Exception as exc:  # an exporter bug or a transport error: drop, count, go on
            log.warning("trace export failed: %s", exc)
            result = SpanExportResult.FAILURE
        if result is not SpanExportResult.SUCCESS:
            self.metrics.trace_spans_dropped.labels("export_failed").inc(len(batch))

    def shutdown(self, timeout_s: float = 5.0) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()
        self._thread.join(timeout_s)
        self.exporter.shutdown()


class OtlpTracer:
    """`trace_context.RequestTracer` over the OpenTelemetry SDK's OTLP exporters."""

    def __init__(
        self,
        config: TracingConfig,
        metrics: Metrics,
        exporter: SpanExporter | None = None,
        redact: Callable[[Any], Any] | None = None,
    ) -> None:
        """`exporter`: the OTLP exporter `config` asks for, unless one is given (tests).
        `redact`: a JSON value with its PII redacted (`LogRedactor.value`), for captured text."""
        assert config.endpoint is not None  # built only when tracing is configured
        self.config = config
        self.redact = redact
        self.rng = random.Random()
        self.resource = Resource.create({"service.name": config.service_name})
        self.queue = SpanQueue(exporter or otlp_exporter(config), config.queue_size, metrics)

    def start(self, headers: Mapping[str, str]) -> TraceIds | None:
        # A client's traceparent decides, as OpenTelemetry's parent-based sampler does: its
        # unsampled trace (flags 00) is not recorded here either, its sampled one always is;
        # `sample_ratio` decides for the requests that start their trace here.
        decided = parent_sampled(headers.get("traceparent"))
        if decided is False:
            return None
        if (
            decided is None
            and self.config.sample_ratio < 1.0
            and self.rng.random() >= self.config.sample_ratio
        ):
            return None
        return new_ids(headers, self.rng)

    def export(
        self,
        record: Mapping[str, Any],
        ids: TraceIds,
        attempt_span_ids: Sequence[int | None],
        content: CapturedContent | None,
    ) -> None:
        operation = _OPERATIONS.get(str(record.get("endpoint_kind")))
        if record.get("http_method") is not None or operation is None:
            # Not a GenAI operation: HTTP spans.
            self.queue.put(http_spans(record, ids, attempt_span_ids, self.resource))
            return
        spans: list[tuple[Pending, int]]
        if content is not None:
            redact = self.redact
            request, answer, secrets = content

            def server() -> ReadableSpan:  # in the export thread: secrets out, then PII
                sent, answered = scrub_json(request, secrets), scrub_json(answer, secrets)
                if redact is not None:
                    sent, answered = redact(sent), redact(answered)
                captured = (_captured(sent), _captured(answered))
                return self._server_span(record, ids, operation, captured)

            # A scrubbed or redacted text is at most about twice its JSON (`<IP_ADDRESS>` for
            # `1.1.1.1`, `api-key=****` for `api-key=1`).
            size = sum(
                min(2 * len(orjson.dumps(v)), MAX_CONTENT_BYTES + 64) for v in (request, answer)
            )
            spans = [(server, SPAN_BYTES + size)]
        else:
            spans = [(self._server_span(record, ids, operation, None), SPAN_BYTES)]
        start_ns = ns(record.get("ts"))
        attempts = record.get("attempts") or []
        targets = record.get("attempt_targets") or []
        for number, (attempt, span_id) in enumerate(zip(attempts, attempt_span_ids), 1):
            if span_id is not None:
                target = targets[number - 1] if number <= len(targets) else None
                span = self._attempt_span(
                    ids, operation, attempt, target, span_id, number, start_ns
                )
                spans.append((span, SPAN_BYTES))
        self.queue.put(spans)

    def shutdown(self) -> None:
        self.queue.shutdown()

    def _server_span(
        self,
        record: Mapping[str, Any],
        ids: TraceIds,
        operation: str,
        content: tuple[str, str] | None,
    ) -> ReadableSpan:
        start = ns(record.get("ts"))
        end = start + int((record.get("latency_ms") or 0) * 1e6)
        model = str(record.get("model"))[:MAX_NAME_CHARS]
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": int(record.get("prompt_tokens") or 0),
            "gen_ai.usage.output_tokens": int(record.get("completion_tokens") or 0),
            "http.request.method": "POST",
            "url.path": str(record.get("endpoint")),
            "http.response.status_code": int(record.get("status") or 0),
            "gateway.request_id": str(record.get("id")),
            "gateway.attempts": len(record.get("attempts") or []),
            "gateway.fallback_used": bool(record.get("fallback_used")),
            "gateway.cache": str(record.get("cache")),
            "gateway.cost_usd": float(record.get("cost_usd") or 0.0),
            "gateway.overhead_ms": float(record.get("overhead_ms") or 0.0),
        }
        for name, field in _DETAILED_USAGE:
            count = record.get(field)
            if isinstance(count, int) and count > 0:
                attributes[name] = count
        optional(attributes, record, "gen_ai.response.model", "response_model")
        optional(attributes, record, "gen_ai.provider.name", "provider_type")
        optional(attributes, record, "gateway.deployment", "deployment")
        optional(attributes, record, "gateway.key_id", "key_id")
        optional(attributes, record, "gateway.error_type", "error_type")
        if record.get("finish_reason"):
            attributes["gen_ai.response.finish_reasons"] = [str(record["finish_reason"])]
        if record.get("status") == 429:
            attributes["gateway.limit_decision"] = "refused"
        verdicts = [
            f"{g['name']}:{g['stage']}:{g['action']}" for g in record.get("guardrails") or ()
        ]
        if verdicts:
            attributes["gateway.guardrails"] = verdicts
        if content is not None:
            attributes["gen_ai.input.messages"] = content[0]
            attributes["gen_ai.output.messages"] = content[1]
        parent = client_parent(ids)
        # A span name stays low-cardinality (trace backends index them): a model the config
        # does not name (any string a client sends) leaves the name `<operation>`, as the
        # GenAI conventions name a span whose model is unknown.
        return ReadableSpan(
            name=f"{operation} {model}" if record.get("model_configured", True) else operation,
            context=SpanContext(ids.trace_id, ids.span_id, False, SAMPLED),
            parent=parent,
            resource=self.resource,
            attributes=attributes,
            kind=SpanKind.SERVER,
            status=_status(int(record.get("status") or 0), record.get("error_type")),
            start_time=start,
            end_time=end,
        )

    def _attempt_span(
        self,
        ids: TraceIds,
        operation: str,
        attempt: Mapping[str, Any],
        target: Sequence[str] | None,
        span_id: int,
        number: int,
        request_start_ns: int,
    ) -> ReadableSpan:
        """`target`: (provider type, upstream model) the attempt called, when known (the
        deployment may have left the config by a reload)."""
        start = request_start_ns + int(float(attempt.get("start_ms") or 0) * 1e6)
        end = start + int(float(attempt.get("duration_ms") or 0) * 1e6)
        attributes: dict[str, AttributeValue] = {
            "gen_ai.operation.name": operation,
            "gen_ai.request.model": str(target[1] if target else attempt.get("model")),
            "gateway.model": str(attempt.get("model")),
            "gateway.deployment": str(attempt.get("deployment")),
            "gateway.attempt": number,
        }
        if target:
            attributes["gen_ai.provider.name"] = str(target[0])
        if attempt.get("status") is not None:
            attributes["http.response.status_code"] = int(attempt["status"])
        if attempt.get("error"):
            attributes["error.type"] = str(attempt["error"])
        failed = bool(attempt.get("error"))
        return ReadableSpan(
            name=f"{operation} {attempt.get('deployment')}",
            context=SpanContext(ids.trace_id, span_id, False, SAMPLED),
            parent=SpanContext(ids.trace_id, ids.span_id, False, SAMPLED),
            resource=self.resource,
            attributes=attributes,
            kind=SpanKind.CLIENT,
            status=Status(StatusCode.ERROR, str(attempt["error"])) if failed else Status(),
            start_time=start,
            end_time=end,
        )


def otlp_exporter(config: TracingConfig) -> SpanExporter:
    """The SDK's OTLP exporter for `config.protocol` (`http://` on gRPC means no TLS)."""
    assert config.endpoint is not None
    if config.protocol == "grpc":
        return GrpcExporter(
            endpoint=config.endpoint,
            insecure=config.endpoint.startswith("http://"),
            timeout=config.export_timeout_s,
        )
    return HttpExporter(endpoint=config.endpoint, timeout=config.export_timeout_s)


def _captured(value: Any) -> str:
    """A captured body or answer as its span attribute: JSON, cut at MAX_CONTENT_BYTES (on a
    character boundary) and said so."""
    data = orjson.dumps(value)
    if len(data) <= MAX_CONTENT_BYTES:
        return data.decode()
    kept = data[:MAX_CONTENT_BYTES].decode("utf-8", "ignore")
    return f"{kept}...[{len(data) - MAX_CONTENT_BYTES} more bytes]"


def _status(status: int, error_type: Any) -> Status:
    if status >= 500 or (status == 200 and error_type):
        return Status(StatusCode.ERROR, str(error_type or status))
    return Status()
