"""Shared state behind rate limits, budgets, the response cache and circuit breakers.

`create_state("memory" | "redis", redis_url or RedisOptions)` builds a backend; both implement
`StateBackend`. The redis backend (and with it the redis clients) is imported only when asked
for.
"""

from __future__ import annotations

from gateway.state.base import (
    BUDGET_KINDS,
    SLOT_TTL_S,
    AcquireResult,
    CheckResult,
    LimitCheck,
    LimitKind,
    Reservation,
    Settlement,
    StateBackend,
    StateUnavailable,
    new_token,
)
from gateway.state.breaker_state import BreakerState
from gateway.state.memory import MemoryState
from gateway.state.redis.options import RedisOptions
from gateway.state.reservations import is_marked, retry_too_late

__all__ = [
    "BUDGET_KINDS",
    "SLOT_TTL_S",
    "AcquireResult",
    "BreakerState",
    "CheckResult",
    "LimitCheck",
    "LimitKind",
    "MemoryState",
    "RedisOptions",
    "Reservation",
    "Settlement",
    "StateBackend",
    "StateUnavailable",
    "create_state",
    "is_marked",
    "new_token",
    "retry_too_late",
]


def create_state(
    backend: str,
    redis: str | RedisOptions | None,
    *,
    socket_timeout_s: float | None = None,
) -> StateBackend:
    """The state backend named by `[state] backend`; "redis" needs a URL or `RedisOptions`
    (`socket_timeout_s`, when given, replaces their timeout)."""
    if backend == "memory":
        return MemoryState()
    if backend == "redis":
        if not redis:
            raise ValueError("state backend 'redis' needs a redis_url")
        # Imported here, only then: a gateway on the memory backend never loads the Redis
        # clients (redis-py, hiredis). No circle hides behind it (tests/unit/test_structure.py
        # counts imports inside functions too).
        from gateway.state.redis.backend import RedisState

        return RedisState(redis, socket_timeout_s=socket_timeout_s)
    raise ValueError(f"unknown state backend {backend!r} (expected 'memory' or 'redis')")
