"""Limits and budgets, exact across two gateway processes sharing one real Redis, and what
the gateways do when that Redis goes away (fail open, fail closed)."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import tokens
from gateway.state.redis.backend import RedisState
from tests.conditions import wait_until
from tests.e2e.limits_setup import AUTH, MESSAGES, TOKENS_PER_REQUEST, write_setup
from tests.e2e.records import read_records, wait_for_records
from tests.procs import Proc, start_gateways, start_mock_provider
from tests.redis_server import RedisServer, start_redis


@pytest.fixture(scope="module")
def upstream() -> Iterator[Proc]:
    proc = start_mock_provider()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def slow() -> Iterator[Proc]:
    proc = start_mock_provider(latency_ms=500)
    yield proc
    proc.stop()


@pytest.fixture
def redis() -> Iterator[RedisServer]:
    server = start_redis()
    yield server
    server.stop()


def pair(configs: list[Path]) -> list[Proc]:
    return start_gateways(configs)


CLIENT = httpx.Client(timeout=30)  # keep-alive: sequential requests without a new connection each


@pytest.fixture(scope="module", autouse=True)
def _close_client() -> Iterator[None]:
    yield
    CLIENT.close()


def post(gateway: Proc, model: str = "echo", **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": MESSAGES, "max_tokens": 1, **extra}
    return CLIENT.post(gateway.url + "/v1/chat/completions", json=body, headers=AUTH)


def alternate(gateways: list[Proc], count: int, **extra: Any) -> list[httpx.Response]:
    return [post(gateways[i % 2], **extra) for i in range(count)]


def stop_all(gateways: list[Proc]) -> None:
    for gateway in gateways:
        gateway.stop()


def requests_in_window(redis: RedisServer) -> float:
    """The limited key's requests in the rpm window, as Redis has them."""

    async def read() -> float:
        state = RedisState(redis.url)
        try:
            return (await state.usage("key", "limited", time.time()))["requests_1m"]
        finally:
            await state.aclose()

    return asyncio.run(read())


def slots_in_use(redis: RedisServer) -> float:
    """The limited key's concurrency slots held right now, as Redis has them."""

    async def read() -> float:
        state = RedisState(redis.url)
        try:
            return (await state.usage("key", "limited", time.time()))["concurrent"]
        finally:
            await state.aclose()

    return asyncio.run(read())


def wait_for_free_slots(redis: RedisServer, timeout_s: float = 5.0) -> None:
    wait_until(
        lambda: slots_in_use(redis) == 0, timeout_s, 0.02, "concurrency slots are still held"
    )


def test_rpm_is_exact_across_two_replicas(
    tmp_path: Path, upstream: Proc, slow: Proc, redis: RedisServer
) -> None:
    gateways = pair(write_setup(tmp_path, "[limits]\nrpm = 50\n", upstream, slow, redis.url))
    try:
        responses = alternate(gateways, 200)
    finally:
        stop_all(gateways)
    assert [r.status_code for r in responses].count(200) == 50
    refused = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 429 and int(r.headers["retry-after"]) >= 1 for r in refused)
    assert refused[0].json()["error"]["code"] == "rate_limit_exceeded"
    ok = responses[0]
    assert ok.headers["x-ratelimit-limit-requests"] == "50"
    assert ok.headers["x-ratelimit-remaining-requests"] == "49"
    assert "x-ratelimit-reset-requests" in ok.headers


def test_tpm_is_exact_across_two_replicas(
    tmp_path: Path, upstream: Proc, slow: Proc, redis: RedisServer
) -> None:
    policy = f"[limits]\ntpm = {TOKENS_PER_REQUEST * 25}\n"
    gateways = pair(write_setup(tmp_path, policy, upstream, slow, redis.url))
    try:
        responses = alternate(gateways, 60)
    finally:
        stop_all(gateways)
    assert [r.status_code for r in responses].count(200) == 25
    assert responses[0].headers["x-ratelimit-limit-tokens"] == str(TOKENS_PER_REQUEST * 25)
    assert all(r.status_code == 429 for r in responses[25:])


def test_max_concurrent_is_exact_across_two_replicas(
    tmp_path: Path, upstream: Proc, slow: Proc, redis: RedisServer
) -> None:
    gateways = pair(
        write_setup(tmp_path, "[limits]\nmax_concurrent = 3\n", upstream, slow, redis.url)
    )

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            body = {"model": "slow", "messages": MESSAGES}
            calls = [
                client.post(gateways[i % 2].url + "/v1/chat/completions", json=body, headers=AUTH)
                for i in range(12)
            ]
            return [r.status_code for r in await asyncio.gather(*calls)]

    try:
        statuses = asyncio.run(burst())
        wait_for_free_slots(redis)  # settlements go out right after each answer
        after = [post(g, "slow").status_code for g in gateways]
    finally:
        stop_all(gateways)
    assert statuses.count(200) == 3 and statuses.count(429) == 9
    assert after == [200, 200]


