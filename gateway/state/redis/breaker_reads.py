"""The breaker reads that travel with an acquire: one HMGET per deployment, and their views."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.state import breaker
from gateway.state.base import StateUnavailable
from gateway.state.breaker_state import BreakerState
from gateway.state.redis.keys import PIECES_MAX, KeyNames
from gateway.state.redis.wire import Reply, encode

_BREAKER_FIELDS = ("f", "w", "ou", "pu")


class BreakerReads:
    """The encoded HMGET of each breaker of one backend (its key names), cached: the same bytes
    on every request."""

    def __init__(self, names: KeyNames) -> None:
        self.names = names
        self._reads: dict[str, bytes] = {}

    def read(self, deployment: str) -> bytes:
        command = self._reads.get(deployment)
        if command is None:
            if len(self._reads) >= PIECES_MAX:
                self._reads.clear()
            key = self.names.breaker_key(deployment)
            command = self._reads[deployment] = encode(["HMGET", key, *_BREAKER_FIELDS])
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
