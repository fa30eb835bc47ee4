"""The limiter over a state backend: reserve, settle, fail open or closed when state is down."""

import asyncio
from collections.abc import Sequence

import pytest

from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.errors import RateLimited, ServiceUnavailable
from gateway.limits.limiter import HOLD_GRACE_S, Limiter
from gateway.observability.metrics import Metrics
from gateway.state import AcquireResult, LimitCheck, MemoryState, StateUnavailable
from gateway.state.base import Reservation, Settlement

MODEL = ModelConfig(
    "gpt", (DeploymentConfig(provider="p", model="m", input_cost_per_1m=1, output_cost_per_1m=2),)
)


class DownState(MemoryState):
    async def acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
        shape: object = None,
    ) -> AcquireResult:
        raise StateUnavailable("redis is down")

    async def abandon(self, reservations: Sequence[Reservation], now: float) -> None:
        raise StateUnavailable("redis is down")

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        raise StateUnavailable("redis is down")

    def start_settle(self, settlements: Sequence[Settlement], now: float) -> None:
        raise StateUnavailable("redis is down")


@pytest.mark.asyncio
async def test_fail_open_uses_local_limits() -> None:
    limiter = Limiter(DownState(), Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [LimitCheck("key", "k", "rpm", 2, 1)]
    await limiter.acquire(checks)
    await limiter.acquire(checks)
    with pytest.raises(RateLimited) as info:
        await limiter.acquire(checks)
    assert info.value.headers["retry-after"] == "60"
    assert limiter.metrics.state_errors.labels("connection")._value.get() == 3


@pytest.mark.asyncio
async def test_acquire_reads_the_models_breakers_in_the_same_call() -> None:
    state = MemoryState()
    await state.breaker_record("p/m", False, 1000.0, 1, 10, 30)
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1001.0)
    held = await limiter.acquire([LimitCheck("key", "k", "rpm", 2, 1)], MODEL)
    assert held is not None and held.breakers is not None
    assert held.breakers["p/m"].state == "open"
    held = await limiter.acquire([LimitCheck("key", "k", "rpm", 2, 1)])
    assert held is not None and held.breakers is None  # no model given: nothing read


@pytest.mark.asyncio
async def test_fail_open_leaves_the_breakers_to_the_router() -> None:
    limiter = Limiter(DownState(), Metrics(), "fail_open", clock=lambda: 1000.0)
    held = await limiter.acquire([LimitCheck("key", "k", "rpm", 2, 1)], MODEL)
    assert held is not None and held.breakers is None


@pytest.mark.asyncio
async def test_fail_closed_answers_503() -> None:
    limiter = Limiter(DownState(), Metrics(), "fail_closed")
    with pytest.raises(ServiceUnavailable) as refused:
        await limiter.acquire([LimitCheck("key", "k", "rpm", 2, 1)])
    # Says why (the state error's kind) and when to try again, as the SDKs read it.
    assert "(connection)" in refused.value.message and "fail_closed" in refused.value.message
    assert refused.value.headers == {"retry-after": "1"}


@pytest.mark.asyncio
async def test_settlements_are_kept_until_the_state_returns() -> None:
    down = DownState()
    limiter = Limiter(down, Metrics(), "fail_open", clock=lambda: 1000.0)
    limiter.settle(None, 10, 0.25, (("key", "k"),))
    await limiter.flush()
    assert len(limiter._spend) == 1  # not lost
    limiter.state = MemoryState()
    await limiter.aclose()
    assert (await limiter.state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.25)


class CountingState(MemoryState):
    """MemoryState that counts settle round trips and what each carried."""

    def __init__(self) -> None:
        super().__init__()
        self.settle_calls: list[int] = []

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        self.settle_calls.append(len(settlements))
        await super().settle(settlements, now)


