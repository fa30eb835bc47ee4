"""Limits, budgets and the cache, exact across two gateway processes sharing one real Redis."""

from __future__ import annotations

import asyncio
import hashlib
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
from tests.e2e.records import read_records, wait_for_records
from tests.procs import Proc, start_gateway, start_gateways, start_mock_provider
from tests.redis_server import RedisServer, start_redis

KEY = "sk-limits-test"
AUTH = {"authorization": f"Bearer {KEY}"}
MESSAGES = [{"role": "user", "content": "hi"}]
# The echo model answers "hi": one completion token. With max_tokens = 1 the reservation
# (prompt estimate + max_tokens) equals the real usage, so token counts are known exactly.
TOKENS_PER_REQUEST = tokens.count_messages(MESSAGES) + 1


def config_text(
    upstream: Proc, slow: Proc, redis_url: str | None, log: Path, on_error: str = "fail_open"
) -> str:
    state = (
        f'[state]\nbackend = "redis"\nredis_url = "{redis_url}"\non_redis_error = "{on_error}"\n'
        if redis_url
        else ""
    )
    return f"""{state}
[logging]
path = "{log}"
include_bodies = true

[[providers]]
name = "mock"
type = "openai"
base_url = "{upstream.url}/v1"

[[providers]]
name = "slow"
type = "openai"
base_url = "{slow.url}/v1"

[[models]]
name = "echo"
[[models.deployments]]
provider = "mock"
model = "echo"
input_cost_per_1m = 1000.0
output_cost_per_1m = 2000.0

[[models]]
name = "slow"
[[models.deployments]]
provider = "slow"
model = "mock-small"

[[models]]
name = "failing"
[[models.deployments]]
provider = "mock"
model = "fail-500"

[[models]]
name = "hanging"
[[models.deployments]]
provider = "mock"
model = "fail-timeout"
first_token_timeout_s = 0.2

[[keys]]
id = "limited"
team = "qa"
policy = "limited"
key_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"
"""


def write_setup(
    root: Path,
    policy: str,
    upstream: Proc,
    slow: Proc,
    redis_url: str | None,
    on_error: str = "fail_open",
) -> list[Path]:
    (root / "policies").mkdir(parents=True, exist_ok=True)
    (root / "policies" / "limited.toml").write_text(policy)
    configs = []
    for name in ("a", "b"):
        path = root / f"{name}.toml"
        path.write_text(config_text(upstream, slow, redis_url, root / f"{name}.jsonl", on_error))
        configs.append(path)
    return configs


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
            line for line in metrics.splitlines() if line.startswith("gateway_state_errors_total ")
        ]
        assert state_errors and float(state_errors[0].split()[1]) > 0, "the outage is counted"
        redis.restart()
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
        assert response.status_code == 503
        assert "fail_closed" in response.json()["error"]["message"]
        redis.restart()
        assert post(gateways[1]).status_code == 200
    finally:
        stop_all(gateways)


def wait_for_cache_entry(url: str, body: dict[str, Any]) -> set[str]:
    """Wait until the gateway's cache holds an answer for `body` (it is stored off the request
    path); the ids of the probe requests, which look it up but store nothing."""
    probes: set[str] = set()

    def cached() -> bool:
        response = httpx.post(url, json=body, headers={**AUTH, "cache-control": "no-store"})
        probes.add(response.headers["x-request-id"])
        return response.headers["x-gateway-cache"] == "hit"

    wait_until(cached, 5, 0.02, "the answer was never stored")
    return probes


CACHE_POLICY = '[cache]\nmode = "exact"\nttl_s = 60\n'


def test_cache_hits_json_and_streams(tmp_path: Path, upstream: Proc, slow: Proc) -> None:
    gateway = start_gateway(write_setup(tmp_path, CACHE_POLICY, upstream, slow, None)[0])
    url = gateway.url + "/v1/chat/completions"
    body = {"model": "echo", "messages": [{"role": "user", "content": "cache me please"}]}
    try:
        first = httpx.post(url, json=body, headers=AUTH)
        second = httpx.post(url, json={**body, "user": "someone-else"}, headers=AUTH)
        assert (
            first.headers["x-gateway-cache"] == "miss"
            and second.headers["x-gateway-cache"] == "hit"
        )
        assert second.content == first.content
        bypass = httpx.post(url, json=body, headers={**AUTH, "cache-control": "no-cache"})
        assert bypass.headers["x-gateway-cache"] == "bypass"

        stream_body = {
            **body,
            "messages": [{"role": "user", "content": "stream me"}],
            "stream": True,
        }

        def stream_pieces() -> tuple[str, list[bytes]]:
            with httpx.stream("POST", url, json=stream_body, headers=AUTH) as response:
                return response.headers["x-gateway-cache"], list(response.iter_raw())

        miss, original = stream_pieces()
        probes = wait_for_cache_entry(url, {**stream_body, "stream": False})
        hit, replayed = stream_pieces()
        assert (miss, hit) == ("miss", "hit")
        assert b"".join(replayed) == b"".join(original)
        as_json = httpx.post(url, json={**stream_body, "stream": False}, headers=AUTH)
        assert as_json.headers["x-gateway-cache"] == "hit"
        assert as_json.json()["choices"][0]["message"]["content"] == "stream me"
    finally:
        gateway.stop()
    records = [r for r in read_records(tmp_path / "a.jsonl") if r["id"] not in probes]
    hits = [r for r in records if r["cache"] == "hit"]
    assert len(hits) == 3 and all(r["cost_usd"] == 0 and r["attempts"] == [] for r in hits)
