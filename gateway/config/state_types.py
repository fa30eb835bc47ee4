"""The `[state]` settings (where counters, budgets, cache and breakers live): part of the one
schema in `types.py`, kept in their own module as `entra_types.py` is."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from gateway.config.schema import NonEmptyStr, Range

StateBackend = Literal["memory", "redis"]
RedisErrorMode = Literal["fail_open", "fail_closed"]
RedisClientName = Literal["auto", "redis-py", "resp"]
# How long a stored entry lives: up to ten years (Redis refuses an expiry near 2**63 ms).
TtlSeconds = Annotated[int, Range(low=1, high=10 * 365 * 86400)]
# A wait in milliseconds: up to a day (a vast value overflowed converting to seconds).
TimeoutMs = Annotated[int, Range(low=1, high=86_400_000)]


@dataclass(frozen=True)
class StateConfig:
    backend: StateBackend = "memory"
    redis_url: NonEmptyStr | None = None
    # The Redis servers' password, kept out of the file: read from this environment variable
    # and used as the URL's password (its user, if any, stays in `redis_url`).
    redis_password_env: NonEmptyStr | None = None
    on_redis_error: RedisErrorMode = "fail_open"
    # How long a Responses API response id stays usable as `previous_response_id` (and for
    # GET / DELETE): which deployment made it, and a translated deployment's conversation.
    responses_ttl_s: TtlSeconds = 30 * 86400
    # The most bytes one remembered response may take (a translated deployment's whole
    # conversation so far, with its last response object): a follow-up that would grow it past
    # this is refused, 400 `context_length_exceeded` (gateway/pipeline/conversations.py).
    responses_max_bytes: Annotated[int, Range(low=1024, high=256 * 1024 * 1024)] = 4 * 1024 * 1024
    # Which Redis client (gateway/state/redis/options.py): "auto" picks the hand-written RESP
    # fast path only for a plain standalone redis:// or unix:// URL, redis-py for the rest.
    client: RedisClientName = "auto"
    # Longest wait for one reply; a call that gets none counts as unavailable.
    timeout_ms: TimeoutMs = 250
    # Longest a new connection (with its TLS and AUTH handshakes) may take.
    connect_timeout_ms: TimeoutMs = 1000
    cluster: bool = False
    # Sentinel: "host:port" of each sentinel; redis_url then gives only credentials, db, TLS.
    sentinels: tuple[str, ...] = ()
    sentinel_master: NonEmptyStr = "mymaster"
    sentinel_password_env: NonEmptyStr | None = None
    # The start of every Redis key name ("<prefix>:{limits}:..."): gateways sharing one Redis
    # (staging and production) set different ones; checked at load (gateway/state/redis/keys.py).
    key_prefix: NonEmptyStr = "llmgw"
