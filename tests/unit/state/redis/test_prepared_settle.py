"""A settlement's Redis write is encoded while the acquire's reply is awaited
(`settle_calls.PreparedSettles`, inside RedisState): it is the write built in full at the end,
byte for byte on the wire, and applies the same."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from gateway.state import LimitCheck, MemoryState, Reservation, Settlement, StateUnavailable
from gateway.state.periods import DAY_S
from gateway.state.redis.backend import RedisState
from gateway.state.redis.settle_calls import PreparedSettle, PreparedSettles, settle_ops
from tests.unit.state.redis.wiretap import wiretap

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z


def _random_checks(rng: random.Random, limit_scale: float = 1.0) -> tuple[LimitCheck, ...]:
    pool = [
        LimitCheck("key", "demo", "rpm", 50 * limit_scale, 1),
        LimitCheck("key", "demo", "tpm", 9000 * limit_scale, rng.randint(1, 400)),
        LimitCheck("key", "demo", "concurrent", 4 * limit_scale, 1),
        LimitCheck("key", "demo", "budget_day", 1.0 * limit_scale, 0.0),
        LimitCheck("team", "qa", "tpm", 90000 * limit_scale, rng.randint(1, 400)),
        LimitCheck("team", "qa", "budget_month", 10.0 * limit_scale, 0.0),
        LimitCheck("team", "qa", "budget_day", 5.0 * limit_scale, 0.0),
        LimitCheck("model", "demo/gpt", "concurrent", 2 * limit_scale, 1),
    ]
    return tuple(rng.sample(pool, rng.randint(1, len(pool))))


def _random_settlement(rng: random.Random, reservation: Reservation) -> tuple[Settlement, float]:
    """A settlement of `reservation` (exact tpm estimates and zero costs included) and when."""
    tpm = [c.amount for c in reservation.checks if c.kind == "tpm"]
    tokens = rng.choice([0, 17, 300, *(int(a) for a in tpm)])
    cost = rng.choice([0.0, 0.0125, 3e-7])
    now = reservation.at + rng.choice([0.2, 5.0, DAY_S])  # a day later: another day's spend keys
    return Settlement(reservation, tokens, cost), now


@pytest.fixture
def prepared_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the settlements sent from a prepared call (not built in full)."""
    used: list[int] = []
    call = PreparedSettle.call

    def counted(self: PreparedSettle, actual_tokens: int, cost_usd: float) -> object:
        used.append(1)
        return call(self, actual_tokens, cost_usd)

    monkeypatch.setattr(PreparedSettle, "call", counted)
    return used


def test_a_prepared_call_is_the_call_built_in_full(prepared_calls: list[int]) -> None:
    rng = random.Random(11)
    prepared = PreparedSettles()
    for i in range(400):
        reservation = Reservation(f"tok{i}", _random_checks(rng), T0 + rng.uniform(0, 3 * DAY_S))
        prepared.prepare(reservation)
        settlement, now = _random_settlement(rng, reservation)
        expected = settle_ops([settlement], now).call()
        call = prepared.settle_call([settlement], now)
        assert (call and call.evalsha()) == (expected and expected.evalsha()), (i, settlement)
        assert len(prepared) == 0  # used up, or dropped where it did not fit
    assert len(prepared_calls) > 100  # the prepared path itself was compared, not only the rest


def test_prepared_calls_are_bounded_and_dropped() -> None:
    prepared = PreparedSettles(limit=3)
    slot = (LimitCheck("key", "demo", "concurrent", 4, 1),)
    for i in range(5):
        prepared.prepare(Reservation(f"tok{i}", slot, T0))
    assert len(prepared) == 3  # tok0 and tok1, never settled, made room
    prepared.drop("tok3")
    prepared.prepare(Reservation("rpm-only", (LimitCheck("key", "demo", "rpm", 5, 1),), T0))
    assert len(prepared) == 2  # settling an rpm reservation writes nothing: nothing kept
    prepared.settle_call([Settlement(Reservation("tok2", slot, T0), 0, 0.0)], T0)
    assert len(prepared) == 1


async def test_settlements_write_the_same_bytes_with_or_without_a_prepared_call(
    redis_url: str, prepared_calls: list[int]
) -> None:
    """Replica A acquired each reservation (its settlement was prepared meanwhile); replica B
    never saw it and builds the settlement in full. Both write the same bytes to Redis."""
    rng = random.Random(5)
    async with wiretap(redis_url) as (written, url):
        a, b = RedisState(url, socket_timeout_s=2.0), RedisState(url, socket_timeout_s=2.0)
        try:
            # The server learns the settle script now: no NOSCRIPT (and EVAL) in what is compared.
            slot = (LimitCheck("key", "warm-up", "concurrent", 1, 1),)
            await b.settle([Settlement(Reservation("warm-up", slot, T0), 0, 0.0)], T0)
            for i in range(120):
                at = T0 + i * 3 * DAY_S / 120
                result = await a.begin_acquire(_random_checks(rng, limit_scale=1e6), at)
                assert result.reservation is not None
                settlement, now = _random_settlement(rng, result.reservation)
                sent = []
                for replica in (a, b):
                    written.clear()
                    await replica.settle([settlement], now)
                    sent.append(bytes(written))
                assert sent[0] == sent[1], (i, settlement)
        finally:
            await a.aclose()
            await b.aclose()
    assert len(prepared_calls) > 30


async def test_prepared_settlements_apply_as_the_plain_ones(
    make_redis_state: Callable[[], RedisState], prepared_calls: list[int]
) -> None:
    redis_state, memory = make_redis_state(), MemoryState()
    checks = [
        LimitCheck("key", "demo", "tpm", 1000, 300),
        LimitCheck("key", "demo", "concurrent", 2, 1),
        LimitCheck("key", "demo", "budget_day", 1.0, 0.0),
    ]
    await redis_state.ping()  # connected: the settlement is prepared while the script runs
    for step in range(3):
        now = T0 + step
        a, b = await memory.acquire(checks, now), await redis_state.begin_acquire(checks, now)
        assert a.reservation is not None and b.reservation is not None
        await memory.settle([Settlement(a.reservation, 120, 0.25)], now + 0.5)
        await redis_state.settle([Settlement(b.reservation, 120, 0.25)], now + 0.5)
    assert len(prepared_calls) == 3
    assert await redis_state.usage("key", "demo", T0 + 3) == await memory.usage(
        "key", "demo", T0 + 3
    )
    assert (await redis_state.usage("key", "demo", T0 + 3))["tokens_1m"] == 360
    assert await redis_state.spend("key", "demo", T0 + 3) == await memory.spend(
        "key", "demo", T0 + 3
    )


async def test_a_refusal_a_release_or_a_failure_keeps_no_prepared_call(
    make_redis_state: Callable[[], RedisState],
) -> None:
    state = make_redis_state()
    one_slot = [LimitCheck("key", "demo", "concurrent", 1, 1)]
    held = await state.begin_acquire(one_slot, T0)
    assert held.reservation is not None and len(state._prepared) == 1
    assert not (await state.begin_acquire(one_slot, T0)).allowed
    assert len(state._prepared) == 1  # the refused one's was dropped
    await state.release(held.reservation, T0)
    assert len(state._prepared) == 0

    unreachable = RedisState("redis://127.0.0.1:1/0", socket_timeout_s=0.25)
    with pytest.raises(StateUnavailable):
        await unreachable.begin_acquire(one_slot, T0)
    assert len(unreachable._prepared) == 0
    await unreachable.aclose()
