"""When a settlement started without an await (`RedisState.start_settle`) is encoded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import redis

from gateway.config.state_types import RedisClientName
from gateway.state import LimitCheck, RedisOptions, Reservation, Settlement, StateUnavailable
from gateway.state.redis import backend
from gateway.state.redis.backend import RedisState
from gateway.state.redis.keys import KeyNames
from gateway.state.redis.settle_calls import ApplyOps
from gateway.state.redis.settle_calls import settle_ops as real_settle_ops
from gateway.state.redis.wire import bulk
from tests.unit.state.conftest import TEST_TIMEOUT_S

T0 = 1_768_435_200.0  # 2026-01-15T00:00:00Z
SLOT = LimitCheck("key", "demo", "concurrent", 1, 1)


async def test_a_settlement_is_encoded_as_it_is_written_at_the_end_of_the_turn(
    redis_url: str,
    make_redis_state: Callable[[], RedisState],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Started just before an answer's last byte, its encoding must not hold that byte back:
    it happens when the turn's calls are written, after the byte has left."""
    state = make_redis_state()
    acquired = await state.acquire([SLOT], T0)
    assert acquired.reservation is not None
    encoded: list[int] = []

    def settle_ops(names: KeyNames, settlements: list[Settlement], now: float) -> ApplyOps:
        encoded.append(len(settlements))
        return real_settle_ops(names, settlements, now)

    monkeypatch.setattr(backend, "settle_ops", settle_ops)
    done = state.start_settle([Settlement(acquired.reservation, 1, 0.0)], T0 + 1)
    assert done is not None
    assert encoded == []  # not yet: the caller goes on to send its last byte
    await done
    assert encoded == [1]
    with redis.Redis.from_url(redis_url) as client:
        assert client.zcount("llmgw:{limits}:concurrent:key:demo", "(0", "+inf") == 0


async def test_a_settlement_with_nothing_to_write_needs_no_write(
    make_redis_state: Callable[[], RedisState],
) -> None:
    state = make_redis_state()
    assert await state.ping()
    nothing = Settlement(Reservation("t", (), T0, 1.0), 0, 0.0)
    assert state.start_settle([nothing], T0) is None  # found out now, not at the write


@pytest.mark.parametrize("client", ["resp", "redis-py"])
async def test_the_settlements_of_one_turn_leave_in_one_script_call(
    redis_url: str, client: RedisClientName
) -> None:
    """At c = 64 a turn of the loop ends many answers: one call settles them all (each client
    encodes the turn's calls as it sends them), and their tpm changes to one bucket are
    summed."""
    state = RedisState(RedisOptions(url=redis_url, client=client, timeout_s=TEST_TIMEOUT_S))
    try:
        await _settle_three_in_one_turn(redis_url, state)
    finally:
        await state.aclose()


async def _settle_three_in_one_turn(redis_url: str, state: RedisState) -> None:
    checks = [
        LimitCheck("key", "demo", "concurrent", 3, 1),
        LimitCheck("key", "demo", "tpm", 1e4, 100),
    ]
    held = [(await state.acquire(checks, T0)).reservation for _ in range(3)]
    assert all(reservation is not None for reservation in held)
    assert (await state.usage("key", "demo", T0 + 1))["tokens_1m"] == 300  # reserved
    with redis.Redis.from_url(redis_url) as client:
        client.config_resetstat()
        started = [
            state.start_settle([Settlement(reservation, 40, 0.0)], T0 + 1)
            for reservation in held
            if reservation is not None
        ]
        await asyncio.gather(*(pending for pending in started if pending is not None))
        assert len(started) == 3 and None not in started
        assert client.info("commandstats")["cmdstat_evalsha"]["calls"] == 1
        assert await state.usage("key", "demo", T0 + 1) == {
            "requests_1m": 0,
            "tokens_1m": 120,  # 3 x 40 used of the 3 x 100 reserved
            "concurrent": 0,
        }
        # Started after that call was written: a call of its own.
        again = (await state.acquire(checks, T0 + 2)).reservation
        assert again is not None
        client.config_resetstat()
        pending = state.start_settle([Settlement(again, 10, 0.0)], T0 + 3)
        assert pending is not None
        await pending
        assert client.info("commandstats")["cmdstat_evalsha"]["calls"] == 1
        assert (await state.usage("key", "demo", T0 + 3))["tokens_1m"] == 130


