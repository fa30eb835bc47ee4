"""Routing against real mock-provider processes when deployments fail: retries, breakers (also
shared across replicas through Redis), timeouts, context-window and model fallbacks."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conditions import wait_until
from tests.e2e.records import read_records, wait_for_record
from tests.e2e.routing_support import (
    calls,
    chat,
    model,
    post,
    provider,
    run_gateway,
    write_config,
)
from tests.procs import Proc, start_gateways, start_mock_provider
from tests.redis_server import RedisServer, start_redis


@pytest.fixture(scope="module")
def fast(mock_upstream: Proc) -> Proc:
    return mock_upstream


@pytest.fixture(scope="module")
def doomed() -> Iterator[Proc]:
    proc = start_mock_provider()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def failing(tmp_path_factory: pytest.TempPathFactory, fast: Proc, doomed: Proc) -> Iterator[Proc]:
    """Faulty and healthy deployments side by side; breakers open for the whole module."""
    body = "[routing]\nbreaker_failures = 3\nbreaker_window_s = 30\nbreaker_cooldown_s = 60\n"
    body += "backoff_base_s = 0.01\n"
    body += provider("fast", fast) + provider("doomed", doomed)
    body += model(
        "mortal", [("doomed", "doomed-model", {}), ("fast", "survivor", {})], strategy="round_robin"
    )
    body += model("throttled", [("fast", "fail-429", {})], max_attempts=2)
    body += model(
        "stuck",
        [("fast", "fail-timeout", {"first_token_timeout_s": 0.3}), ("fast", "unstuck", {})],
        strategy="round_robin",
    )
    body += model(
        "small", [("fast", "small-ctx", {"context_window": 64})], context_window_fallbacks=["large"]
    )
    body += model("large", [("fast", "large-ctx", {"context_window": 100000})])
    body += model("unsized", [("fast", "fail-400-context", {})], context_window_fallbacks=["large"])
    body += model("primary-down", [("fast", "fail-500", {})], fallbacks=["backup"], max_attempts=1)
    body += model("backup", [("fast", "backup-model", {})])
    body += model("cut", [("fast", "drop-mid-stream", {})], fallbacks=["backup"], max_attempts=1)
    proc = run_gateway(tmp_path_factory.mktemp("failing"), body)
    yield proc
    proc.stop()


COOLDOWN_S = 0.5


@pytest.fixture
def cooling(tmp_path: Path, fast: Proc) -> Iterator[Proc]:
    """A failing deployment beside a healthy one, with a breaker that cools down quickly."""
    body = "[routing]\nbreaker_failures = 3\nbreaker_window_s = 30\n"
    body += f"breaker_cooldown_s = {COOLDOWN_S}\nbackoff_base_s = 0.01\n"
    body += provider("fast", fast)
    body += model(
        "flaky", [("fast", "fail-500", {}), ("fast", "healthy-sibling", {})], strategy="round_robin"
    )
    proc = run_gateway(tmp_path, body)
    yield proc
    proc.stop()


def test_failed_deployment_is_retried_on_sibling_then_benched(cooling: Proc, fast: Proc) -> None:
    before = calls(fast, "fail-500")
    began = time.monotonic()
    first = post(cooling, chat("flaky"))
    assert first.status_code == 200
    assert first.headers["x-gateway-attempts"] == "2"
    assert first.headers["x-gateway-deployment"] == "fast/healthy-sibling"
    for _ in range(10):
        assert post(cooling, chat("flaky")).status_code == 200
    benched_at = calls(fast, "fail-500")
    # breaker_failures calls, and one probe per cooldown that ran out meanwhile (none when the
    # 11 requests take less than a cooldown, as they do on an idle machine).
    probes = int((time.monotonic() - began) // COOLDOWN_S)
    assert 3 <= benched_at - before <= 3 + probes, "breaker_failures calls reach the deployment"
    metrics = httpx.get(cooling.url + "/metrics").text
    assert 'gateway_deployment_up{deployment="fast/fail-500"} 0.0' in metrics
    # The cooldown ends: the next request probes the deployment once; the probe fails and
    # benches it again, so the requests right after it do not reach it.

    asked: list[float] = []

    def probed() -> bool:
        asked.append(time.monotonic())
        assert post(cooling, chat("flaky")).status_code == 200
        return calls(fast, "fail-500") > benched_at

    wait_until(probed, COOLDOWN_S + 5, interval_s=0.05, message="no probe after the cooldown")
    probed_at = calls(fast, "fail-500")
    for _ in range(3):
        assert post(cooling, chat("flaky")).status_code == 200
    # The probe benched it again after asked[-1]: another probe needs a whole cooldown since.
    later_probes = int((time.monotonic() - asked[-1]) // COOLDOWN_S)
    assert probed_at <= calls(fast, "fail-500") <= probed_at + later_probes


def test_killed_provider_is_detected(failing: Proc, doomed: Proc) -> None:
    doomed.stop()
    responses = [post(failing, chat("mortal")) for _ in range(10)]
    assert all(r.status_code == 200 for r in responses)
    assert {r.headers["x-gateway-deployment"] for r in responses} == {"fast/survivor"}
    assert failing.log_path is not None
    records = [wait_for_record(failing.log_path, r.headers["x-request-id"]) for r in responses]
    connect_failures = [a for rec in records for a in rec["attempts"] if a["error"] == "connect"]
    assert len(connect_failures) == 3, (
        "after breaker_failures connect errors the dead provider is skipped"
    )


def test_a_rate_limit_is_passed_on_with_its_retry_after(failing: Proc) -> None:
    response = post(failing, chat("throttled"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert failing.log_path is not None
    attempts = wait_for_record(failing.log_path, response.headers["x-request-id"])["attempts"]
    # The deployment is benched for its Retry-After: not tried again within the request (the
    # client's SDK waits and retries), and its breaker is left alone.
    assert len(attempts) == 1


def test_first_token_timeout_moves_on(failing: Proc) -> None:
    response = post(failing, chat("stuck", stream=True))
    assert (
        response.status_code == 200 and response.headers["x-gateway-deployment"] == "fast/unstuck"
    )
    assert response.text.endswith("data: [DONE]\n\n")
    assert failing.log_path is not None
    attempts = wait_for_record(failing.log_path, response.headers["x-request-id"])["attempts"]
    assert (
        attempts[0]["deployment"] == "fast/fail-timeout"
        and attempts[0]["error"] == "first_token_timeout"
    )


def test_big_prompt_goes_straight_to_the_larger_model(failing: Proc, fast: Proc) -> None:
    before = calls(fast, "small-ctx")
    response = post(failing, chat("small", "word " * 500))
    assert (
        response.status_code == 200 and response.headers["x-gateway-deployment"] == "fast/large-ctx"
    )
    assert calls(fast, "small-ctx") == before, "the small deployment receives no call"
    small = post(failing, chat("small", "short"))
    assert small.headers["x-gateway-deployment"] == "fast/small-ctx"
    assert failing.log_path is not None
    record = wait_for_record(failing.log_path, response.headers["x-request-id"])
    assert record["fallback_used"] is True


def test_a_prompt_the_upstream_finds_too_long_goes_to_the_larger_model(failing: Proc) -> None:
    """No context_window configured: the upstream's 400 context_length_exceeded decides."""
    response = post(failing, chat("unsized"))
    assert response.status_code == 200
    assert response.headers["x-gateway-deployment"] == "fast/large-ctx"
    assert response.headers["x-gateway-attempts"] == "2"
    assert failing.log_path is not None
    record = wait_for_record(failing.log_path, response.headers["x-request-id"])
    assert record["fallback_used"] is True
    assert [a["error"] for a in record["attempts"]] == ["http_400", None]


