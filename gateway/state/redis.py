"""The Redis state backend: several gateway replicas share limits, budgets, cache and breakers.

Every check-and-reserve is one Lua script (`lua/*.lua`, run by EVALSHA), so replicas can never
overshoot a limit between a read and a write. Round trips per request: one `acquire` before the
upstream call and one `settle` after it (for a whole batch).

Key layout (prefix `llmgw:`; the `{...}` part is the Redis Cluster hash tag):

    llmgw:{limits}:rpm:<scope>:<subject>          hash: <second> -> amount, t<second> -> latest use
    llmgw:{limits}:tpm:<scope>:<subject>          hash, as rpm
    llmgw:{limits}:concurrent:<scope>:<subject>   zset: reservation token -> slot expiry
    llmgw:{limits}:spend:<scope>:<subject>:day:<YYYY-MM-DD>   USD (float string), TTL 2 days
    llmgw:{limits}:spend:<scope>:<subject>:month:<YYYY-MM>    USD, TTL 62 days
    llmgw:{limits}:spend:<scope>:<subject>:total              USD, no TTL
    llmgw:{breakers}:<deployment>                 hash: see lua/breaker_record.lua
    llmgw:{cache:<key>}                           string: 8-byte expiry (big-endian double) + value

All limit keys share the `{limits}` tag, so on Redis Cluster they live in one slot and a single
script can touch every key of a request; breakers share `{breakers}` so many are read in one
round trip. The price is that limits do not spread over cluster shards; cache entries do, each
under its own tag.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import struct
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from gateway.state import breaker
from gateway.state.base import (
    CONCURRENT_RETRY_S,
    SLOT_TTL_S,
    WINDOW_KINDS,
    WINDOW_S,
    AcquireResult,
    BreakerState,
    CheckResult,
    LimitCheck,
    Reservation,
    Settlement,
    StateUnavailable,
    acquire_result,
    spend_subjects,
)
from gateway.state.periods import DAY_S, Periods, periods

LIMITS = "llmgw:{limits}:"
BREAKERS = "llmgw:{breakers}:"
# Real Redis TTLs only clean up; the limit logic itself runs on the injected clock.
WINDOW_KEY_TTL_S = 2 * WINDOW_S
DAY_KEY_TTL_S = int(2 * DAY_S)
MONTH_KEY_TTL_S = int(62 * DAY_S)
BREAKER_KEY_TTL_S = int(DAY_S)
_EXPIRY = struct.Struct(">d")
_LUA = Path(__file__).with_name("lua")


def _script_text(name: str) -> str:
    return (_LUA / f"{name}.lua").read_text()


@contextlib.contextmanager
def _unavailable() -> Iterator[None]:
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, ReadOnlyError, OSError) as exc:
        raise StateUnavailable(f"redis: {exc}") from exc


def limit_key(kind: str, scope: str, subject: str) -> str:
    return f"{LIMITS}{kind}:{scope}:{subject}"


def spend_keys(scope: str, subject: str, period: Periods) -> tuple[str, str, str]:
    """The day, month and all-time spend counters of one subject."""
    base = f"{LIMITS}spend:{scope}:{subject}:"
    return f"{base}day:{period.day}", f"{base}month:{period.month}", f"{base}total"


def cache_key(key: str) -> str:
    return f"llmgw:{{cache:{key}}}"


def _counter(check: LimitCheck, period: Periods, now: float) -> tuple[str, str, float]:
    """How `lua/acquire.lua` sees a check: (kind code, key, hint)."""
    if check.kind in WINDOW_KINDS:
        return "w", limit_key(check.kind, check.scope, check.subject), 0.0
    if check.kind == "concurrent":
        return "c", limit_key("concurrent", check.scope, check.subject), CONCURRENT_RETRY_S
    day, month, _ = spend_keys(check.scope, check.subject, period)
    if check.kind == "budget_day":
        return "b", day, period.day_end - now
    return "b", month, period.month_end - now


class RedisState:
    name = "redis"

    def __init__(
        self,
        url: str,
        *,
        socket_timeout_s: float = 0.25,
        pool_size: int = 32,
        pool_timeout_s: float = 1.0,
        slot_ttl_s: float = SLOT_TTL_S,
    ) -> None:
        """`socket_timeout_s` bounds connecting and every reply, with no retries, so a dead Redis
        fails a call fast (StateUnavailable) instead of hanging it. `pool_timeout_s` bounds the
        wait for a free connection when `pool_size` calls are already in flight. Connections
        that died with the server are detected and reopened when taken from the pool, so the
        backend recovers by itself once Redis is back."""
        self.slot_ttl_s = slot_ttl_s
        self._pool: BlockingConnectionPool = BlockingConnectionPool.from_url(
            url,
            max_connections=pool_size,
            timeout=pool_timeout_s,
            socket_timeout=socket_timeout_s,
            socket_connect_timeout=socket_timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._redis = Redis(connection_pool=self._pool)
        self._acquire = self._redis.register_script(_script_text("acquire"))
        self._apply = self._redis.register_script(_script_text("apply"))
        self._usage = self._redis.register_script(_script_text("usage"))
        self._breaker_record = self._redis.register_script(_script_text("breaker_record"))
        self._breaker_probe = self._redis.register_script(_script_text("breaker_probe"))

    # -- limits -----------------------------------------------------------------------------

    async def acquire(self, checks: Sequence[LimitCheck], now: float) -> AcquireResult:
        token = secrets.token_hex(8)
        if not checks:
            return acquire_result(checks, [], token, now)
        period = periods(now)
        keys: list[str] = []
        args: list[str] = [
            repr(now),
            str(math.floor(now)),
            token,
            repr(now + self.slot_ttl_s),
            str(int(self.slot_ttl_s * 1000)),
            repr(WINDOW_S),
            str(int(WINDOW_KEY_TTL_S * 1000)),
        ]
        for check in checks:
            code, key, hint = _counter(check, period, now)
            keys.append(key)
            args += [code, repr(float(check.limit)), repr(float(check.amount)), repr(hint)]
        with _unavailable():
            reply = await self._acquire(keys, args)
        results = [
            CheckResult(
                check,
                reply[1 + 3 * i] == 1,
                float(reply[2 + 3 * i]),
                float(reply[3 + 3 * i]),
            )
            for i, check in enumerate(checks)
        ]
        return acquire_result(checks, results, token, now)

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        ops = _Ops()
        period = periods(now)
        for settlement in settlements:
            reservation = settlement.reservation
            for check in reservation.checks:
                if check.kind == "concurrent":
                    ops.free_slot(check, reservation.token)
                elif check.kind == "tpm":
                    ops.adjust(check, reservation.at, settlement.actual_tokens - check.amount)
            if settlement.cost_usd:
                for scope, subject in spend_subjects(settlement):
                    day, month, total = spend_keys(scope, subject, period)
                    ops.add_spend(day, settlement.cost_usd, DAY_KEY_TTL_S)
                    ops.add_spend(month, settlement.cost_usd, MONTH_KEY_TTL_S)
                    ops.add_spend(total, settlement.cost_usd, 0)
        await self._run(ops)

    async def release(self, reservation: Reservation, now: float) -> None:
        ops = _Ops()
        for check in reservation.checks:
            if check.kind == "concurrent":
                ops.free_slot(check, reservation.token)
            elif check.kind in WINDOW_KINDS:
                ops.adjust(check, reservation.at, -check.amount)
        await self._run(ops)

    async def _run(self, ops: _Ops) -> None:
        if ops.args:
            with _unavailable():
                await self._apply(list(ops.keys), ops.args)

    async def spend(self, scope: str, subject: str, now: float) -> dict[str, float]:
        with _unavailable():
            values = await self._redis.mget(spend_keys(scope, subject, periods(now)))
        day, month, total = (float(value) if value is not None else 0.0 for value in values)
        return {"day": day, "month": month, "total": total}

    async def usage(self, scope: str, subject: str, now: float) -> dict[str, float]:
        keys = [limit_key(kind, scope, subject) for kind in ("rpm", "tpm", "concurrent")]
        with _unavailable():
            requests, tokens, slots = await self._usage(keys, [repr(now), repr(WINDOW_S)])
        return {
            "requests_1m": float(requests),
            "tokens_1m": float(tokens),
            "concurrent": float(slots),
        }

    # -- cache ------------------------------------------------------------------------------

    async def get(self, key: str, now: float) -> bytes | None:
        with _unavailable():
            stored = await self._redis.get(cache_key(key))
        if not isinstance(stored, bytes) or len(stored) < _EXPIRY.size:
            return None
        (expiry,) = _EXPIRY.unpack_from(stored)
        return None if expiry <= now else bytes(stored[_EXPIRY.size :])

    async def set(self, key: str, value: bytes, ttl_s: float, now: float) -> None:
        if ttl_s <= 0:
            await self.delete(key)
            return
        with _unavailable():
            await self._redis.set(
                cache_key(key),
                _EXPIRY.pack(now + ttl_s) + value,
                px=max(1, math.ceil(ttl_s * 1000)),
            )

    async def delete(self, key: str) -> None:
        with _unavailable():
            await self._redis.delete(cache_key(key))

    # -- circuit breakers -------------------------------------------------------------------

    async def breaker_record(
        self,
        deployment: str,
        ok: bool,
        now: float,
        failure_threshold: int,
        window_s: float,
        cooldown_s: float,
    ) -> BreakerState:
        key_ttl = max(BREAKER_KEY_TTL_S, math.ceil(2 * (window_s + cooldown_s)))
        args = ["1" if ok else "0", repr(now), str(failure_threshold), repr(float(window_s))]
        args += [repr(float(cooldown_s)), str(key_ttl)]
        with _unavailable():
            fields = await self._breaker_record([BREAKERS + deployment], args)
        return breaker.view(breaker.from_fields(fields), now)

    async def breaker_states(
        self, deployments: Sequence[str], now: float
    ) -> dict[str, BreakerState]:
        if not deployments:
            return {}
        pipe = self._redis.pipeline(transaction=False)
        for name in deployments:
            pipe.hmget(BREAKERS + name, ["f", "w", "ou", "pu"])
        with _unavailable():
            replies: list[Any] = await pipe.execute()
        return {
            name: breaker.view(breaker.from_fields(fields), now)
            for name, fields in zip(deployments, replies)
        }

    async def breaker_try_probe(self, deployment: str, now: float, probe_timeout_s: float) -> bool:
        with _unavailable():
            won = await self._breaker_probe(
                [BREAKERS + deployment], [repr(now), repr(float(probe_timeout_s))]
            )
        return bool(won == 1)

    async def ping(self) -> bool:
        """True when Redis answers; False (never an exception) when it cannot be reached."""
        try:
            with _unavailable():
                return bool(await self._redis.ping())
        except StateUnavailable:
            return False

    async def aclose(self) -> None:
        await self._redis.aclose(close_connection_pool=True)


class _Ops:
    """The operations of one `lua/apply.lua` call: keys numbered once, ARGV in groups of 4."""

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}  # key -> 1-based index into KEYS
        self.args: list[str] = []

    def _index(self, key: str) -> str:
        return str(self.keys.setdefault(key, len(self.keys) + 1))

    def free_slot(self, check: LimitCheck, token: str) -> None:
        self.args += [
            "z",
            self._index(limit_key("concurrent", check.scope, check.subject)),
            token,
            "",
        ]

    def adjust(self, check: LimitCheck, at: float, delta: float) -> None:
        if delta:
            key = self._index(limit_key(check.kind, check.scope, check.subject))
            self.args += ["w", key, str(math.floor(at)), repr(float(delta))]

    def add_spend(self, key: str, usd: float, ttl_s: int) -> None:
        self.args += ["s", self._index(key), repr(float(usd)), str(ttl_s)]
