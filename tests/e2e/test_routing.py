"""Routing against real mock-provider processes: strategies, retries, breakers, fallbacks, canaries."""

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

from tests.e2e.test_errors_and_records import read_records, wait_for_record
from tests.procs import Proc, start_gateway, start_mock_provider
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


def run_gateway(tmp_path: Path, body: str, name: str = "config.toml") -> Proc:
    config = tmp_path / name
    log = tmp_path / f"{name}.jsonl"
    config.write_text(f'[logging]\npath = "{log}"\n{body}{KEY_BLOCK}')
    proc = start_gateway(config)
    proc.log_path = log
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


@pytest.fixture(scope="module")
def fast() -> Iterator[Proc]:
    proc = start_mock_provider()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slow() -> Iterator[Proc]:
    proc = start_mock_provider(latency_ms=60)
    yield proc
    proc.stop()


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
        [("fast", "stable", {"weight": 90}), ("fast", "candidate", {"weight": 10})],
        sticky="user",
    )
    proc = run_gateway(tmp_path_factory.mktemp("balancing"), body)
    yield proc
    proc.stop()


def deployments_of(responses: list[httpx.Response]) -> Counter[str]:
    assert all(r.status_code == 200 for r in responses), [
        r.text for r in responses if r.status_code != 200
    ][:3]
    return Counter(r.headers["x-gateway-deployment"] for r in responses)


def test_weighted_three_to_one(balancing: Proc) -> None:
    counts = deployments_of(
        asyncio.run(fire(balancing.url, [chat("weighted")] * 4000, concurrency=32))
    )
    share = counts["fast/w-three"] / 4000
    assert abs(share - 0.75) <= 0.02, counts


def test_round_robin_is_exact(balancing: Proc) -> None:
    order = [
        httpx.post(balancing.url + "/v1/chat/completions", json=chat("rr"), headers=AUTH).headers[
            "x-gateway-deployment"
        ]
        for _ in range(30)
    ]
    first = order[:3]
    assert sorted(first) == ["fast/rr-a", "fast/rr-b", "fast/rr-c"]
    assert order == first * 10


def test_least_busy_prefers_the_idle_provider(balancing: Proc) -> None:
    counts = deployments_of(asyncio.run(fire(balancing.url, [chat("busy")] * 400, concurrency=16)))
    assert counts["fast/lb-fast"] > 2 * counts["slow/lb-slow"], counts


def test_lowest_latency_prefers_the_fast_provider(balancing: Proc) -> None:
    asyncio.run(fire(balancing.url, [chat("latency")] * 10, concurrency=1))  # measure both
    counts = deployments_of(
        asyncio.run(fire(balancing.url, [chat("latency")] * 100, concurrency=4))
    )
    assert counts["fast/ll-fast"] >= 90, counts


def test_canary_is_sticky_and_near_its_share(balancing: Proc) -> None:
    users = [f"user-{i}" for i in range(5000)]
    first = asyncio.run(
        fire(balancing.url, [chat("canary", user=u) for u in users], concurrency=32)
    )
    sides = [r.headers["x-gateway-deployment"] for r in first]
    share = sides.count("fast/candidate") / len(sides)
    assert abs(share - 0.10) <= 0.02, share
    again = asyncio.run(
        fire(balancing.url, [chat("canary", user=u) for u in users[:500]], concurrency=32)
    )
    assert [r.headers["x-gateway-deployment"] for r in again] == sides[:500]


@pytest.fixture
def failing(tmp_path: Path, fast: Proc) -> Iterator[tuple[Proc, Proc]]:
    doomed = start_mock_provider()
    body = "[routing]\nbreaker_failures = 3\nbreaker_window_s = 30\nbreaker_cooldown_s = 4\nbackoff_base_s = 0.01\n"
    body += provider("fast", fast) + provider("doomed", doomed)
    body += model(
        "flaky", [("fast", "fail-500", {}), ("fast", "healthy-sibling", {})], strategy="round_robin"
    )
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
    proc = run_gateway(tmp_path, body)
    yield proc, doomed
    proc.stop()
    doomed.stop()


def test_failed_deployment_is_retried_on_sibling_then_benched(
    failing: tuple[Proc, Proc], fast: Proc
) -> None:
    gateway, _ = failing
    before = calls(fast, "fail-500")
    first = httpx.post(gateway.url + "/v1/chat/completions", json=chat("flaky"), headers=AUTH)
    assert first.status_code == 200
    assert first.headers["x-gateway-attempts"] == "2"
    assert first.headers["x-gateway-deployment"] == "fast/healthy-sibling"
    for _ in range(10):
        assert (
            httpx.post(
                gateway.url + "/v1/chat/completions", json=chat("flaky"), headers=AUTH
            ).status_code
            == 200
        )
    benched_at = calls(fast, "fail-500")
    assert benched_at - before == 3, "exactly breaker_failures calls reach the failing deployment"
    for _ in range(10):
        httpx.post(gateway.url + "/v1/chat/completions", json=chat("flaky"), headers=AUTH)
    assert calls(fast, "fail-500") == benched_at, "an open breaker sends it no traffic"
    metrics = httpx.get(gateway.url + "/metrics").text
    assert 'gateway_deployment_up{deployment="fast/fail-500"} 0.0' in metrics
    time.sleep(4.1)  # the cooldown ends: one probe goes through, fails, and benches it again
    for _ in range(5):
        httpx.post(gateway.url + "/v1/chat/completions", json=chat("flaky"), headers=AUTH)
    assert calls(fast, "fail-500") == benched_at + 1


