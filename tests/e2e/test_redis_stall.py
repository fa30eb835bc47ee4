"""A stalled Redis (SIGSTOP for 4 s, then SIGCONT) under load, through a real gateway: every
request during the stall costs at most one state timeout (the calls after the first failure
are refused at once while a background probe waits for Redis), none fails, and the shared
limits resume once Redis wakes. With a password too: reconnecting then means an AUTH, which
used to queue every caller behind one connection lock (p50 5.5 s with 40 concurrent
requests). Run through both clients."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis

from tests.conditions import wait_until
from tests.e2e.limits_setup import AUTH, MESSAGES, TOKENS_PER_REQUEST, write_setup
from tests.e2e.records import read_records
from tests.procs import Proc, start_gateways, start_mock_provider
from tests.redis_server import RedisServer, start_redis_or_skip

TIMEOUT_MS = 250
STALL_S = 4.0
# Under load, with few enough clients that those waiting for Redis when it stops stay well
# under 1 % of the requests during the stall (24 clients: 2,551 requests on a loaded machine, a
# p99 just below the waiters; 12: 3,700).
CONCURRENCY = 12
# The bound: p99 of the requests during the stall <= one timeout + 50 ms. Checked on
# what the gateway itself measured for the state call (the record's `limits_ms`), over every
# request in flight at some moment of the stall. Only the calls in flight when Redis stopped
# wait for it (one per client: the first timeout fails them all, at the oldest one's deadline);
# the thousands after them are refused at once, so the p99 is theirs while the waiters are
# fewer than 1 % of the requests (12 of 2,500-4,000 here). It fails when many requests wait:
# the queueing behind a reconnect this guards against gave p99 3.66 s (reintroduced to check).
WAIT_P99_BOUND_MS = TIMEOUT_MS + 50
# The waiters themselves: what is beyond the timeout is the event loop's lag, the released
# requests resuming one after another: 246-254 ms on a quiet machine (loadtests/redis_stall.py),
# 295-330 ms seen with a load average of 6.8 on 2 cores (other jobs: the loop gets a third of a
# core). Their median gets that margin; the max fails when a request waits two timeouts (a
# second call after the first timed out, or a wait for the connection's teardown). A request
# slowed by the machine just before the stop may count as a waiter too: twice the clients.
MEDIAN_WAIT_BOUND_MS = TIMEOUT_MS + 50 + 100
MAX_WAIT_BOUND_MS = 2 * TIMEOUT_MS
WAITERS_MAX = 2 * CONCURRENCY
# Whole requests, arrival to last byte, over the same requests: p99 is the released waiters'
# only if they are more than 1 % of the requests (a machine loaded enough serves fewer). A
# waiter's latency is its wait plus the rest of the request after it: the released requests
# resume in turn, each then makes its upstream call (254-265 ms with 24 clients on a quiet
# machine, loadtests/redis_stall.py measures it); a loaded 2-core machine (the gateway, its
# mock upstream, this load and Redis share it, with other jobs) adds tens of ms: margin 150 ms.
P99_BOUND_MS = TIMEOUT_MS + 50 + 150
# Slots held in Redis by the acquires given up on are freed once Redis answers (the issue: within
# 5 s of SIGCONT).
SLOTS_FREED_S = 5.0


@pytest.fixture(scope="module")
def upstream() -> Iterator[Proc]:
    proc = start_mock_provider()
    yield proc
    proc.stop()


@pytest.fixture
def server() -> Iterator[RedisServer]:
    started = start_redis_or_skip()
    yield started
    assert started.process is not None
    os.kill(started.process.pid, signal.SIGCONT)
    started.stop()


async def _load(url: str, stop: asyncio.Event, results: list[int]) -> None:
    body = {"model": "echo", "messages": MESSAGES, "max_tokens": 1}
    async with httpx.AsyncClient(timeout=30) as client:
        while not stop.is_set():
            response = await client.post(url + "/v1/chat/completions", json=body, headers=AUTH)
            results.append(response.status_code)


async def _stall_under_load(
    gateway: Proc, server: RedisServer, password: str | None, stall_s: float = STALL_S
) -> tuple[float, float, list[int], float]:
    """Load until warm, SIGSTOP Redis for STALL_S, SIGCONT, load a little more; the wall-clock
    times of the stop and the continue, every status seen, and how many requests Redis counted
    from the stop on."""
    assert server.process is not None
    statuses: list[int] = []
    stop = asyncio.Event()
    load = [asyncio.create_task(_load(gateway.url, stop, statuses)) for _ in range(CONCURRENCY)]
    while len(statuses) < 3 * CONCURRENCY:  # warm: every client has its connection
        await asyncio.sleep(0.01)
    before = _counted(server, password)
    stopped = time.time()
    os.kill(server.process.pid, signal.SIGSTOP)
    await asyncio.sleep(stall_s)
    os.kill(server.process.pid, signal.SIGCONT)
    resumed = time.time()
    seen = len(statuses)
    while len(statuses) < seen + 3 * CONCURRENCY or time.time() < resumed + 1.0:
        await asyncio.sleep(0.01)
    stop.set()  # the clients stop after their current request
    await asyncio.gather(*load)
    return stopped, resumed, statuses, _counted(server, password) - before


# With a password, the worst case (a reconnect is an AUTH the stalled server never answers);
# without one the same bound is checked in tests/unit/state/redis/test_backend.py.
@pytest.mark.parametrize(
    ("client", "password"),
    [("resp", "s3cret"), ("redis-py", "s3cret")],
    ids=["resp-password", "redis-py-password"],
)
def test_a_stalled_redis_costs_a_request_at_most_one_timeout(
    tmp_path: Path, upstream: Proc, server: RedisServer, client: str, password: str | None
) -> None:
    url = server.url
    if password is not None:
        with redis.Redis.from_url(url) as admin:
            admin.config_set("requirepass", password)
        url = f"redis://:{password}@127.0.0.1:{server.port}/0"
    config = write_setup(tmp_path, EVERY_KIND, upstream, upstream, url)[0]
    extra = f'client = "{client}"\ntimeout_ms = {TIMEOUT_MS}\n'
    config.write_text(config.read_text().replace("[state]\n", f"[state]\n{extra}", 1))
    (gateway,) = start_gateways([config])
    try:
        stopped, resumed, statuses, counted = asyncio.run(
            _stall_under_load(gateway, server, password)
        )
        assert set(statuses) == {200}, "fail_open: nothing fails, never a 500"
        metrics = httpx.get(gateway.url + "/metrics").text
        wait_until(
            lambda: _live_slots(server, password) == 0,
            max(0.0, resumed + SLOTS_FREED_S - time.time()),
            0.02,
            f"every concurrency slot free within {SLOTS_FREED_S:g} s of SIGCONT",
        )
    finally:
        gateway.stop()
    records = read_records(tmp_path / "a.jsonl")
    during = _check_state_waits(records, stopped, resumed)
    latencies = sorted(r["latency_ms"] for r in during)
    assert _p99(latencies) <= P99_BOUND_MS, (_p99(latencies), latencies[-5:])
    assert _counted_errors(metrics, "timeout") > 0 and _counted_errors(metrics, "down") > 0
    after = [r for r in records if r["ts"] > resumed + 0.5]
    assert after and all(r["status"] == 200 for r in after)
    assert counted >= len(after), "the shared limits count again once Redis answers"


RPM_ONLY = "[limits]\nrpm = 1000000\n"
EVERY_KIND = "[limits]\nrpm = 1000000\ntpm = 1000000000\nmax_concurrent = 1000\n"


@pytest.mark.parametrize(
    ("client", "policy"), [("resp", RPM_ONLY), ("redis-py", EVERY_KIND)], ids=["resp", "redis-py"]
)
def test_requests_refused_during_a_stall_are_not_counted(
    tmp_path: Path, upstream: Proc, server: RedisServer, client: str, policy: str
) -> None:
    """fail_closed: the acquires in flight when Redis stopped were written into its sockets; the
    gateway gave up on them and answered 503, and Redis runs them when it wakes. Once the
    abandons are written, Redis counts exactly the requests it admitted and the gateway served:
    requests (rpm), tokens (tpm), and no concurrency slot held. An rpm-only acquire has nothing
    to settle, so it used to leave no mark an abandon could find: every refused request stayed
    counted for a minute."""
    config = write_setup(tmp_path, policy, upstream, upstream, server.url, "fail_closed")[0]
    extra = f'client = "{client}"\ntimeout_ms = {TIMEOUT_MS}\n'
    config.write_text(config.read_text().replace("[state]\n", f"[state]\n{extra}", 1))
    (gateway,) = start_gateways([config])
    try:
        stopped, resumed, statuses, _ = asyncio.run(
            _stall_under_load(gateway, server, None, stall_s=1.0)
        )
        assert set(statuses) == {200, 503}, "fail_closed: refused during the stall, never a 500"
        served = statuses.count(200)
        expected = {"rpm": served, "tpm": 0, "slots": 0}
        if policy == EVERY_KIND:
            expected["tpm"] = served * TOKENS_PER_REQUEST
        wait_until(
            lambda: _usage(server) == expected,
            5.0,
            0.02,
            f"Redis should count the {served} requests served, no refused one: {expected}",
        )
    finally:
        gateway.stop()
    # Without a password, refused (503) instead of served: the same waits.
    _check_state_waits(read_records(tmp_path / "a.jsonl"), stopped, resumed)


def _check_state_waits(
    records: list[dict[str, Any]], stopped: float, resumed: float
) -> list[dict[str, Any]]:
    """The issue's bound on the state call of the requests during the stall, and that only
    those in flight when Redis stopped waited for it, none two timeouts; returns those
    requests: every one in flight at some moment of the stall (those that arrived before it
    and were still waiting for Redis are the ones that wait longest)."""
    during = [
        r for r in records if r["ts"] <= resumed and r["ts"] + r["latency_ms"] / 1000 >= stopped
    ]
    waits = sorted(r["limits_ms"] for r in during)
    waited = [wait for wait in waits if wait >= TIMEOUT_MS / 2]
    assert _p99(waits) <= WAIT_P99_BOUND_MS, (_p99(waits), len(during), waited)
    assert len(during) > 50, "the load kept going through the stall"
    # Only the calls in flight when Redis stopped wait for it; after the first timeout every
    # call is refused at once.
    assert 0 < len(waited) <= WAITERS_MAX, waited
    assert waits[len(waits) // 2] < 50, "after the first timeout, calls fail at once"
    assert statistics.median(waited) <= MEDIAN_WAIT_BOUND_MS, waited
    assert waited[-1] < MAX_WAIT_BOUND_MS, ("a request waited two timeouts", waited[-5:])
    return during


def _p99(sorted_values: list[float]) -> float:
    return sorted_values[int(len(sorted_values) * 0.99)]


def _live_slots(server: RedisServer, password: str | None) -> int:
    """The limited key's concurrency slots Redis holds now."""
    with redis.Redis(port=server.port, password=password) as admin:
        return int(admin.zcount("llmgw:{limits}:concurrent:key:limited", time.time(), "+inf"))


def _usage(server: RedisServer) -> dict[str, float]:
    """The limited key's requests and tokens in the window, and its live slots, in Redis."""
    with redis.Redis(port=server.port) as admin:
        tokens = float(admin.hget("llmgw:{limits}:tpm:key:limited", "sum") or 0)
        slots = admin.zcount("llmgw:{limits}:concurrent:key:limited", time.time(), "+inf")
    return {"rpm": _counted(server, None), "tpm": tokens, "slots": float(slots)}


def _counted(server: RedisServer, password: str | None) -> float:
    """The requests in the limited key's rpm window, as Redis has them."""
    with redis.Redis(port=server.port, password=password) as admin:
        return float(admin.hget("llmgw:{limits}:rpm:key:limited", "sum") or 0)


def _counted_errors(metrics: str, kind: str) -> float:
    prefix = f'gateway_state_errors_total{{kind="{kind}"}} '
    return sum(float(line.split()[-1]) for line in metrics.splitlines() if line.startswith(prefix))
