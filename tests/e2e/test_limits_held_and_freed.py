"""What a limit holds and when it lets go, with real gateways (one on memory state, or two
replicas on one real redis-server): a concurrency slot is free before the answer's last byte
leaves, a budget reserves each request's estimated cost with its check, and a Redis stall
(SIGSTOP) leaves no slot held once Redis runs again."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from gateway.state.redis.backend import RedisState
from tests.conditions import wait_until
from tests.e2e.limits_setup import AUTH, COST_PER_REQUEST, MESSAGES, write_setup
from tests.e2e.records import wait_for_records
from tests.procs import Proc, start_gateways, start_mock_provider
from tests.redis_server import RedisServer, start_redis

BACKENDS = ["memory", "redis"]


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
    if server.process is not None and server.process.poll() is None:
        os.kill(server.process.pid, signal.SIGCONT)  # never leave it stopped
    server.stop()


def gateways_for(
    backend: str, policy: str, root: Path, upstream: Proc, slow: Proc, redis: RedisServer | None
) -> list[Proc]:
    """One gateway on memory state, or two replicas sharing `redis`."""
    redis_url = redis.url if backend == "redis" and redis is not None else None
    configs = write_setup(root, policy, upstream, slow, redis_url)
    return start_gateways(configs if redis_url else configs[:1])


def stop_all(gateways: list[Proc]) -> None:
    for gateway in gateways:
        gateway.stop()


async def read_usage(redis: RedisServer, what: str, scope: str, subject: str) -> float:
    state = RedisState(redis.url)
    try:
        if what == "concurrent":
            return (await state.usage(scope, subject, time.time()))["concurrent"]
        return (await state.spend(scope, subject, time.time()))["day"]
    finally:
        await state.aclose()


def slots_in_use(redis: RedisServer) -> float:
    return asyncio.run(read_usage(redis, "concurrent", "key", "limited"))


async def keep_in_flight(
    urls: list[str], clients: int, total: int, model: str = "echo"
) -> Counter[int]:
    """`clients` loops, each sending its next request as soon as it has the previous answer,
    until `total` requests are answered; their statuses."""
    statuses: Counter[int] = Counter()
    sent = 0
    body = {"model": model, "messages": MESSAGES, "max_tokens": 1}
    async with httpx.AsyncClient(timeout=30) as client:

        async def loop() -> None:
            nonlocal sent
            while sent < total:
                sent += 1
                url = urls[sent % len(urls)] + "/v1/chat/completions"
                statuses[(await client.post(url, json=body, headers=AUTH)).status_code] += 1

        await asyncio.gather(*(loop() for _ in range(clients)))
    return statuses


def test_a_client_below_the_concurrency_cap_is_never_refused(
    tmp_path: Path, upstream: Proc, slow: Proc, redis: RedisServer
) -> None:
    """Cap 5, two replicas on Redis, and a client that never has more than 4 requests in
    flight, alternating replicas: not one 429.

    The issue's "30 s" is a request count here: 1,000 requests from 4 loops (a few seconds).
    Before, the slot was freed after the answer's last byte, by a settlement that could wait
    behind another one in flight, so the client's next request could find it still taken; on
    this machine that refused 1-5 of 2,000 such requests in 3 runs of 4 (most in the first
    half second, while the replicas' first settlements waited on the settle script's load).
    tests/unit/pipeline/test_finish.py pins the cause itself, deterministically, on memory and
    on Redis: the slot is free before the last byte is sent."""
    gateways = gateways_for(
        "redis", "[limits]\nmax_concurrent = 5\n", tmp_path, upstream, slow, redis
    )
    try:
        statuses = asyncio.run(keep_in_flight([g.url for g in gateways], 4, 1000))
    finally:
        stop_all(gateways)
    assert statuses == {200: 1000}


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_budget_holds_under_concurrent_requests(
    backend: str, tmp_path: Path, upstream: Proc, slow: Proc, request: pytest.FixtureRequest
) -> None:
    """20 requests at once (a 0.5 s upstream, so all are in flight together) against a team
    budget that fits 5: each reserves its estimated cost with the check, so the spend stays
    within the budget plus one request's cost (before: every one of them read a spend of 0 and
    all 20 were admitted). With `max_tokens = 1` the estimate is the actual cost, so exactly 5
    are admitted."""
    redis = request.getfixturevalue("redis") if backend == "redis" else None
    budget = round(COST_PER_REQUEST * 5.5, 9)
    policy = f"[team_limits]\nbudget_usd_per_day = {budget}\n"
    gateways = gateways_for(backend, policy, tmp_path, upstream, slow, redis)

    async def burst() -> list[httpx.Response]:
        body = {"model": "slow", "messages": MESSAGES, "max_tokens": 1}
        async with httpx.AsyncClient(timeout=30) as client:
            calls = [
                client.post(
                    gateways[i % len(gateways)].url + "/v1/chat/completions",
                    json=body,
                    headers=AUTH,
                )
                for i in range(20)
            ]
            return await asyncio.gather(*calls)

    try:
        responses = asyncio.run(burst())
        logs = [tmp_path / f"{name}.jsonl" for name in ("a", "b")[: len(gateways)]]
        records = wait_for_records(20, *logs, timeout_s=10)
        spent = asyncio.run(read_usage(redis, "spend", "team", "qa")) if redis else None
    finally:
        stop_all(gateways)
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {200: 5, 429: 15}
    refused = next(r for r in responses if r.status_code == 429)
    assert refused.json()["error"]["code"] == "budget_exceeded"
    assert int(refused.headers["retry-after"]) >= 1  # the budget's reset: the next UTC midnight
    recorded = sum(record["cost_usd"] for record in records)
    assert recorded <= budget + COST_PER_REQUEST
    assert recorded == pytest.approx(5 * COST_PER_REQUEST)
    if spent is not None:
        assert spent == pytest.approx(recorded)  # the estimates were replaced by the costs


def test_a_redis_stall_leaves_no_slot_held(
    tmp_path: Path, upstream: Proc, slow: Proc, redis: RedisServer
) -> None:
    """Two replicas (fail_open), cap 5, 4 clients sending back to back; Redis is stopped
    (SIGSTOP) until both replicas have given up on an acquire (a state error of kind
    "timeout") and 20 requests have been answered meanwhile (served on each replica's own
    limits), then continued (SIGCONT). The issue's 4 s stall works the same
    way, only longer: the acquires in flight when Redis stopped were written into its sockets,
    the replicas gave up on them, and Redis runs them when it wakes. Before, their slots stayed
    held for SLOT_TTL_S (600 s) and every request of the key got 429. Now the replicas abandon
    them by token as soon as Redis answers: every slot is free within 5 s of SIGCONT."""
    gateways = gateways_for(
        "redis", "[limits]\nmax_concurrent = 5\n", tmp_path, upstream, slow, redis
    )
    process = redis.process
    assert process is not None
    done: Counter[int] = Counter()
    stop = False

    async def load() -> None:
        body = {"model": "echo", "messages": MESSAGES, "max_tokens": 1}
        async with httpx.AsyncClient(timeout=30) as client:

            async def loop(i: int) -> None:
                while not stop:
                    url = gateways[i % 2].url + "/v1/chat/completions"
                    done[(await client.post(url, json=body, headers=AUTH)).status_code] += 1

            await asyncio.gather(*(loop(i) for i in range(4)))

    async def stall() -> float:
        nonlocal stop
        runner = asyncio.get_running_loop().create_task(load())
        await until(lambda: done.total() >= 40)  # the load runs on a live Redis first
        os.kill(process.pid, signal.SIGSTOP)
        stalled_at = done.total()
        await until(
            lambda: done.total() >= stalled_at + 20 and all(map(gave_up_on_an_acquire, gateways))
        )
        os.kill(process.pid, signal.SIGCONT)
        resumed = time.monotonic()
        stop = True
        await runner
        return resumed

    try:
        resumed = asyncio.run(stall())
        wait_until(
            lambda: slots_in_use(redis) == 0,
            max(0.1, 5.0 - (time.monotonic() - resumed)),
            0.02,
            "concurrency slots are still held after the stall",
        )
        after = asyncio.run(keep_in_flight([g.url for g in gateways], 4, 40))
    finally:
        stop_all(gateways)
    assert done[500] == 0
    assert after == {200: 40}


def gave_up_on_an_acquire(gateway: Proc) -> bool:
    """Whether the gateway counted a state call that timed out (an acquire it abandoned)."""
    metrics = httpx.get(gateway.url + "/metrics", timeout=5).text
    prefix = 'gateway_state_errors_total{kind="timeout"} '
    return any(
        float(line.split()[-1]) > 0 for line in metrics.splitlines() if line.startswith(prefix)
    )


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "the load did not progress"
        await asyncio.sleep(0.01)
