"""Counting a record never raises, whatever numbers it carries."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest

from gateway.observability.metrics import Metrics
from gateway.observability.record_metrics import amount


@pytest.mark.parametrize(
    ("value", "counted"),
    [
        (3, 3.0),
        (0.5, 0.5),
        (-4, 0.0),
        (float("nan"), 0.0),
        (float("inf"), 0.0),
        ("7", 0.0),
        (None, 0.0),
    ],
)
def test_amount_keeps_only_finite_non_negative_numbers(value: Any, counted: float) -> None:
    assert amount(value) == counted


def test_a_record_with_hostile_numbers_is_counted_without_raising() -> None:
    metrics = Metrics()
    record = {
        "model": "m",
        "deployment": "p/m",
        "status": 200,
        "cache": "bypass",
        "latency_ms": 12.0,
        "prompt_tokens": -1_000_000_000,
        "completion_tokens": float("nan"),
        "cost_usd": -999.0,
        "team": "t",
        "attempts": [],
        "guardrails": [],
    }
    metrics.observe_record(record, {"m"})
    text = generate_latest(metrics.registry).decode()
    assert (
        'gateway_requests_total{cache="bypass",deployment="p/m",model="m",status="200"} 1.0' in text
    )
    assert "gateway_tokens_total{" not in text and "gateway_cost_usd_total{" not in text


def test_a_client_leaving_is_no_upstream_error() -> None:
    # Users stopping a generation are routine: counting them against the deployment would
    # page on an upstream that answered fine.
    metrics = Metrics()
    attempt = {"deployment": "p/m", "model": "m", "start_ms": 1.0, "duration_ms": 300.0}
    record = {
        "model": "m",
        "deployment": "p/m",
        "status": 499,
        "cache": "bypass",
        "latency_ms": 301.0,
        "attempts": [
            {**attempt, "status": 500, "error": "http_500"},
            {**attempt, "status": None, "error": "client_closed"},
        ],
    }
    metrics.observe_record(record, {"m"})
    text = generate_latest(metrics.registry).decode()
    assert 'gateway_upstream_errors_total{deployment="p/m",kind="http_500"} 1.0' in text
    assert 'kind="client_closed"' not in text
    assert 'gateway_upstream_duration_seconds_count{deployment="p/m"} 2.0' in text


def test_answers_are_counted_by_why_they_ended_with_bounded_labels() -> None:
    metrics = Metrics()
    base = {"model": "m", "deployment": "p/m", "status": 200, "cache": "bypass", "attempts": []}
    for reason in ("refusal", "refusal", "max_tokens", "an upstream's own xyzzy reason", None):
        metrics.observe_record({**base, "finish_reason": reason}, {"m"})
    text = generate_latest(metrics.registry).decode()
    assert 'gateway_finish_reasons_total{model="m",reason="refusal"} 2.0' in text
    assert 'gateway_finish_reasons_total{model="m",reason="max_tokens"} 1.0' in text
    assert 'gateway_finish_reasons_total{model="m",reason="other"} 1.0' in text
    assert "xyzzy" not in text  # counted as `other`, never as the upstream wrote it


def test_a_paused_turns_failed_continuation_counts_as_an_upstream_error() -> None:
    """The attempt answered (the client got Claude's answer so far), the continuation call
    that failed is counted against the deployment."""
    metrics = Metrics()
    attempt = {"deployment": "p/m", "model": "m", "start_ms": 1.0, "duration_ms": 300.0}
    record = {
        "model": "m",
        "deployment": "p/m",
        "status": 200,
        "cache": "bypass",
        "attempts": [{**attempt, "status": 200, "error": None, "continuation_error": "http_529"}],
    }
    metrics.observe_record(record, {"m"})
    text = generate_latest(metrics.registry).decode()
    assert 'gateway_upstream_errors_total{deployment="p/m",kind="http_529"} 1.0' in text
