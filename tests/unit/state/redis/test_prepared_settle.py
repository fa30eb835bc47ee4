"""A settlement's Redis write prepared while the acquire's reply is awaited
(`RedisState.prepare_settle`, `AcquireResult.prepared`) is the write `_settle_ops` builds for it
at the end, byte for byte, and applies the same."""

from __future__ import annotations

import random
from collections.abc import Callable

from gateway.state import LimitCheck, MemoryState, Reservation, Settlement
from gateway.state.periods import DAY_S
from gateway.state.redis.backend import RedisState

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z


def _random_checks(rng: random.Random) -> tuple[LimitCheck, ...]:
    pool = [
        LimitCheck("key", "demo", "rpm", 50, 1),
        LimitCheck("key", "demo", "tpm", 9000, rng.randint(1, 400)),
        LimitCheck("key", "demo", "concurrent", 4, 1),
        LimitCheck("key", "demo", "budget_day", 1.0, 0.0),
        LimitCheck("team", "qa", "tpm", 90000, rng.randint(1, 400)),
        LimitCheck("team", "qa", "budget_month", 10.0, 0.0),
        LimitCheck("team", "qa", "budget_day", 5.0, 0.0),
        LimitCheck("model", "demo/gpt", "concurrent", 2, 1),
    ]
    return tuple(rng.sample(pool, rng.randint(1, len(pool))))


def test_a_prepared_write_is_the_write_built_at_the_end() -> None:
    rng = random.Random(11)
    state = RedisState("redis://127.0.0.1:1/0")  # never connects: only builds commands
    prepared_used = 0
    for i in range(400):
        at = T0 + rng.uniform(0, 3 * DAY_S)
        reservation = Reservation(f"tok{i}", _random_checks(rng), at)
        prepared = state.prepare_settle(reservation)
        tpm = [c.amount for c in reservation.checks if c.kind == "tpm"]
        tokens = rng.choice([0, 17, 300, *(int(a) for a in tpm)])
        cost = rng.choice([0.0, 0.0125, 3e-7])
        now = at + rng.choice([0.2, 5.0, DAY_S])  # a day later: the spend keys name another day
        settlement = Settlement(reservation, tokens, cost, prepared=prepared)
        plain = state._settle_ops([Settlement(reservation, tokens, cost)], now)
        expected = plain.call().evalsha() if plain.args else None
        call = state._settle_call([settlement], now)
        assert (call.evalsha() if call else None) == expected, (i, reservation, tokens, cost)
        if prepared is not None and prepared.fits(settlement, now):
            prepared_used += 1
    assert prepared_used > 100  # the prepared path itself was compared, not only the fallback


async def test_prepared_settlements_apply_as_the_plain_ones(
    make_redis_state: Callable[[], RedisState],
) -> None:
    redis_state, memory = make_redis_state(), MemoryState()
    checks = [
        LimitCheck("key", "demo", "tpm", 1000, 300),
        LimitCheck("key", "demo", "concurrent", 2, 1),
        LimitCheck("key", "demo", "budget_day", 1.0, 0.0),
    ]
    for step in range(3):
        now = T0 + step
        a, b = await memory.acquire(checks, now), await redis_state.acquire(checks, now)
        assert a.reservation is not None and b.reservation is not None
        prepared = b.prepared  # made by the acquire, while Redis ran the script
        assert prepared is not None and a.prepared is None  # memory state prepares nothing
        await memory.settle([Settlement(a.reservation, 120, 0.25)], now + 0.5)
        await redis_state.settle(
            [Settlement(b.reservation, 120, 0.25, prepared=prepared)], now + 0.5
        )
    assert await redis_state.usage("key", "demo", T0 + 3) == await memory.usage(
        "key", "demo", T0 + 3
    )
    assert (await redis_state.usage("key", "demo", T0 + 3))["tokens_1m"] == 360
    assert await redis_state.spend("key", "demo", T0 + 3) == await memory.spend(
        "key", "demo", T0 + 3
    )