@pytest.mark.asyncio
async def test_spend_without_a_budget_is_summed_per_subject_and_written_in_one_round_trip() -> None:
    state = CountingState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    for _ in range(10):
        limiter.settle(None, 10, 0.125, (("key", "k"), ("team", "t")))
    assert state.settle_calls == []  # nothing on the request path
    await limiter.flush()
    assert state.settle_calls == [2]  # one call, one settlement per subject
    assert (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(1.25)
    assert (await state.spend("team", "t", 1000.0))["total"] == pytest.approx(1.25)


@pytest.mark.asyncio
async def test_slots_and_budgeted_spend_are_settled_at_once_the_rest_later() -> None:
    state = CountingState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [
        LimitCheck("key", "k", "concurrent", 1, 1),
        LimitCheck("team", "t", "budget_day", 1.0, 0.5),
    ]
    held = await limiter.acquire(checks)
    limiter.settle(held, 30, 0.25, (("key", "k"), ("team", "t")))
    await limiter._flush_settlements()  # what the flusher sends as soon as it can
    assert (await state.usage("key", "k", 1000.0))["concurrent"] == 0  # the slot is free
    assert (await state.spend("team", "t", 1000.0))["total"] == pytest.approx(
        0.25
    )  # the budget sees it
    assert (await state.spend("key", "k", 1000.0))["total"] == 0  # no budget on the key: later
    await limiter.aclose()
    assert (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.25)
    assert (await state.spend("team", "t", 1000.0))["total"] == pytest.approx(0.25)  # counted once


@pytest.mark.asyncio
async def test_the_running_flusher_writes_summed_spend_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    import gateway.limits.summed_spend

    monkeypatch.setattr(gateway.limits.summed_spend, "SPEND_FLUSH_S", 0.01)
    state = CountingState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    limiter.start()
    limiter.settle(None, 10, 0.5, (("key", "k"),))
    limiter.settle(None, 10, 0.5, (("key", "k"),))
    for _ in range(200):
        if state.settle_calls:
            break
        await asyncio.sleep(0.01)
    assert state.settle_calls == [1]
    assert (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(1.0)
    await limiter.aclose()


@pytest.mark.asyncio
async def test_a_slot_is_free_before_settle_returns() -> None:
    state = MemoryState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    held = await limiter.acquire([LimitCheck("key", "k", "concurrent", 1, 1)])
    limiter.settle(held, 30, 0.0, ())
    assert (await state.usage("key", "k", 1000.0))["concurrent"] == 0  # no flusher ran


@pytest.mark.asyncio
async def test_a_settlement_that_cannot_be_sent_is_retried_by_the_flusher() -> None:
    state = MemoryState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    held = await limiter.acquire([LimitCheck("key", "k", "concurrent", 1, 1)])
    assert held is not None
    held.backend = DownState()  # the state went away between the acquire and the settle
    limiter.settle(held, 30, 0.0, ())
    assert limiter._retrying  # kept for the flusher, not lost
    await limiter.flush()
    assert limiter._retrying and limiter.metrics.state_errors.labels("connection")._value.get() == 1
    held.backend = state  # back: the next flush frees the slot
    limiter._retrying = [(settlement, state) for settlement, _ in limiter._retrying]
    await limiter.flush()
    assert not limiter._retrying
    assert (await state.usage("key", "k", 1000.0))["concurrent"] == 0


class TimingOutWrites(MemoryState):
    """MemoryState whose settlement writes start, then time out (a Redis that stalled): a
    future from `start_settle`, as Redis gives, where MemoryState's own returns None."""

    def start_settle(  # type: ignore[override]
        self, settlements: Sequence[Settlement], now: float
    ) -> asyncio.Future[None]:
        failed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        failed.set_exception(StateUnavailable("redis: no reply within 0.25 s", "timeout"))
        return failed


@pytest.mark.asyncio
async def test_a_settlement_write_that_times_out_is_counted_as_a_state_error() -> None:
    """A freed slot's and a settlement's write count in gateway_state_errors_total when they
    fail, as an acquire does (they used to be retried uncounted: a stall whose first timeout
    was a settlement's showed no "timeout" at all)."""
    state = TimingOutWrites()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [LimitCheck("key", "k", "concurrent", 5, 1), LimitCheck("key", "k", "tpm", 1e6, 30)]
    held = await limiter.acquire(checks)
    limiter.free_slots(held)
    limiter.settle(held, 12, 0.0, ())
    await asyncio.sleep(0)  # the futures' callbacks
    assert limiter.metrics.state_errors.labels("timeout")._value.get() == 2
    assert len(limiter._retrying) == 2  # and both retried


class SlowState(MemoryState):
    """MemoryState whose settle waits until `go` is set, counting the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()
        self.calls = 0

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        self.calls += 1
        await self.go.wait()
        await super().settle(settlements, now)


@pytest.mark.asyncio
async def test_spend_that_arrives_during_a_write_is_not_mistaken_for_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a refused write waits FLUSH_RETRY_S before the next one; spend added while a write
    is in flight goes on the next spend timer."""
    import gateway.limits.summed_spend

    monkeypatch.setattr(gateway.limits.summed_spend, "SPEND_FLUSH_S", 0.01)
    monkeypatch.setattr(gateway.limits.limiter, "FLUSH_RETRY_S", 60.0)
    state = SlowState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    limiter.start()
    limiter.settle(None, 10, 0.5, (("key", "k"),))
    for _ in range(200):  # the first write is in flight
        if state.calls:
            break
        await asyncio.sleep(0.01)
    limiter.settle(None, 10, 0.25, (("key", "k"),))  # arrives meanwhile
    state.go.set()
    for _ in range(200):
        if (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.75):
            break
        await asyncio.sleep(0.01)
    assert (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.75)
    await limiter.aclose()


class LostReplyState(MemoryState):
    """MemoryState whose acquires run but whose replies never arrive (a Redis that stalls after
    reading the command): the acquire reserves, then the caller gets StateUnavailable."""

    async def acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
        shape: object = None,
    ) -> AcquireResult:
        await super().acquire(checks, now, breakers, token=token, hold_s=hold_s)
        raise StateUnavailable("redis: no reply within 0.25 s")


@pytest.mark.asyncio
async def test_an_acquire_given_up_on_is_abandoned_once_the_state_answers() -> None:
    state = LostReplyState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [LimitCheck("key", "k", "concurrent", 2, 1), LimitCheck("key", "k", "tpm", 1e6, 30)]
    held = await limiter.acquire(checks, deadline_s=60.0)
    assert held is not None and held.backend is limiter.local  # served on the local limits
    assert (await state.usage("key", "k", 1000.0))["concurrent"] == 1  # what the stall left
    await limiter.flush()  # the flusher's job, as soon as the state answers
    assert await state.usage("key", "k", 1000.0) == {
        "requests_1m": 0,
        "tokens_1m": 0,
        "concurrent": 0,
    }


@pytest.mark.asyncio
async def test_abandons_are_kept_while_the_state_is_away() -> None:
    limiter = Limiter(DownState(), Metrics(), "fail_open", clock=lambda: 1000.0)
    await limiter.acquire([LimitCheck("key", "k", "concurrent", 2, 1)])
    await limiter.flush()
    assert len(limiter._abandoned) == 1  # refused: kept for the next round
    limiter.state = MemoryState()
    await limiter.flush()
    assert len(limiter._abandoned) == 0


@pytest.mark.asyncio
async def test_the_hold_is_the_requests_deadline_plus_a_grace() -> None:
    state = MemoryState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    held = await limiter.acquire([LimitCheck("key", "k", "concurrent", 1, 1)], None, 30)
    assert held is not None and held.reservation.hold_s == 30 + HOLD_GRACE_S
    assert (await state.usage("key", "k", 1000.0 + 30 + HOLD_GRACE_S))["concurrent"] == 0


@pytest.mark.asyncio
async def test_a_request_held_in_process_adds_its_whole_cost_to_the_shared_spend() -> None:
    # fail_open while Redis is away: the budget reserved in this process settles here, and the
    # cost still reaches the shared state once it answers, the budgeted subject's included.
    limiter = Limiter(DownState(), Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [LimitCheck("team", "t", "budget_day", 1.0, 0.5)]
    held = await limiter.acquire(checks)
    assert held is not None and held.backend is limiter.local
    limiter.settle(held, 30, 0.25, (("key", "k"), ("team", "t")))
    assert (await limiter.local.spend("team", "t", 1000.0))["total"] == pytest.approx(0.25)
    limiter.state = MemoryState()  # Redis is back
    await limiter.aclose()
    assert (await limiter.state.spend("team", "t", 1000.0))["total"] == pytest.approx(0.25)
    assert (await limiter.state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.25)


@pytest.mark.asyncio
async def test_a_request_held_in_process_and_settled_before_its_last_byte_adds_its_whole_cost() -> (
    None
):
    """As above, when the usage is known before the answer's last byte
    (`settle_before_last_byte`, which writes `_add_spend`'s work out for a `Held`)."""
    limiter = Limiter(DownState(), Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [
        LimitCheck("team", "t", "concurrent", 2, 1),
        LimitCheck("team", "t", "budget_day", 1.0, 0.5),
    ]
    held = await limiter.acquire(checks)
    assert held is not None and held.backend is limiter.local
    limiter.settle_before_last_byte(held, 30, 0.25, (("key", "k"), ("team", "t")))
    limiter.settle(held, 30, 0.25, (("key", "k"), ("team", "t")))  # settled already: nothing
    assert (await limiter.local.spend("team", "t", 1000.0))["total"] == pytest.approx(0.25)
    limiter.state = MemoryState()  # Redis is back
    await limiter.aclose()
    assert (await limiter.state.spend("team", "t", 1000.0))["total"] == pytest.approx(0.25)
    assert (await limiter.state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.25)


@pytest.mark.asyncio
async def test_a_rate_limit_says_its_wait_in_milliseconds_too() -> None:
    """`retry-after-ms`, which the OpenAI and Anthropic SDKs read before `Retry-After` (whole
    seconds, at least 1): a slot that frees in 0.3 s is retried then, not after a second. Before,
    the gateway's own 429 said only `Retry-After`, as its router's 429 did not."""
    now = [1000.0]
    limiter = Limiter(MemoryState(), Metrics(), "fail_open", clock=lambda: now[0])
    checks = [LimitCheck("key", "k", "rpm", 1, 1)]
    await limiter.acquire(checks)
    now[0] = 1059.7
    with pytest.raises(RateLimited) as refused:
        await limiter.acquire(checks)
    assert refused.value.headers["retry-after"] == "1"
    assert refused.value.headers["retry-after-ms"] == "300"