async def test_a_settlement_does_not_join_a_call_that_failed(
    make_redis_state: Callable[[], RedisState], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call that failed before it was written (the connection closed) is never encoded: the
    settlements after it start a call of their own instead of joining a failed one."""
    state = make_redis_state()
    acquired = await state.acquire([SLOT], T0)
    assert acquired.reservation is not None
    loop = asyncio.get_running_loop()
    sent: list[Callable[[], bytes] | bytes] = []

    def send_soon_applied(
        command: Callable[[], bytes] | bytes, noscript: Callable[[], bytes] | None = None
    ) -> asyncio.Future[None]:
        sent.append(command)
        failed: asyncio.Future[None] = loop.create_future()
        failed.set_exception(StateUnavailable("redis: connection lost"))
        return failed

    monkeypatch.setattr(state._client, "send_soon_applied", send_soon_applied)
    settlement = Settlement(acquired.reservation, 1, 0.0)
    first = state.start_settle([settlement], T0 + 1)
    second = state.start_settle([settlement], T0 + 1)
    assert first is not None and second is not None and first is not second
    assert len(sent) == 2
    for pending in (first, second):
        with pytest.raises(StateUnavailable):
            await pending


def test_tpm_changes_to_one_bucket_are_summed() -> None:
    tpm = LimitCheck("key", "demo", "tpm", 1e4, 100)
    settlements = [
        Settlement(Reservation("a", (tpm,), T0 + 0.2, 1.0), 30, 0.0),
        Settlement(Reservation("b", (tpm,), T0 + 0.7, 1.0), 50, 0.0),
        Settlement(Reservation("c", (tpm,), T0 + 1.1, 1.0), 100, 0.0),  # the next second's
    ]
    ops = real_settle_ops(KeyNames(), settlements, T0 + 2)
    window_ops = [
        ops.args[i : i + 4] for i in range(0, len(ops.args), 4) if ops.args[i] == bulk("w")
    ]
    assert window_ops == [
        [
            bulk("w"),
            ops.keys[bulk("llmgw:{limits}:tpm:key:demo")],
            bulk(str(int(T0))),
            bulk("-120.0"),
        ]
    ]  # -70 and -50 in T0's bucket; nothing to change in the next one's


@pytest.mark.parametrize("client", ["resp", "redis-py"])
async def test_a_settlement_on_a_server_without_the_script_applies_in_its_round_trip(
    redis_url: str, client: RedisClientName
) -> None:
    """A restarted, flushed or newly promoted server lacks the script: the settlement's EVALSHA
    gets NOSCRIPT and the client sends its EVAL at once, so the slot is free when the future
    ends (not on the limiter's retry half a second later, nor counted as a state error)."""
    state = RedisState(RedisOptions(url=redis_url, client=client, timeout_s=TEST_TIMEOUT_S))
    try:
        acquired = await state.acquire([SLOT], T0)
        assert acquired.reservation is not None
        nothing = Reservation("", (), T0, 1.0)
        with redis.Redis.from_url(redis_url) as admin:
            admin.script_flush()
            slot = state.start_settle([Settlement(acquired.reservation, 1, 0.0)], T0 + 1)
            spend = state.start_settle([Settlement(nothing, 0, 0.5, (("key", "demo"),))], T0 + 1)
            assert slot is not None and spend is not None
            await slot
            await spend
            assert admin.zcount("llmgw:{limits}:concurrent:key:demo", "(0", "+inf") == 0
            assert float(admin.get("llmgw:{limits}:spend:key:demo:total") or 0) == 0.5
    finally:
        await state.aclose()
