"""An upstream that names a new error code on every failure cannot grow the series /metrics
exposes: `gateway_upstream_errors_total{kind}` is one of the documented kinds, `http_<status>`,
or `other`, which counts the rest; the record keeps the code as the upstream sent it."""

from __future__ import annotations

import secrets
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway import errors
from gateway.observability.error_kinds import GATEWAY_KINDS, OTHER, error_kind_label
from gateway.observability.metrics import Metrics

RANDOM_CODES = 500


def _record(error: str) -> dict[str, Any]:
    attempt = {
        "deployment": "p/m",
        "model": "m",
        "status": 200,
        "error": error,
        "start_ms": 1.0,
        "duration_ms": 20.0,
    }
    return {
        "model": "m",
        "deployment": "p/m",
        "status": 200,
        "error_type": error,
        "cache": "bypass",
        "latency_ms": 25.0,
        "attempts": [attempt],
    }


def _upstream_errors(metrics: Metrics) -> dict[str, float]:
    text = generate_latest(metrics.registry).decode()
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "gateway_upstream_errors"
        for sample in family.samples
        if sample.name == "gateway_upstream_errors_total"
    }


def test_random_upstream_codes_count_as_other() -> None:
    metrics = Metrics()
    for _ in range(RANDOM_CODES):  # what a lying upstream (or a proxy) names each failure
        metrics.observe_record(_record(f"code_{secrets.token_hex(8)}"), {"m"})
    for known in ("server_error", "overloaded", "http_503", "stream_interrupted"):
        metrics.observe_record(_record(known), {"m"})
    counted = _upstream_errors(metrics)
    assert counted == {
        OTHER: RANDOM_CODES,
        "server_error": 1.0,
        "overloaded": 1.0,
        "http_503": 1.0,
        "stream_interrupted": 1.0,
    }


@pytest.mark.parametrize(
    "error",
    [
        "http_399",
        "http_600",
        "http_5000",
        "http_٥٠٠",  # digits, but not ASCII ones
        "http_",
        "x" * 10_000,
        "Server_Error",
        "server_error ",
    ],
)
def test_what_is_no_documented_kind_is_other(error: str) -> None:
    assert error_kind_label(error) == OTHER


@pytest.mark.parametrize("error", ["http_400", "http_429", "http_599", "connect", "overloaded"])
def test_documented_kinds_are_their_own_label(error: str) -> None:
    assert error_kind_label(error) == error


def test_every_gateway_code_an_attempt_can_end_with_is_a_kind() -> None:
    # The classes an attempt's error is made from (an upstream's rejection is `http_<status>`).
    classes = (
        errors.UpstreamFailed,
        errors.UpstreamTimeout,
        errors.ContentBlocked,
        errors.RateLimited,
    )
    for cls in classes:
        assert cls.code in GATEWAY_KINDS, cls
