"""Shared state behind rate limits, budgets, the response cache and circuit breakers.

`create_state("memory" | "redis", redis_url)` builds a backend; both implement `StateBackend`.
The redis module (and with it the redis client) is imported only when asked for.
"""

from __future__ import annotations

from gateway.state.base import (
    BUDGET_KINDS,
    AcquireResult,
    BreakerState,
    CheckResult,
    LimitCheck,
    LimitKind,
    Reservation,
    Settlement,
    StateBackend,
    StateUnavailable,
)
from gateway.state.memory import MemoryState

__all__ = [
    "BUDGET_KINDS",
    "AcquireResult",
    "BreakerState",
    "CheckResult",
    "LimitCheck",
    "LimitKind",
    "MemoryState",
    "Reservation",
    "Settlement",
    "StateBackend",
    "StateUnavailable",
    "create_state",
]


def create_state(
    backend: str,
    redis_url: str | None,
    *,
    socket_timeout_s: float = 0.25,
) -> StateBackend:
    """The state backend named by `[state] backend`; "redis" needs `redis_url`."""
    if backend == "memory":
        return MemoryState()
    if backend == "redis":
        if not redis_url:
            raise ValueError("state backend 'redis' needs a redis_url")
        from gateway.state.redis.backend import RedisState

        return RedisState(redis_url, socket_timeout_s=socket_timeout_s)
    raise ValueError(f"unknown state backend {backend!r} (expected 'memory' or 'redis')")
