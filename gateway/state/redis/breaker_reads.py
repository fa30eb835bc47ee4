"""The breaker reads that travel with an acquire: one HMGET per deployment, and their views."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.state import breaker
from gateway.state.base import StateUnavailable
from gateway.state.breaker_state import BreakerState
from gateway.state.redis.keys import BREAKERS, PIECES_MAX
from gateway.state.redis.wire import Reply, encode

_BREAKER_FIELDS = ("f", "w", "ou", "pu")
_breaker_reads: dict[str, bytes] = {}


def breaker_read(deployment: str) -> bytes:
    """The encoded HMGET of one breaker (cached: the same bytes on every request)."""
    command = _breaker_reads.get(deployment)
    if command is None:
        if len(_breaker_reads) >= PIECES_MAX:
            _breaker_reads.clear()
        command = _breaker_reads[deployment] = encode(
            ["HMGET", BREAKERS + deployment, *_BREAKER_FIELDS]
        )
    return command


def breaker_views(
    deployments: Sequence[str], replies: Sequence[Reply], now: float
) -> dict[str, BreakerState]:
    views = {}
    for name, fields in zip(deployments, replies):
        if not isinstance(fields, list):
            raise StateUnavailable(f"redis: unexpected breaker reply {fields!r}")
        views[name] = breaker.view(breaker.from_fields(fields), now)  # type: ignore[arg-type]
    return views
