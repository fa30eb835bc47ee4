"""The latency histograms reach as far as the default timeouts let a request run: a stream of
several minutes is counted in a bucket of its own, so percentiles can say how long it took."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from gateway.config.types import ServerConfig, Timeouts
from gateway.observability.metrics import LATENCY_BUCKETS, Metrics

LONGEST_S = max(Timeouts().total_s, ServerConfig().request_timeout_s)


def test_the_buckets_reach_the_longest_request_the_defaults_allow() -> None:
    assert LATENCY_BUCKETS[-1] >= LONGEST_S
    assert list(LATENCY_BUCKETS) == sorted(set(LATENCY_BUCKETS))


def test_a_five_minute_stream_is_counted_below_infinity() -> None:
    metrics = Metrics(CollectorRegistry(auto_describe=True))
    record = {"model": "m", "status": 200, "latency_ms": 290_000.0, "ttft_ms": 200.0}
    metrics.observe_record(record, known_models={"m"})
    registry = metrics.registry
    name = "gateway_request_duration_seconds_bucket"
    assert registry.get_sample_value(name, {"model": "m", "le": "300.0"}) == 1.0
    assert registry.get_sample_value(name, {"model": "m", "le": "180.0"}) == 0.0
