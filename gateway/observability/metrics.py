"""Every Prometheus metric the gateway exposes, declared in one place (the gauges read from the
state backend at scrape time in state_gauges.py, built here).

Request metrics are derived from the request record itself (`observe_record`, counted by
`record_metrics.py` into the series declared here), so what `/metrics` says and what the log
says cannot drift apart. Label values are bounded: model names not in the config become
`_unknown`, error kinds come from a fixed vocabulary.

With `--workers N` the CLI points `PROMETHEUS_MULTIPROC_DIR` at a fresh directory and every
worker writes its values there; `/metrics` in any worker aggregates all of them (multiproc.py).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)

from gateway.observability.admin_counters import AdminCounters
from gateway.observability.multiproc import MULTIPROC_ENV
from gateway.observability.multiproc_scrape import scrape
from gateway.observability.record_metrics import RecordMetrics
from gateway.observability.request_series import (
    LibrarySeries,
    LocalSeries,
    SeriesFactory,
)
from gateway.observability.state_gauges import StateGauges
from gateway.observability.tag_labels import TagLabels

# Up to the longest request the default timeouts allow (600 s): a long stream's duration is
# in a bucket of its own, not only in +Inf, where histogram_quantile reads it as 120 s.
LATENCY_BUCKETS = (
    *(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0),
    *(120.0, 180.0, 300.0, 600.0),
)
OVERHEAD_BUCKETS = (
    0.0001,
    0.00025,
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics(RecordMetrics):
    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        redact_tag: Callable[[str], str] | None = None,
    ) -> None:
        """`redact_tag`: the request log's redaction of a tag value (`LogRedactor.text`) when
        the log is redacted (`[logging] redact_pii_in_logs`), applied to the tag labels too."""
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        # What every finished request adds to (request_series.py): kept in this process and
        # read at scrape time, except with --workers N (the library's multiprocess files).
        series: SeriesFactory = LibrarySeries(r) if multiprocess_enabled() else LocalSeries(r)
        self.requests = series.counter(
            "gateway_requests",
            "Requests answered, by model, deployment, HTTP status and cache result",
            ["model", "deployment", "status", "cache"],
        )
        self.request_duration = series.histogram(
            "gateway_request_duration_seconds",
            "Arrival to last byte sent",
            ["model"],
            LATENCY_BUCKETS,
        )
        self.ttft = series.histogram(
            "gateway_time_to_first_token_seconds",
            "Streams: arrival to first answer byte sent",
            ["model"],
            LATENCY_BUCKETS,
        )
        self.upstream_duration = series.histogram(
            "gateway_upstream_duration_seconds",
            "One upstream attempt, start to last byte",
            ["deployment"],
            LATENCY_BUCKETS,
        )
        self.overhead = series.histogram(
            "gateway_overhead_seconds",
            "Time the gateway adds: total minus upstream time",
            (),
            OVERHEAD_BUCKETS,
        )
        self.tokens = series.counter(
            "gateway_tokens",
            "Tokens, by kind = prompt | completion",
            ["model", "deployment", "kind"],
        )
        self.cost = series.counter(
            "gateway_cost_usd", "Spend in USD", ["model", "deployment", "team"]
        )
        self.cache_events = series.counter(
            "gateway_cache_events", "Cache lookups by result", ["result"]
        )
        self.ratelimit_rejections = Counter(
            "gateway_ratelimit_rejections",
            "Requests refused by a limit or budget",
            ["scope"],
            registry=r,
        )
        self.guardrail_actions = series.counter(
            "gateway_guardrail_actions",
            "Guardrail findings acted on",
            ["guardrail", "stage", "action"],
        )
        self.fallbacks = series.counter(
            "gateway_fallbacks", "Requests answered by a fallback model", ["from_model", "to_model"]
        )
        self.finish_reasons = series.counter(
            "gateway_finish_reasons",
            "Answers by why they ended, as the client was told",
            ["model", "reason"],
        )
        self.upstream_errors = series.counter(
            "gateway_upstream_errors", "Failed upstream attempts", ["deployment", "kind"]
        )
        self.deployment_up = Gauge(
            "gateway_deployment_up",
            "1 when the deployment takes traffic, 0 while its breaker is open",
            ["deployment"],
            multiprocess_mode="livemostrecent",  # read at scrape time (deployment_up.py)
            registry=r,
        )
        self.inflight = Gauge(
            "gateway_inflight_requests",
            "Requests being handled now",
            multiprocess_mode="livesum",
            registry=r,
        )
        self.state_errors = Counter(
            "gateway_state_errors",
            "Calls to the state backend (Redis) that failed, by kind = connection | timeout | "
            "down (refused at once while unreachable) | the error reply's code (oom, noauth, "
            "readonly, moved, ...; error_reply for others)",
            ["kind"],
            registry=r,
        )
        for kind in ("connection", "timeout", "down"):  # at 0 from the start: rate() works
            self.state_errors.labels(kind)
        self.record_errors = Counter(
            "gateway_record_errors",
            "Request records written with fields replaced (they could not be serialised)",
            registry=r,
        )
        self.config_reloads = Counter(
            "gateway_config_reloads",
            "Config reloads by result = ok | error",
            ["result"],
            registry=r,
        )
        for result in ("ok", "error"):  # at 0 from the start: increase() sees the first error
            self.config_reloads.labels(result)
        self.trace_spans_dropped = Counter(
            "gateway_trace_spans_dropped",
            "Spans not exported, by reason = queue_full | export_failed",
            ["reason"],
            registry=r,
        )
        # Read from the state backend at scrape time (budgets.py, state_size.py).
        self.state_gauges = StateGauges(r)
        self.admin = AdminCounters(r)  # /admin/* calls refused (gateway.http.admin)
        # Requests that carried a session id (x-gateway-session-id), for cost per session.
        self.session_cost = series.counter(
            "gateway_session_cost_usd",
            "Spend in USD of requests that carried a session id",
            ["model"],
        )
        self.sessions = series.counter(
            "gateway_sessions", "Session ids seen for the first time by this process", ["model"]
        )
        self._sessions_seen: OrderedDict[str, None] = OrderedDict()
        # Requests by the tags `[metrics] tag_labels` lists (values capped and redacted as the
        # record is: tag_labels.py).
        self.tag_requests = series.counter(
            "gateway_tag_requests",
            "Requests by a tag listed in [metrics] tag_labels",
            ["tag", "value", "status"],
        )
        self.tag_cost = series.counter(
            "gateway_tag_cost_usd",
            "Spend in USD by a tag listed in [metrics] tag_labels",
            ["tag", "value"],
        )
        self.tag_tokens = series.counter(
            "gateway_tag_tokens",
            "Tokens by a tag listed in [metrics] tag_labels, by kind = prompt | completion",
            ["tag", "value", "kind"],
        )
        self.tag_values = TagLabels(redact_tag)
        # Refused by the HTTP server itself (gateway/http/protocol.py), by a fixed reason.
        self.http_refusals = Counter(
            "gateway_http_refusals",
            "Requests the HTTP server refused: headers_too_large | header_timeout | "
            "body_timeout | invalid_http | max_connections",
            ["reason"],
            registry=r,
        )
        # Requests that used a registered prompt, by prompt and version (bounded by the
        # registry: only its prompts and versions can be used).
        by_prompt = ["prompt", "prompt_version"]
        self.prompt_requests = series.counter(
            "gateway_prompt_requests",
            "Requests that used a registered prompt",
            [*by_prompt, "status"],
        )
        self.prompt_duration = series.histogram(
            "gateway_prompt_request_duration_seconds",
            "Request latency of requests that used a registered prompt",
            by_prompt,
            LATENCY_BUCKETS,
        )
        self.prompt_tokens = series.counter(
            "gateway_prompt_tokens",
            "Tokens of requests that used a registered prompt, by kind = prompt | completion",
            [*by_prompt, "kind"],
        )
        self.prompt_cost = series.counter(
            "gateway_prompt_cost_usd",
            "Spend in USD of requests that used a registered prompt",
            by_prompt,
        )
        series.register()

    def state_error(self, kind: str) -> None:
        """Count one failed state call (`StateUnavailable.kind`)."""
        self.child(self.state_errors, kind).inc()

    def child(self, metric: Any, *labels: str) -> Any:
        """`metric.labels(*labels)`, memoised: prometheus-client's lookup costs microseconds."""
        key = (id(metric), labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def forget(self, metric: Any, *labels: str) -> None:
        """Drop `metric`'s series for `labels` (and its memoised child)."""
        self._children.pop((id(metric), labels), None)
        metric.remove(*labels)

    def render(self) -> bytes:
        if multiprocess_enabled():
            return scrape(os.environ[MULTIPROC_ENV])
        return generate_latest(self.registry)
