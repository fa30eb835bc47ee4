"""What the Redis state says once, at start (`RedisState.warnings`): whether Redis lets the
gateway in at all, then whether it may evict the limits' keys (`eviction.py`).

A refusal (a wrong password, a `SELECT` the user or the service does not allow, a PING the ACL
denies) is no outage the client waits out: nothing works until the config or the ACL changes,
so it is said at start, in the words Redis used, instead of only per call in
gateway_state_errors_total{kind}. The gateway still starts: `on_redis_error` decides what
requests get meanwhile, as it does when Redis is down.
"""

from __future__ import annotations

from gateway.state.base import StateUnavailable
from gateway.state.redis.client import RedisClient
from gateway.state.redis.eviction import eviction_warnings
from gateway.state.redis.wire import ReplyError


async def start_warnings(client: RedisClient) -> list[str]:
    """One warning when Redis refuses the gateway (on connect or its PING); else the eviction
    check's. None when Redis cannot be reached (the client keeps trying; /readyz says so)."""
    try:
        await client.execute("PING")
    except ReplyError as refused:
        return [
            f"redis refuses the gateway ({refused}): every limit, budget, cache and breaker "
            "call takes [state] on_redis_error until redis_url's user, password or db index, "
            "or the user's ACL, is fixed (docs/operations.md#redis-deployments lists what the "
            "user needs)"
        ]
    except StateUnavailable:
        return []
    return await eviction_warnings(client)
