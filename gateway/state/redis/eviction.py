"""Whether the Redis the state lives on may evict its keys (`RedisState.warnings`, at start).

With `maxmemory` set, a policy other than `noeviction` lets Redis drop keys to make room: the
response cache's entries fill memory and push out what the limits count with (with
`allkeys-*`: any key, the all-time spend too; with `volatile-*`: every key with a TTL, which
all limit keys but the all-time spend have). A dropped day or month spend counter starts the
budget again from 0; a dropped window or concurrency zset forgets requests in flight; a dropped
reservation mark or receipt undoes the at-most-once of an abandon or a settlement. Nothing
fails: the limits are silently wrong, so the gateway says so once, in its log.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.state.base import StateUnavailable
from gateway.state.redis.client import RedisClient
from gateway.state.redis.wire import ReplyError

# What each kind of policy may evict, of the keys the gateway writes (`backend.py`'s layout:
# every key has a TTL but keys' and teams' all-time spend; tests/unit/state/redis/test_eviction.py).
_AT_RISK = {
    "allkeys": "any key: limit windows, concurrency slots, reservation marks, settlement "
    "receipts, every spend counter (the all-time ones too), breakers, remembered responses",
    "volatile": "every key with a TTL, which is all but the all-time spend counters: limit "
    "windows, concurrency slots, reservation marks, settlement receipts, the day and month "
    "spend counters (budgets), breakers, remembered responses",
}


async def eviction_warnings(client: RedisClient) -> list[str]:
    """One warning when the server (on a Cluster: the node asked) may evict the limits' keys,
    or will not say (INFO refused, as by an ACL user without `+info` or a renamed command, or
    without `maxmemory_policy`); none when it may not evict, or is down."""
    try:
        reply: object = await client.execute("INFO", "memory")  # redis-py: parsed
    except ReplyError as refused:
        return [_unknown(f"INFO memory was refused ({refused})")]
    except StateUnavailable:
        return []
    fields = _fields(reply)
    if "maxmemory_policy" not in fields:
        return [_unknown("INFO memory has no maxmemory_policy")]
    policy = str(fields["maxmemory_policy"])
    try:
        maxmemory = int(str(fields.get("maxmemory", 0)))
    except ValueError:
        return []
    family = policy.split("-", 1)[0]
    if not maxmemory or family not in _AT_RISK:
        return []
    return [
        f"redis has maxmemory {maxmemory} with maxmemory-policy {policy}: when memory fills (the "
        f"response cache and remembered responses fill it) Redis evicts {_AT_RISK[family]}, and "
        "budgets and limits are silently wrong; use noeviction (with room for the cache), or a "
        "Redis of the gateway's own with the cache off (docs/operations.md#redis-deployments)"
    ]


def _unknown(why: str) -> str:
    return (
        f"could not tell whether redis may evict the limits' keys: {why}; make sure its "
        "maxmemory-policy is noeviction, else budgets and limits are silently wrong when memory "
        "fills (docs/operations.md#redis-deployments); grant +info to the gateway's user to have "
        "it checked at start"
    )


def _fields(reply: object) -> Mapping[str, object]:
    """INFO's fields: raw text (the RESP client) or parsed by redis-py (per node on a Cluster:
    the first node's)."""
    if isinstance(reply, bytes):
        pairs = (line.split(":", 1) for line in reply.decode(errors="replace").splitlines())
        return {pair[0]: pair[1].strip() for pair in pairs if len(pair) == 2}
    if isinstance(reply, Mapping):
        if "maxmemory_policy" in reply or not reply:
            return reply
        first = next(iter(reply.values()))
        return first if isinstance(first, Mapping) else {}
    return {}
