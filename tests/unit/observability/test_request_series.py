"""The per-request series kept in process (`LocalSeries`, the default) expose exactly what the
library's own metrics (`LibrarySeries`, used with --workers N) expose for the same records:
names, types, help, labels, bucket counts, sums, and a `_created` sample per series."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.observability.metrics import Metrics
from gateway.observability.multiproc import MULTIPROC_ENV
from gateway.observability.request_series import LocalCounter, LocalHistogram, LocalSeries

Exposed = dict[str, tuple[str, str, list[tuple[str, tuple[tuple[str, str], ...], float]]]]


def _records() -> list[dict[str, Any]]:
    base: dict[str, Any] = {
        "model": "m",
        "deployment": "p/m",
        "status": 200,
        "cache": "miss",
        "latency_ms": 12.5,
        "ttft_ms": None,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": 0.002,
        "team": "t",
        "attempts": [{"deployment": "p/m", "model": "m", "duration_ms": 10.0, "error": None}],
        "guardrails": [],
    }
    return [
        base,
        {**base, "cache": "hit", "latency_ms": 0.01, "attempts": []},  # exactly on a bound
        {
            **base,
            "model": "other",  # not a known model: counted as _unknown
            "status": 429,
            "cache": None,
            "fallback_used": True,
            "ttft_ms": 3.0,
            "attempts": [
                {"deployment": "p/a", "model": "a", "duration_ms": 250.0, "error": "http_429"},
                {"deployment": "p/m", "model": "m", "duration_ms": 100.0, "error": None},
            ],
            "guardrails": [{"name": "pii", "stage": "input", "action": "redact"}],
            "prompt_id": "greet",
            "prompt_version": 2,
            "session_id": "s1",
            "tags": {"feature": "search"},
        },
        {**base, "session_id": "s1", "tags": {"feature": "chat"}, "latency_ms": 500000.0},
    ]


def _exposed(metrics: Metrics) -> Exposed:
    out: Exposed = {}
    for family in text_string_to_metric_families(generate_latest(metrics.registry).decode()):
        samples = [
            (
                sample.name,
                tuple(sorted(sample.labels.items())),
                1.0 if sample.name.endswith("_created") else sample.value,
            )
            for sample in family.samples
            if sample.name.endswith("_created") or sample.value == sample.value
        ]
        out[family.name] = (family.type, family.documentation, sorted(samples))
    return out


def _observed(metrics: Metrics) -> Metrics:
    for record in _records():
        metrics.observe_record(record, {"m"}, tag_labels=("feature",), tag_values_max=1)
    return metrics


def test_local_series_expose_what_the_library_metrics_expose(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    local = _observed(Metrics())
    monkeypatch.setenv(MULTIPROC_ENV, str(tmp_path))  # chooses LibrarySeries at construction
    library = _observed(Metrics())
    monkeypatch.delenv(MULTIPROC_ENV)
    exposed_local, exposed_library = _exposed(local), _exposed(library)
    assert exposed_local == exposed_library
    # The comparison covered counters, labelled and unlabelled histograms, fallbacks, errors,
    # prompts, sessions and capped tags.
    for name in (
        "gateway_requests",
        "gateway_overhead_seconds",
        "gateway_upstream_errors",
        "gateway_fallbacks",
        "gateway_prompt_request_duration_seconds",
        "gateway_sessions",
        "gateway_tag_requests",
    ):
        assert exposed_local[name][2], name


def test_a_local_histogram_counts_a_value_on_a_bound_in_that_bucket() -> None:
    histogram = LocalHistogram("h", "doc", ("a",), (0.1, 1.0))
    for value in (0.1, 0.5, 1.0, 7.0):
        histogram.observe(("x",), value)
    family = histogram.family()
    buckets = {s.labels["le"]: s.value for s in family.samples if s.name == "h_bucket"}
    assert buckets == {"0.1": 1.0, "1.0": 3.0, "+Inf": 4.0}
    assert {s.name: s.value for s in family.samples if s.name in ("h_count", "h_sum")} == {
        "h_count": 4.0,
        "h_sum": 8.6,
    }


def test_a_local_counter_adds_per_label_values() -> None:
    counter = LocalCounter("c", "doc", ("a",))
    counter.add(("x",), 2.0)
    counter.add(("x",), 0.5)
    counter.add(("y",), 1.0)
    values = {s.labels["a"]: s.value for s in counter.family().samples if s.name == "c_total"}
    assert values == {"x": 2.5, "y": 1.0}


def test_a_local_family_named_like_a_library_metric_is_refused() -> None:
    registry = CollectorRegistry(auto_describe=True)
    Counter("gateway_dup", "doc", registry=registry)
    series = LocalSeries(registry)
    series.counter("gateway_dup", "doc")
    with pytest.raises(ValueError, match="Duplicated"):
        series.register()