def test_killed_provider_is_detected(failing: tuple[Proc, Proc]) -> None:
    gateway, doomed = failing
    doomed.stop()
    responses = [
        httpx.post(gateway.url + "/v1/chat/completions", json=chat("mortal"), headers=AUTH)
        for _ in range(10)
    ]
    assert all(r.status_code == 200 for r in responses)
    assert {r.headers["x-gateway-deployment"] for r in responses} == {"fast/survivor"}
    assert gateway.log_path is not None
    records = [wait_for_record(gateway.log_path, r.headers["x-request-id"]) for r in responses]
    connect_failures = [a for rec in records for a in rec["attempts"] if a["error"] == "connect"]
    assert len(connect_failures) == 3, (
        "after breaker_failures connect errors the dead provider is skipped"
    )


def test_retry_after_is_honoured(failing: tuple[Proc, Proc]) -> None:
    gateway, _ = failing
    response = httpx.post(
        gateway.url + "/v1/chat/completions", json=chat("throttled"), headers=AUTH, timeout=10
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"]["type"] == "rate_limit_error"
    assert gateway.log_path is not None
    attempts = wait_for_record(gateway.log_path, response.headers["x-request-id"])["attempts"]
    assert len(attempts) == 2
    waited_ms = attempts[1]["start_ms"] - (attempts[0]["start_ms"] + attempts[0]["duration_ms"])
    assert waited_ms >= 1000, "the second try waits for Retry-After"


def test_first_token_timeout_moves_on(failing: tuple[Proc, Proc]) -> None:
    gateway, _ = failing
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json=chat("stuck", stream=True),
        headers=AUTH,
        timeout=10,
    )
    assert (
        response.status_code == 200 and response.headers["x-gateway-deployment"] == "fast/unstuck"
    )
    assert response.text.endswith("data: [DONE]\n\n")
    assert gateway.log_path is not None
    attempts = wait_for_record(gateway.log_path, response.headers["x-request-id"])["attempts"]
    assert (
        attempts[0]["deployment"] == "fast/fail-timeout"
        and attempts[0]["error"] == "first_token_timeout"
    )


def test_big_prompt_goes_straight_to_the_larger_model(
    failing: tuple[Proc, Proc], fast: Proc
) -> None:
    gateway, _ = failing
    before = calls(fast, "small-ctx")
    big = "word " * 500
    response = httpx.post(
        gateway.url + "/v1/chat/completions", json=chat("small", big), headers=AUTH
    )
    assert (
        response.status_code == 200 and response.headers["x-gateway-deployment"] == "fast/large-ctx"
    )
    assert calls(fast, "small-ctx") == before, "the small deployment receives no call"
    small = httpx.post(
        gateway.url + "/v1/chat/completions", json=chat("small", "short"), headers=AUTH
    )
    assert small.headers["x-gateway-deployment"] == "fast/small-ctx"
    assert gateway.log_path is not None
    assert (
        wait_for_record(gateway.log_path, response.headers["x-request-id"])["fallback_used"] is True
    )


def test_fallback_chain_and_metrics(failing: tuple[Proc, Proc]) -> None:
    gateway, _ = failing
    response = httpx.post(
        gateway.url + "/v1/chat/completions", json=chat("primary-down"), headers=AUTH
    )
    assert (
        response.status_code == 200
        and response.headers["x-gateway-deployment"] == "fast/backup-model"
    )
    assert response.headers["x-gateway-attempts"] == "2"
    metrics = httpx.get(gateway.url + "/metrics").text
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
    first = run_gateway(tmp_path, body, "a.toml")
    second = run_gateway(tmp_path, body, "b.toml")
    try:
        before = calls(fast, "fail-500")
        for _ in range(4):
            assert (
                httpx.post(
                    first.url + "/v1/chat/completions", json=chat("shared"), headers=AUTH
                ).status_code
                == 200
            )
        assert calls(fast, "fail-500") - before == 2
        for _ in range(6):
            response = httpx.post(
                second.url + "/v1/chat/completions", json=chat("shared"), headers=AUTH
            )
            assert response.status_code == 200 and response.headers["x-gateway-attempts"] == "1"
        assert calls(fast, "fail-500") - before == 2, (
            "the other replica saw the open breaker at once"
        )
    finally:
        first.stop()
        second.stop()
    assert read_records(tmp_path / "b.toml.jsonl")
