"""Routing against real mock-provider processes: strategies, retries, breakers, fallbacks,
canaries.

These check the wiring (the right deployment serves, headers and records say which, state is
shared across replicas). The statistics of the splits are checked on the pure functions that
decide them, in tests/unit/routing.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config.types import DeploymentConfig
from gateway.routing.router import sticky_point
from gateway.routing.strategies import Candidate, weighted_by_point
from tests.conditions import wait_until
from tests.e2e.records import read_records, wait_for_record
from tests.procs import Proc, start_gateway, start_gateways, start_mock_provider
from tests.redis_server import RedisServer, start_redis

KEY = "sk-routing-test"
AUTH = {"authorization": f"Bearer {KEY}"}
KEY_BLOCK = f"""
[[keys]]
id = "routing"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
"""


def chat(model: str, content: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": content}], **extra}


def post(gateway: Proc, body: dict[str, Any], timeout: float = 10) -> httpx.Response:
    return httpx.post(
        gateway.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=timeout
    )


def stats(mock: Proc) -> dict[str, Any]:
    return dict(httpx.get(mock.url + "/_mock/stats").json())


def calls(mock: Proc, upstream_model: str) -> int:
    return int(stats(mock)["by_model"].get(upstream_model, 0))


def provider(name: str, mock: Proc) -> str:
    return f'[[providers]]\nname = "{name}"\ntype = "openai"\nbase_url = "{mock.url}/v1"\n'


def model(name: str, deployments: list[tuple[str, str, dict[str, Any]]], **fields: Any) -> str:
    lines = ["[[models]]", f'name = "{name}"']
    for field, value in fields.items():
        lines.append(f"{field} = {toml_value(value)}")
    for provider_name, upstream_model, extra in deployments:
        lines += [
            "[[models.deployments]]",
            f'provider = "{provider_name}"',
            f'model = "{upstream_model}"',
        ]
        lines += [f"{k} = {toml_value(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def toml_value(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(value)


def write_config(tmp_path: Path, body: str, name: str = "config.toml") -> Path:
    config = tmp_path / name
    config.write_text(f'[logging]\npath = "{tmp_path / name}.jsonl"\n{body}{KEY_BLOCK}')
    return config


def run_gateway(tmp_path: Path, body: str, name: str = "config.toml") -> Proc:
    proc = start_gateway(write_config(tmp_path, body, name))
    proc.log_path = tmp_path / f"{name}.jsonl"
    return proc


async def fire(
    url: str, bodies: list[dict[str, Any]], concurrency: int = 16
) -> list[httpx.Response]:
    limit = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(
        timeout=30, limits=httpx.Limits(max_connections=concurrency)
    ) as client:

        async def one(body: dict[str, Any]) -> httpx.Response:
            async with limit:
                return await client.post(url + "/v1/chat/completions", json=body, headers=AUTH)

        return list(await asyncio.gather(*(one(b) for b in bodies)))


def served_by(responses: list[httpx.Response]) -> list[str]:
    """The deployment that answered each (successful) response, as its header says."""
    assert all(r.status_code == 200 for r in responses), [
        r.text for r in responses if r.status_code != 200
    ][:3]
    return [r.headers["x-gateway-deployment"] for r in responses]


def recorded_deployments(gateway: Proc, responses: list[httpx.Response]) -> list[str]:
    """The deployment each response's request record names, once all are written."""
    assert gateway.log_path is not None
    log_path = gateway.log_path
    wanted = [r.headers["x-request-id"] for r in responses]

    def all_written() -> dict[str, str] | None:
        by_id = {r["id"]: r["deployment"] for r in read_records(log_path)}
        return by_id if all(i in by_id for i in wanted) else None

    by_id = wait_until(all_written, 5, message="not every request was recorded")
    return [by_id[i] for i in wanted]


@pytest.fixture(scope="module")
def fast(mock_upstream: Proc) -> Proc:
    return mock_upstream


