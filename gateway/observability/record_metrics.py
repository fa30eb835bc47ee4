"""The request metrics counted from a finished request's record (`observe_record`), so what
`/metrics` says and what the log says cannot drift apart; the series are declared with every
other metric in `Metrics.__init__` (metrics.py), which inherits this."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Collection
from typing import Any

from gateway.observability.error_kinds import error_kind_label
from gateway.observability.finish_reasons import finish_label
from gateway.observability.request_series import CounterSeries, HistogramSeries
from gateway.observability.tag_labels import TagLabels

UNKNOWN = "_unknown"
_INF = math.inf
NONE = "none"
CLIENT_CLOSED = "client_closed"  # an attempt cancelled as its client left: no upstream failure
# Session ids remembered per process to count each once (least recently seen forgotten first).
SESSIONS_REMEMBERED = 100_000


def amount(value: Any) -> float:
    """A value a counter may add: a finite number >= 0, else 0 (a counter raises on negatives,
    and a record's numbers may come from an upstream)."""
    kind = type(value)
    if (kind is float or kind is int) and 0 <= value < _INF:
        return float(value)
    return 0.0


class RecordMetrics:
    """Counts a finished request's record into the request series `Metrics` declares."""

    requests: CounterSeries
    request_duration: HistogramSeries
    ttft: HistogramSeries
    upstream_duration: HistogramSeries
    overhead: HistogramSeries
    tokens: CounterSeries
    cost: CounterSeries
    cache_events: CounterSeries
    guardrail_actions: CounterSeries
    fallbacks: CounterSeries
    finish_reasons: CounterSeries
    upstream_errors: CounterSeries
    session_cost: CounterSeries
    sessions: CounterSeries
    _sessions_seen: OrderedDict[str, None]
    tag_requests: CounterSeries
    tag_cost: CounterSeries
    tag_tokens: CounterSeries
    tag_values: TagLabels
    prompt_requests: CounterSeries
    prompt_duration: HistogramSeries
    prompt_tokens: CounterSeries
    prompt_cost: CounterSeries

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
        self.requests.add((model, deployment, str(record["status"]), cache), 1.0)
        latency_ms = record.get("latency_ms")
        if latency_ms is not None:
            self.request_duration.observe((model,), latency_ms / 1000)
        ttft_ms = record.get("ttft_ms")
        if ttft_ms is not None:
            self.ttft.observe((model,), ttft_ms / 1000)
        finish = finish_label(record.get("finish_reason"))
        if finish is not None:
            self.finish_reasons.add((model, finish), 1.0)
        attempts = record.get("attempts") or ()
        if record.get("fallback_used") and attempts:
            self.fallbacks.add((model, attempts[-1]["model"]), 1.0)
        upstream_ms = 0.0
        for attempt in attempts:
            duration_ms = attempt["duration_ms"]
            upstream_ms += duration_ms
            self.upstream_duration.observe((attempt["deployment"],), duration_ms / 1000)
            error = attempt.get("error")
            if error and error != CLIENT_CLOSED:  # a client leaving is no upstream failure
                label = error_kind_label(error)  # an upstream's code: bounded
                self.upstream_errors.add((attempt["deployment"], label), 1.0)
            continuation = attempt.get("continuation_error")  # a paused turn's, that failed
            if continuation:
                label = error_kind_label(continuation)
                self.upstream_errors.add((attempt["deployment"], label), 1.0)
        if latency_ms is not None:
            self.overhead.observe((), max(0.0, latency_ms - upstream_ms) / 1000)
        prompt = amount(record.get("prompt_tokens"))
        if prompt:
            self.tokens.add((model, deployment, "prompt"), prompt)
        completion = amount(record.get("completion_tokens"))
        if completion:
            self.tokens.add((model, deployment, "completion"), completion)
        cost = amount(record.get("cost_usd"))
        if cost:
            self.cost.add((model, deployment, record.get("team") or NONE), cost)
        for finding in record.get("guardrails") or ():
            self.guardrail_actions.add((finding["name"], finding["stage"], finding["action"]), 1.0)
        if cache == "hit" or cache == "miss":
            self.cache_events.add((cache,), 1.0)
        if record.get("prompt_id"):
            self._observe_prompt(record, prompt, completion, cost)
        session = record.get("session_id")
        if session:
            self._observe_session(model, str(session), cost)
        tags = record.get("tags")
        if tag_labels and tags:
            for tag in tag_labels:
                if tag in tags:
                    value = self.tag_values.label(tag, tags[tag], tag_values_max)
                    self._observe_tag(record, tag, value, prompt, completion, cost)

    def _observe_session(self, model: str, session: str, cost: float) -> None:
        if cost:
            self.session_cost.add((model,), cost)
        seen = self._sessions_seen
        if session in seen:
            seen.move_to_end(session)
            return
        seen[session] = None
        if len(seen) > SESSIONS_REMEMBERED:
            seen.popitem(last=False)
        self.sessions.add((model,), 1.0)

    def _observe_tag(
        self,
        record: dict[str, Any],
        tag: str,
        value: str,
        prompt: float,
        completion: float,
        cost: float,
    ) -> None:
        self.tag_requests.add((tag, value, str(record["status"])), 1.0)
        _add_usage(self.tag_tokens, self.tag_cost, (tag, value), prompt, completion, cost)

    def _observe_prompt(
        self, record: dict[str, Any], prompt: float, completion: float, cost: float
    ) -> None:
        version = str(record.get("prompt_version"))
        name = str(record["prompt_id"])
        self.prompt_requests.add((name, version, str(record["status"])), 1.0)
        if record.get("latency_ms") is not None:
            self.prompt_duration.observe((name, version), record["latency_ms"] / 1000)
        _add_usage(self.prompt_tokens, self.prompt_cost, (name, version), prompt, completion, cost)


def _add_usage(
    tokens: CounterSeries,
    cost: CounterSeries,
    labels: tuple[str, ...],
    prompt: float,
    completion: float,
    spent: float,
) -> None:
    """Count a request's tokens (by kind) and spend under `labels`."""
    if prompt:
        tokens.add((*labels, "prompt"), prompt)
    if completion:
        tokens.add((*labels, "completion"), completion)
    if spent:
        cost.add(labels, spent)
