"""The span exporter side: spans built from a record (content only when asked), the bounded
queue that drops and counts, and the OTLP exporter each protocol gets."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from gateway.app import create_app
from gateway.config.load import load_config
from gateway.config.types import TracingConfig
from gateway.observability.metrics import Metrics
from gateway.observability.recorder import MemorySink
from gateway.observability.redact import LogRedactor
from gateway.observability.span_basics import SPAN_BYTES
from gateway.observability.trace_context import CapturedContent, TraceIds
from gateway.observability.tracing import (
    MAX_BATCH_BYTES,
    MAX_CONTENT_BYTES,
    OtlpTracer,
    otlp_exporter,
)
from gateway.scrub import NO_SECRETS, Secrets
from tests.leaks import recoverable
from tests.mock_config import MOCK_MODEL

TS = 1_767_225_600.0
RECORD = {
    "id": "req_1",
    "ts": TS,
    "model": "gpt",
    "endpoint": "/v1/chat/completions",
    "endpoint_kind": "chat",
    "status": 200,
    "latency_ms": 12.5,
    "prompt_tokens": 7,
    "completion_tokens": 3,
    "attempts": [{"deployment": "p/m", "model": "gpt", "start_ms": 1.0, "duration_ms": 10.0}],
    "finish_reason": "stop",
    "guardrails": [{"name": "pii", "stage": "input", "action": "redact", "entities": []}],
}


class Held(SpanExporter):
    """Keeps what it is given; blocks its first export until released (a slow collector)."""

    def __init__(self) -> None:
        self.spans: list[ReadableSpan] = []
        self.release = threading.Event()
        self.exported = threading.Event()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.release.wait(5)
        self.spans.extend(spans)
        self.exported.set()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self.release.set()


def tracer(exporter: SpanExporter, **settings: object) -> tuple[OtlpTracer, Metrics]:
    metrics = Metrics()
    config = TracingConfig(endpoint="http://127.0.0.1:9/v1/traces", **settings)  # type: ignore[arg-type]
    return OtlpTracer(config, metrics, exporter), metrics


def test_content_only_when_asked_and_the_verdicts_always() -> None:
    held = Held()
    held.release.set()
    traced, _ = tracer(held)
    ids = TraceIds(5, 6, None)
    traced.export(
        RECORD, ids, [7], CapturedContent({"messages": ["hi"]}, {"text": "yo"}, NO_SECRETS)
    )
    traced.export(RECORD, ids, [8], None)
    traced.shutdown()
    servers = [s for s in held.spans if s.parent is None]
    assert len(servers) == 2 and len(held.spans) == 4
    with_content = [s for s in servers if "gen_ai.input.messages" in (s.attributes or {})]
    assert len(with_content) == 1
    attributes = servers[0].attributes
    assert attributes is not None
    guardrails = attributes["gateway.guardrails"]
    assert isinstance(guardrails, Sequence) and list(guardrails) == ["pii:input:redact"]
    child = next(s for s in held.spans if s.parent is not None)
    assert child.parent is not None and child.parent.span_id == 6
    assert child.start_time == int(TS * 1e9) + 1_000_000


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    held = Held()  # the first export waits: the queue fills behind it
    traced, metrics = tracer(held, queue_size=4)
    for span_id in range(1, 10):
        traced.export(RECORD, TraceIds(1, span_id + 100, None), [span_id], None)
    dropped = metrics.registry.get_sample_value(
        "gateway_trace_spans_dropped_total", {"reason": "queue_full"}
    )
    assert dropped is not None and dropped >= 9 * 2 - 4 - 2  # what the queue could not hold
    held.release.set()  # the collector answers: the shutdown's join need not wait it out (5 s)
    traced.shutdown()


class Batches(SpanExporter):
    """Keeps each export's batch."""

    def __init__(self) -> None:
        self.batches: list[Sequence[ReadableSpan]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.batches.append(spans)
        return SpanExportResult.SUCCESS


def _encoded_bytes(span: ReadableSpan) -> int:
    return sum(len(str(v).encode()) for v in (span.attributes or {}).values()) + SPAN_BYTES


def test_captured_content_is_bounded_and_batches_stay_under_what_collectors_accept() -> None:
    # 2 MB prompts: a 512-span batch of them would be refused whole by a collector (4 MiB is
    # gRPC's default), losing every request's spans, not only the big ones.
    batches = Batches()
    traced, _ = tracer(batches)
    prompt = {"messages": [{"role": "user", "content": "é" * 1_000_000}]}
    for span_id in range(1, 13):
        traced.export(
            RECORD,
            TraceIds(1, span_id + 100, None),
            [span_id],
            CapturedContent(prompt, {"text": "ok"}, NO_SECRETS),
        )
    traced.shutdown()
    spans = [s for batch in batches.batches for s in batch]
    assert len(spans) == 24 and len(batches.batches) > 1
    for batch in batches.batches:
        assert sum(_encoded_bytes(s) for s in batch) <= MAX_BATCH_BYTES
    captured = next(s for s in spans if s.parent is None).attributes
    assert captured is not None
    text = str(captured["gen_ai.input.messages"])
    assert len(text.encode()) <= MAX_CONTENT_BYTES + 64 and text.endswith("more bytes]")
    assert captured["gen_ai.output.messages"] == '{"text":"ok"}'


def test_each_protocol_gets_its_otlp_exporter() -> None:
    http = otlp_exporter(TracingConfig(endpoint="http://127.0.0.1:9/v1/traces"))
    grpc = otlp_exporter(TracingConfig(endpoint="http://127.0.0.1:9", protocol="grpc"))
    assert isinstance(http, Http) and isinstance(grpc, Grpc)
    http.shutdown()  # type: ignore[no-untyped-call]  # unannotated in the exporter itself
    grpc.shutdown()


def test_the_clients_sampling_decision_is_kept() -> None:
    # An edge that samples 1 % sends the other 99 % with flags 00: recording them here would
    # export spans whose trace is otherwise absent, at 100 times the cost.
    held = Held()
    held.release.set()
    always, _ = tracer(held)
    never, _ = tracer(held, sample_ratio=0.0)
    trace, span = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    try:
        assert always.start({"traceparent": f"00-{trace}-{span}-00"}) is None
        sampled = never.start({"traceparent": f"00-{trace}-{span}-01"})
        assert sampled is not None and f"{sampled.trace_id:032x}" == trace
        assert never.start({}) is None and always.start({}) is not None
        assert always.start({"traceparent": "garbage"}) is not None  # a new trace, sampled here
    finally:
        always.shutdown()
        never.shutdown()


def test_captured_text_is_redacted_as_the_records_are_with_redact_pii_in_logs() -> None:
    held = Held()
    held.release.set()
    metrics = Metrics()
    config = TracingConfig(endpoint="http://127.0.0.1:9/v1/traces", capture_content=True)
    traced = OtlpTracer(config, metrics, held, redact=LogRedactor().value)
    prompt = {"messages": [{"role": "user", "content": "mail jane.doe@example.com"}]}
    traced.export(
        RECORD,
        TraceIds(5, 6, None),
        [7],
        CapturedContent(prompt, {"text": "call 212-555-0199"}, NO_SECRETS),
    )
    traced.shutdown()
    server = next(s for s in held.spans if s.parent is None)
    attributes = dict(server.attributes or {})
    captured = f"{attributes['gen_ai.input.messages']} {attributes['gen_ai.output.messages']}"
    assert "jane.doe@example.com" not in captured and "<EMAIL_ADDRESS>" in captured
    assert "212-555-0199" not in captured and "<PHONE_NUMBER>" in captured


def test_the_gateway_redacts_captured_text_when_it_redacts_its_records(tmp_path: Path) -> None:
    for redacting in ("true", "false"):
        path = tmp_path / f"config-{redacting}.toml"
        path.write_text(
            f"[logging]\nredact_pii_in_logs = {redacting}\n"
            '[tracing]\nendpoint = "http://127.0.0.1:9/v1/traces"\ncapture_content = true\n'
            + MOCK_MODEL
        )
        services = create_app(
            load_config(path, {}), recorder=MemorySink(), watch_config=False
        ).state.services
        built = services.tracer
        assert isinstance(built, OtlpTracer)
        assert (built.redact is not None) is (redacting == "true")
        # The records' redaction labels the tag series too.
        assert (services.metrics.tag_values.redact is not None) is (redacting == "true")
        built.shutdown()


def test_captured_text_is_scrubbed_of_secrets_then_redacted() -> None:
    key = "prov/key+9Qx7Lm2Zt4Wv"
    for redact in (None, LogRedactor().value):
        held = Held()
        held.release.set()
        config = TracingConfig(endpoint="http://127.0.0.1:9/v1/traces", capture_content=True)
        traced = OtlpTracer(config, Metrics(), held, redact=redact)
        prompt = {
            "messages": [{"role": "user", "content": [{"text": f"Bearer sk-abc12345678 {key}"}]}]
        }
        answer = {"text": json.dumps({"echo": key})}  # JSON-escaped: `prov\/key+...`
        traced.export(
            RECORD, TraceIds(5, 6, None), [7], CapturedContent(prompt, answer, Secrets([key]))
        )
        traced.shutdown()
        server = next(s for s in held.spans if s.parent is None)
        attributes = dict(server.attributes or {})
        captured = f"{attributes['gen_ai.input.messages']} {attributes['gen_ai.output.messages']}"
        assert not recoverable(captured, key) and "abc12345678" not in captured, captured
        assert "Bearer ****" in captured


def test_the_detailed_token_usage_is_on_the_server_span_when_reported() -> None:
    held = Held()
    held.release.set()
    traced, _ = tracer(held)
    detailed = {**RECORD, "cached_tokens": 4, "cache_write_tokens": 2, "reasoning_tokens": 1}
    traced.export(detailed, TraceIds(5, 6, None), [7], None)
    traced.export({**RECORD, "cached_tokens": 0}, TraceIds(5, 8, None), [9], None)
    traced.shutdown()
    reported, plain = [s.attributes or {} for s in held.spans if s.parent is None]
    assert reported["gen_ai.usage.cache_read.input_tokens"] == 4
    assert reported["gen_ai.usage.cache_creation.input_tokens"] == 2
    assert reported["gen_ai.usage.reasoning.output_tokens"] == 1
    assert not any(".cache_" in name or ".reasoning." in name for name in plain)