@pytest.fixture(scope="module")
def slow() -> Iterator[Proc]:
    proc = start_mock_provider(latency_ms=60)
    yield proc
    proc.stop()


CANARY_SIDES = {"stable": 90, "candidate": 10}


@pytest.fixture(scope="module")
def balancing(tmp_path_factory: pytest.TempPathFactory, fast: Proc, slow: Proc) -> Iterator[Proc]:
    body = provider("fast", fast) + provider("slow", slow)
    body += model(
        "weighted", [("fast", "w-three", {"weight": 3}), ("fast", "w-one", {"weight": 1})]
    )
    body += model(
        "rr",
        [("fast", "rr-a", {}), ("fast", "rr-b", {}), ("fast", "rr-c", {})],
        strategy="round_robin",
    )
    body += model("busy", [("fast", "lb-fast", {}), ("slow", "lb-slow", {})], strategy="least_busy")
    body += model(
        "latency", [("fast", "ll-fast", {}), ("slow", "ll-slow", {})], strategy="lowest_latency"
    )
    body += model(
        "canary",
        [("fast", side, {"weight": weight}) for side, weight in CANARY_SIDES.items()],
        sticky="user",
    )
    proc = run_gateway(tmp_path_factory.mktemp("balancing"), body)
    yield proc
    proc.stop()


def test_weighted_model_serves_from_both_deployments(balancing: Proc) -> None:
    # 64 draws at a 1/4 share miss a side with probability 0.75**64 (about 1e-8); the split
    # itself is measured in tests/unit/routing/test_strategies.py.
    responses = asyncio.run(fire(balancing.url, [chat("weighted")] * 64, concurrency=8))
    sides = served_by(responses)
    assert set(sides) == {"fast/w-three", "fast/w-one"}, Counter(sides)
    assert recorded_deployments(balancing, responses) == sides


def test_round_robin_is_exact(balancing: Proc) -> None:
    order = [post(balancing, chat("rr")).headers["x-gateway-deployment"] for _ in range(12)]
    first = order[:3]
    assert sorted(first) == ["fast/rr-a", "fast/rr-b", "fast/rr-c"]
    assert order == first * 4


def test_least_busy_prefers_the_idle_provider(balancing: Proc) -> None:
    counts = Counter(
        served_by(asyncio.run(fire(balancing.url, [chat("busy")] * 200, concurrency=16)))
    )
    assert counts["fast/lb-fast"] > 2 * counts["slow/lb-slow"], counts


def test_lowest_latency_prefers_the_fast_provider(balancing: Proc) -> None:
    asyncio.run(fire(balancing.url, [chat("latency")] * 10, concurrency=1))  # measure both
    counts = Counter(
        served_by(asyncio.run(fire(balancing.url, [chat("latency")] * 100, concurrency=4)))
    )
    assert counts["fast/ll-fast"] >= 90, counts


def test_canary_sticks_each_user_to_the_side_its_hash_picks(balancing: Proc) -> None:
    users = [f"user-{i}" for i in range(40)]
    sides = [Candidate(DeploymentConfig("fast", m, weight=w)) for m, w in CANARY_SIDES.items()]
    expected = [
        "fast/" + weighted_by_point(sides, sticky_point("canary", user)).deployment.model
        for user in users
    ]
    assert set(expected) == {"fast/stable", "fast/candidate"}, "these users cover both sides"
    bodies = [chat("canary", user=user) for user in users]
    first = asyncio.run(fire(balancing.url, bodies, concurrency=8))
    assert served_by(first) == expected
    assert recorded_deployments(balancing, first) == expected
    again = asyncio.run(fire(balancing.url, bodies, concurrency=8))
    assert served_by(again) == expected, "the same user stays on the same side"


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
    body += model("primary-down", [("fast", "fail-500", {})], fallbacks=["backup"], max_attempts=1)
    body += model("backup", [("fast", "backup-model", {})])
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
