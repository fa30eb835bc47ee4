"""A settlement is applied once, however often it is sent: a call whose reply is lost (a reset
connection, a timeout) may have run in Redis all the same, and the limiter sends it again.
Applied twice, it would count the request's cost twice in the spend counters and take its
budget and token reservations back twice (a budget then admits more than it should)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence

import pytest
import redis

from gateway.config.state_types import RedisClientName
from gateway.limits.limiter import Limiter
from gateway.limits.summed_spend import SummedSpend
from gateway.observability.metrics import Metrics
from gateway.state import LimitCheck, RedisOptions, Settlement, StateUnavailable
from gateway.state.redis.backend import RedisState
from gateway.state.redis.keys import RETRY_MAX_AGE_S
from gateway.state.redis.settle_calls import settle_ops
from tests.conditions import eventually
from tests.unit.state.conftest import TEST_TIMEOUT_S

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z
CHECKS = [
    LimitCheck("key", "k", "concurrent", 5, 1),
    LimitCheck("key", "k", "tpm", 10_000, 100),
    LimitCheck("key", "k", "budget_day", 10.0, 0.5),
]
CLIENTS: list[RedisClientName] = ["resp", "redis-py"]


@pytest.fixture(params=CLIENTS)
async def state(redis_url: str, request: pytest.FixtureRequest) -> AsyncIterator[RedisState]:
    options = RedisOptions(url=redis_url, client=request.param, timeout_s=TEST_TIMEOUT_S)
    made = RedisState(options)
    yield made
    await made.aclose()


class LostReplies:
    """The state backend, but the replies of the next `lose` settlement calls are lost after
    they ran (as through a connection reset between Redis's reply and the gateway)."""

    def __init__(self, inner: RedisState, lose: int) -> None:
        self.inner = inner
        self.lose = lose

    def __getattr__(self, name: str) -> object:
        return getattr(self.inner, name)

    def _lost(self) -> bool:
        lost, self.lose = self.lose > 0, self.lose - 1
        return lost

    def start_settle(
        self, settlements: Sequence[Settlement], now: float
    ) -> asyncio.Future[None] | None:
        sent = self.inner.start_settle(settlements, now)
        if sent is None or not self._lost():
            return sent
        outcome: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        sent.add_done_callback(
            lambda _: outcome.set_exception(StateUnavailable("redis: connection lost"))
        )
        return outcome

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        await self.inner.settle(settlements, now)
        if self._lost():
            raise StateUnavailable("redis: no reply within 0.25 s", "timeout")


async def test_a_settlement_sent_again_applies_nothing(state: RedisState) -> None:
    held = await state.acquire(CHECKS, T0)
    assert held.reservation is not None
    settlement = Settlement(held.reservation, 40, 0.25)
    pending = state.start_settle([settlement], T0 + 1)
    assert pending is not None
    await pending
    for _ in range(2):  # its reply lost twice: sent again, the retry's reply lost too
        await state.settle([settlement], T0 + 2)
    assert await state.spend("key", "k", T0 + 2) == {"day": 0.25, "month": 0.25, "total": 0.25}
    assert (await state.usage("key", "k", T0 + 2))["tokens_1m"] == 40


async def test_the_limiter_retries_a_lost_reply_without_counting_twice(state: RedisState) -> None:
    lossy = LostReplies(state, lose=2)  # the settlement's, then its first retry's
    limiter = Limiter(lossy, Metrics(), "fail_closed", clock=lambda: T0)  # type: ignore[arg-type]
    limiter.start()
    try:
        held = await limiter.acquire(CHECKS)
        limiter.settle(held, 40, 0.25, (("key", "k"),))

        async def retried() -> bool:
            return lossy.lose < 0 and not limiter._retrying and not limiter._writes.sending

        assert await eventually(retried, 10.0)
    finally:
        await limiter.aclose()
    assert await state.spend("key", "k", T0) == {"day": 0.25, "month": 0.25, "total": 0.25}
    assert (await state.usage("key", "k", T0))["tokens_1m"] == 40
    assert (await state.usage("key", "k", T0))["concurrent"] == 0


async def test_summed_spend_sent_again_after_a_lost_reply_counts_once(
    state: RedisState,
) -> None:
    lossy = LostReplies(state, lose=1)
    spend = SummedSpend(lambda: None)
    errors: list[StateUnavailable] = []
    spend.add(0.25, (("key", "k"),), None, timed=False)
    assert not await spend.write(lossy, T0, errors.append)  # type: ignore[arg-type]
    spend.add(0.5, (("team", "t"),), None, timed=False)  # more spend meanwhile
    assert await spend.write(lossy, T0, errors.append)  # type: ignore[arg-type]
    assert not spend and [e.kind for e in errors] == ["timeout"]
    assert await state.spend("key", "k", T0) == {"day": 0.25, "month": 0.25, "total": 0.25}
    assert await state.spend("team", "t", T0) == {"day": 0.5, "month": 0.5, "total": 0.5}


async def test_summed_spend_refused_before_it_was_sent_is_summed_again() -> None:
    """(Redis known down: nothing ran; one sum per subject is kept, not one write per try.)"""

    class Down:
        async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
            raise StateUnavailable("redis: unreachable, reconnecting", "down")

    spend = SummedSpend(lambda: None)
    for _ in range(3):
        spend.add(0.25, (("key", "k"),), None, timed=False)
        assert not await spend.write(Down(), T0, lambda _: None)  # type: ignore[arg-type]
    assert len(spend) == 1 and spend.totals == {("key", "k"): 0.75}


async def test_a_receipt_outlives_the_retries_and_an_older_retry_is_dropped(
    state: RedisState, redis_url: str
) -> None:
    """A retry minutes later (Redis away, `fail_open` serving meanwhile) still finds its
    receipt; past `RETRY_MAX_AGE_S` the receipt may be gone (expired: deleted here, as Redis
    would), and the retry is dropped instead of counting the request a second time."""
    held = await state.acquire(CHECKS, T0)
    assert held.reservation is not None
    settlement = Settlement(held.reservation, 40, 0.25)
    await state.settle([settlement], T0 + 1)  # ran; say its reply was lost
    with redis.Redis.from_url(redis_url) as client:
        receipts = client.keys("llmgw:{limits}:s:*")
        assert len(receipts) == 1
        assert client.pttl(receipts[0]) > (RETRY_MAX_AGE_S + 10) * 1000  # Redis's own clock
        await state.settle([settlement], T0 + 1 + RETRY_MAX_AGE_S)  # the latest retry
        client.delete(*receipts)
    await state.settle([settlement], T0 + 2 + RETRY_MAX_AGE_S)  # too late: dropped
    assert await state.spend("key", "k", T0 + 2) == {"day": 0.25, "month": 0.25, "total": 0.25}
    assert (await state.usage("key", "k", T0 + 2))["tokens_1m"] == 40
    assert (await state.usage("key", "k", T0 + 2))["concurrent"] == 0


class AwayAfterOneRun:
    """Redis runs the first settlement call and its reply is lost; then it is away: each call
    is encoded (as the backend does before sending) and refused."""

    def __init__(self, inner: RedisState) -> None:
        self.inner = inner
        self.ran = False

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        if not self.ran:
            self.ran = True
            await self.inner.settle(settlements, now)
            raise StateUnavailable("redis: no reply within 0.25 s", "timeout")
        settle_ops(self.inner.keys, settlements, now)
        raise StateUnavailable("redis: unreachable, reconnecting", "down")


async def test_the_limiter_stops_retrying_a_settlement_too_late_to_apply_once(
    state: RedisState, caplog: pytest.LogCaptureFixture
) -> None:
    now = [T0]
    away = AwayAfterOneRun(state)
    limiter = Limiter(away, Metrics(), "fail_open", clock=lambda: now[0])  # type: ignore[arg-type]
    held = await state.acquire(CHECKS, T0)
    assert held.reservation is not None
    limiter._retry(away, [Settlement(held.reservation, 40, 0.25)])  # type: ignore[arg-type]
    await limiter._flush_settlements()  # ran, reply lost
    now[0] = T0 + RETRY_MAX_AGE_S  # Redis away since: still retried
    await limiter._flush_settlements()
    assert len(limiter._retrying) == 1
    now[0] = T0 + RETRY_MAX_AGE_S + 1  # too late: dropped, once
    await limiter._flush_settlements()
    assert not limiter._retrying
    assert sum("dropping 1 settlements" in r.getMessage() for r in caplog.records) == 1
    await limiter.aclose()
    assert await state.spend("key", "k", T0) == {"day": 0.25, "month": 0.25, "total": 0.25}


async def test_summed_spend_too_late_to_apply_once_is_not_kept(state: RedisState) -> None:
    away = AwayAfterOneRun(state)
    spend = SummedSpend(lambda: None)
    spend.add(0.25, (("key", "k"),), None, timed=False)
    assert not await spend.write(away, T0, lambda _: None)  # type: ignore[arg-type]
    assert not await spend.write(away, T0 + RETRY_MAX_AGE_S, lambda _: None)  # type: ignore[arg-type]
    assert len(spend) == 1  # still retried
    assert not await spend.write(away, T0 + RETRY_MAX_AGE_S + 1, lambda _: None)  # type: ignore[arg-type]
    assert not spend
    assert await state.spend("key", "k", T0) == {"day": 0.25, "month": 0.25, "total": 0.25}