def test_budget_refuses_the_request_that_would_cross(
    tmp_path: Path, upstream: Proc, slow: Proc, redis: RedisServer
) -> None:
    # $1000 / 1M input and $2000 / 1M output: each request costs (prompt + 2 * 1) / 1000 dollars.
    cost = (tokens.count_messages(MESSAGES) * 1000 + 1 * 2000) / 1e6
    budget = round(cost * 10.5, 6)
    gateways = pair(
        write_setup(
            tmp_path, f"[team_limits]\nbudget_usd_per_day = {budget}\n", upstream, slow, redis.url
        )
    )
    try:
        responses = alternate(gateways, 14)
    finally:
        stop_all(gateways)
    statuses = [r.status_code for r in responses]
    assert statuses[:10] == [200] * 10 and set(statuses[10:]) == {429}
    error = responses[10].json()["error"]
    assert error["code"] == "budget_exceeded" and "budget" in error["message"]
    records = read_records(tmp_path / "a.jsonl") + read_records(tmp_path / "b.jsonl")
    recorded = sum(r["cost_usd"] for r in records)

    async def spent() -> dict[str, float]:
        state = RedisState(redis.url)
        try:
            return await state.spend("team", "qa", time.time())
        finally:
            await state.aclose()

    assert recorded == pytest.approx(cost * 10)
    assert asyncio.run(spent())["day"] == pytest.approx(recorded)


async def _maybe_abort(client: httpx.AsyncClient, url: str, kind: str) -> None:
    body: dict[str, Any] = {
        "model": {"ok": "echo", "fail": "failing", "hang": "hanging", "abort": "slow"}[kind],
        "messages": MESSAGES,
    }
    if kind == "abort":
        body["stream"] = True
        try:
            async with client.stream("POST", url, json=body, headers=AUTH, timeout=0.1) as response:
                async for _ in response.aiter_bytes():
                    break
        except httpx.TimeoutException:
            pass  # gave up before the first byte: the gateway sees the client leave
        return
    await client.post(url, json=body, headers=AUTH)


def test_no_concurrency_slot_leaks(
    tmp_path: Path, upstream: Proc, slow: Proc, redis: RedisServer
) -> None:
    gateways = pair(
        write_setup(tmp_path, "[limits]\nmax_concurrent = 1000\n", upstream, slow, redis.url)
    )
    kinds = random.Random(3).choices(["ok", "fail", "hang", "abort"], weights=[5, 2, 1, 2], k=1000)

    async def run() -> None:
        limit = asyncio.Semaphore(32)
        async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=64)) as client:

            async def one(i: int, kind: str) -> None:
                async with limit:
                    await _maybe_abort(client, gateways[i % 2].url + "/v1/chat/completions", kind)

            await asyncio.gather(*(one(i, k) for i, k in enumerate(kinds)))

    try:
        asyncio.run(run())
        wait_for_free_slots(redis)  # the slow upstream answers aborted requests within 0.5 s
    finally:
        stop_all(gateways)


def test_redis_outage_fail_open_then_recovery(
    tmp_path: Path, upstream: Proc, slow: Proc, redis: RedisServer
) -> None:
    gateways = pair(write_setup(tmp_path, "[limits]\nrpm = 1000\n", upstream, slow, redis.url))
    try:
        assert post(gateways[0]).status_code == 200
        redis.stop()
        during = alternate(gateways, 20)
        assert [r.status_code for r in during] == [200] * 20, (
            "fail_open keeps serving on local limits"
        )
        records = wait_for_records(21, tmp_path / "a.jsonl", tmp_path / "b.jsonl")
        assert max(r["latency_ms"] for r in records) < 1000, (
            "a dead Redis never holds a request past its timeout"
        )
        metrics = httpx.get(gateways[0].url + "/metrics").text
        state_errors = [
            line for line in metrics.splitlines() if line.startswith("gateway_state_errors_total{")
        ]
        assert sum(float(line.split()[1]) for line in state_errors) > 0, "the outage is counted"
        redis.restart()
        # Each gateway refuses Redis calls at once until its background probe finds Redis back
        # (within a probe interval): wait until both count in Redis again.
        for gateway in gateways:
            before = requests_in_window(redis)
            wait_until(lambda: post(gateway) and requests_in_window(redis) > before, 5.0)
        after = alternate(gateways, 6)
        assert all(r.status_code == 200 for r in after)
        remaining = [int(r.headers["x-ratelimit-remaining-requests"]) for r in after]
        assert remaining == sorted(remaining, reverse=True) and len(set(remaining)) == 6, (
            "one shared window again"
        )
    finally:
        stop_all(gateways)


def test_redis_outage_fail_closed(
    tmp_path: Path, upstream: Proc, slow: Proc, redis: RedisServer
) -> None:
    gateways = pair(
        write_setup(
            tmp_path, "[limits]\nrpm = 1000\n", upstream, slow, redis.url, on_error="fail_closed"
        )
    )
    try:
        assert post(gateways[0]).status_code == 200
        redis.stop()
        response = post(gateways[1])
        assert response.status_code == 503 and response.headers["retry-after"] == "1"
        assert "fail_closed" in response.json()["error"]["message"]
        redis.restart()
        # Back within a probe interval of the background reconnect.
        wait_until(lambda: post(gateways[1]).status_code == 200, 5.0)
    finally:
        stop_all(gateways)