def test_fallback_chain_and_metrics(failing: Proc) -> None:
    response = post(failing, chat("primary-down"))
    assert (
        response.status_code == 200
        and response.headers["x-gateway-deployment"] == "fast/backup-model"
    )
    assert response.headers["x-gateway-attempts"] == "2"
    metrics = httpx.get(failing.url + "/metrics").text
    assert 'gateway_fallbacks_total{from_model="primary-down",to_model="backup"} 1.0' in metrics
    assert 'gateway_upstream_errors_total{deployment="fast/fail-500",kind="http_500"}' in metrics


def test_streams_cut_mid_body_open_the_breaker(failing: Proc, fast: Proc) -> None:
    """Each stream is cut after its first frames: the client gets an error event (no fallback
    after bytes were sent), and the breaker counts it, as a cut before the first byte; the
    success of each stream's start used to clear the count, so it never opened."""
    before = calls(fast, "drop-mid-stream")
    for _ in range(3):  # breaker_failures
        response = post(failing, chat("cut", stream=True))
        assert response.status_code == 200
        assert response.headers["x-gateway-deployment"] == "fast/drop-mid-stream"
        assert '"error"' in response.text and "[DONE]" not in response.text
    assert calls(fast, "drop-mid-stream") - before == 3

    def benched() -> bool:
        metrics = httpx.get(failing.url + "/metrics").text
        return 'gateway_deployment_up{deployment="fast/drop-mid-stream"} 0.0' in metrics

    wait_until(benched, 10, message="the breaker never opened")
    response = post(failing, chat("cut", stream=True))
    assert response.headers["x-gateway-deployment"] == "fast/backup-model"
    assert "[DONE]" in response.text
    assert calls(fast, "drop-mid-stream") - before == 3


@pytest.fixture(scope="module")
def redis() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


def test_replicas_share_breaker_state_through_redis(
    tmp_path: Path, fast: Proc, redis: RedisServer
) -> None:
    body = f'[state]\nbackend = "redis"\nredis_url = "{redis.url}"\n'
    body += "[routing]\nbreaker_failures = 2\nbreaker_cooldown_s = 60\n"
    body += provider("fast", fast)
    body += model(
        "shared", [("fast", "fail-500", {}), ("fast", "shared-sibling", {})], strategy="round_robin"
    )
    first, second = start_gateways(
        [write_config(tmp_path, body, "a.toml"), write_config(tmp_path, body, "b.toml")]
    )
    try:
        before = calls(fast, "fail-500")
        for _ in range(4):
            assert post(first, chat("shared")).status_code == 200
        assert calls(fast, "fail-500") - before == 2
        for _ in range(6):
            response = post(second, chat("shared"))
            assert response.status_code == 200 and response.headers["x-gateway-attempts"] == "1"
        assert calls(fast, "fail-500") - before == 2, (
            "the other replica saw the open breaker at once"
        )
    finally:
        first.stop()
        second.stop()
    assert read_records(tmp_path / "b.toml.jsonl")
