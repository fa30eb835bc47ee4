"""Every Prometheus metric the gateway exposes, declared in one place.

Request metrics are derived from the request record itself (`observe_record`), so what
`/metrics` says and what the log says cannot drift apart. Label values are bounded: model names
not in the config become `_unknown`, error kinds come from a fixed vocabulary.

With `--workers N` the CLI points `PROMETHEUS_MULTIPROC_DIR` at a fresh directory and every
worker writes its values there; `/metrics` in any worker aggregates all of them.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Collection
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0)
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
UNKNOWN = "_unknown"
NONE = "none"
OTHER = "other"
# Session ids remembered per process to count each once (least recently seen forgotten first).
SESSIONS_REMEMBERED = 100_000


def amount(value: Any) -> float:
    """A value a counter may add: a finite number >= 0, else 0 (a counter raises on negatives,
    and a record's numbers may come from an upstream)."""
    if type(value) not in (int, float) or not 0 <= value < math.inf:
        return 0.0
    return float(value)


def multiprocess_enabled() -> bool:
    return bool(os.environ.get(MULTIPROC_ENV))


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        r = self.registry
        self.requests = Counter(
            "gateway_requests",
            "Requests answered, by model, deployment, HTTP status and cache result",
            ["model", "deployment", "status", "cache"],
            registry=r,
        )
        self.request_duration = Histogram(
            "gateway_request_duration_seconds",
            "Arrival to last byte sent",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.ttft = Histogram(
            "gateway_time_to_first_token_seconds",
            "Streams: arrival to first answer byte sent",
            ["model"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream_duration = Histogram(
            "gateway_upstream_duration_seconds",
            "One upstream attempt, start to last byte",
            ["deployment"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.overhead = Histogram(
            "gateway_overhead_seconds",
            "Time the gateway adds: total minus upstream time",
            buckets=OVERHEAD_BUCKETS,
            registry=r,
        )
        self.tokens = Counter(
            "gateway_tokens",
            "Tokens, by kind = prompt | completion",
            ["model", "deployment", "kind"],
            registry=r,
        )
        self.cost = Counter(
            "gateway_cost_usd", "Spend in USD", ["model", "deployment", "team"], registry=r
        )
        self.cache_events = Counter(
            "gateway_cache_events", "Cache lookups by result", ["result"], registry=r
        )
        self.ratelimit_rejections = Counter(
            "gateway_ratelimit_rejections",
            "Requests refused by a limit or budget",
            ["scope"],
            registry=r,
        )
        self.guardrail_actions = Counter(
            "gateway_guardrail_actions",
            "Guardrail findings acted on",
            ["guardrail", "stage", "action"],
            registry=r,
        )
        self.fallbacks = Counter(
            "gateway_fallbacks",
            "Requests answered by a fallback model",
            ["from_model", "to_model"],
            registry=r,
        )
        self.upstream_errors = Counter(
            "gateway_upstream_errors",
            "Failed upstream attempts",
            ["deployment", "kind"],
            registry=r,
        )
        self.deployment_up = Gauge(
            "gateway_deployment_up",
            "1 when the deployment takes traffic, 0 while its breaker is open",
            ["deployment"],
            multiprocess_mode="livemin",
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
        self.trace_spans_dropped = Counter(
            "gateway_trace_spans_dropped",
            "Spans not exported, by reason = queue_full | export_failed",
            ["reason"],
            registry=r,
        )
        # Budgets per key and team, read from the state backend at scrape time (budgets.py).
        self.budget_spend = Gauge(
            "gateway_budget_spend_usd",
            "Spend counted against a budget, by scope = key | team and period = day | month",
            ["scope", "subject", "period"],
            multiprocess_mode="livemax",
            registry=r,
        )
        self.budget_remaining = Gauge(
            "gateway_budget_remaining_usd",
            "What is left of a budget, by scope = key | team and period = day | month",
            ["scope", "subject", "period"],
            multiprocess_mode="livemin",
            registry=r,
        )
        # Requests that carried a session id (x-gateway-session-id), for cost per session.
        self.session_cost = Counter(
            "gateway_session_cost_usd",
            "Spend in USD of requests that carried a session id",
            ["model"],
            registry=r,
        )
        self.sessions = Counter(
            "gateway_sessions",
            "Session ids seen for the first time by this process",
            ["model"],
            registry=r,
        )
        self._sessions_seen: OrderedDict[str, None] = OrderedDict()
        # Requests by the tags `[metrics] tag_labels` lists (values capped: `tag_value`).
        self.tag_requests = Counter(
            "gateway_tag_requests",
            "Requests by a tag listed in [metrics] tag_labels",
            ["tag", "value", "status"],
            registry=r,
        )
        self.tag_cost = Counter(
            "gateway_tag_cost_usd",
            "Spend in USD by a tag listed in [metrics] tag_labels",
            ["tag", "value"],
            registry=r,
        )
        self.tag_tokens = Counter(
            "gateway_tag_tokens",
            "Tokens by a tag listed in [metrics] tag_labels, by kind = prompt | completion",
            ["tag", "value", "kind"],
            registry=r,
        )
        self._tag_values: dict[str, set[str]] = {}
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
        self.prompt_requests = Counter(
            "gateway_prompt_requests",
            "Requests that used a registered prompt",
            [*by_prompt, "status"],
            registry=r,
        )
        self.prompt_duration = Histogram(
            "gateway_prompt_request_duration_seconds",
            "Request latency of requests that used a registered prompt",
            by_prompt,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.prompt_tokens = Counter(
            "gateway_prompt_tokens",
            "Tokens of requests that used a registered prompt, by kind = prompt | completion",
            [*by_prompt, "kind"],
            registry=r,
        )
        self.prompt_cost = Counter(
            "gateway_prompt_cost_usd",
            "Spend in USD of requests that used a registered prompt",
            by_prompt,
            registry=r,
        )

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

    def observe_record(
        self,
        record: dict[str, Any],
        known_models: Collection[str],
        tag_labels: Collection[str] = (),
        tag_values_max: int = 0,
    ) -> None:
        """Count one finished request from its record (`tag_labels`: the tags that are labels,
        each with at most `tag_values_max` values before the rest count as `other`)."""
        requested = record.get("model")
        model = str(requested) if requested in known_models else UNKNOWN
        deployment = record.get("deployment") or NONE
        cache = record.get("cache") or "bypass"
        self.child(self.requests, model, deployment, str(record["status"]), cache).inc()
        latency_ms = record.get("latency_ms")
        if latency_ms is not None:
            self.child(self.request_duration, model).observe(latency_ms / 1000)
        ttft_ms = record.get("ttft_ms")
        if ttft_ms is not None:
            self.child(self.ttft, model).observe(ttft_ms / 1000)
        attempts = record.get("attempts") or ()
        if record.get("fallback_used") and attempts:
            self.child(self.fallbacks, model, attempts[-1]["model"]).inc()
        upstream_ms = 0.0
        for attempt in attempts:
            upstream_ms += attempt["duration_ms"]
            self.child(self.upstream_duration, attempt["deployment"]).observe(
                attempt["duration_ms"] / 1000
            )
            if attempt.get("error"):
                self.child(self.upstream_errors, attempt["deployment"], attempt["error"]).inc()
        if latency_ms is not None:
            self.overhead.observe(max(0.0, latency_ms - upstream_ms) / 1000)
        prompt, completion = (
            amount(record.get("prompt_tokens")),
            amount(record.get("completion_tokens")),
        )
        if prompt:
            self.child(self.tokens, model, deployment, "prompt").inc(prompt)
        if completion:
            self.child(self.tokens, model, deployment, "completion").inc(completion)
        cost = amount(record.get("cost_usd"))
        if cost:
            self.child(self.cost, model, deployment, record.get("team") or NONE).inc(cost)
        for finding in record.get("guardrails") or ():
            self.child(
                self.guardrail_actions, finding["name"], finding["stage"], finding["action"]
            ).inc()
        if cache in ("hit", "miss"):
            self.child(self.cache_events, cache).inc()
        if record.get("prompt_id"):
            self._observe_prompt(record)
        session = record.get("session_id")
        if session:
            self._observe_session(model, str(session), record.get("cost_usd") or 0.0)
        tags = record.get("tags")
        if tag_labels and tags:
            for tag in tag_labels:
                if tag in tags:
                    self._observe_tag(record, tag, self.tag_value(tag, tags[tag], tag_values_max))

    def _observe_session(self, model: str, session: str, cost: float) -> None:
        if cost:
            self.child(self.session_cost, model).inc(cost)
        seen = self._sessions_seen
        if session in seen:
            seen.move_to_end(session)
            return
        seen[session] = None
        if len(seen) > SESSIONS_REMEMBERED:
            seen.popitem(last=False)
        self.child(self.sessions, model).inc()

    def tag_value(self, tag: str, value: str, most: int) -> str:
        """`value` as a label: the first `most` values seen per tag (per process), then
        `other`, so a tag with unbounded values cannot grow the series without bound."""
        seen = self._tag_values.setdefault(tag, set())
        if value in seen:
            return value
        if len(seen) < most:
            seen.add(value)
            return value
        return OTHER

    def _observe_tag(self, record: dict[str, Any], tag: str, value: str) -> None:
        self.child(self.tag_requests, tag, value, str(record["status"])).inc()
        for kind in ("prompt", "completion"):
            if record.get(f"{kind}_tokens"):
                self.child(self.tag_tokens, tag, value, kind).inc(record[f"{kind}_tokens"])
        if record.get("cost_usd"):
            self.child(self.tag_cost, tag, value).inc(record["cost_usd"])

    def _observe_prompt(self, record: dict[str, Any]) -> None:
        labels = (str(record["prompt_id"]), str(record.get("prompt_version")))
        self.child(self.prompt_requests, *labels, str(record["status"])).inc()
        if record.get("latency_ms") is not None:
            self.child(self.prompt_duration, *labels).observe(record["latency_ms"] / 1000)
        for kind in ("prompt", "completion"):
            if record.get(f"{kind}_tokens"):
                self.child(self.prompt_tokens, *labels, kind).inc(record[f"{kind}_tokens"])
        if record.get("cost_usd"):
            self.child(self.prompt_cost, *labels).inc(record["cost_usd"])

    def render(self) -> bytes:
        if multiprocess_enabled():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)
