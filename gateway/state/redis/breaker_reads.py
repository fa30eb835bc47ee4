"""The breaker reads that travel with an acquire: one HMGET per deployment, and their views."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from gateway.state import breaker
from gateway.state.base import StateUnavailable
from gateway.state.breaker_state import BreakerState
from gateway.state.redis.keys import PIECES_MAX, KeyNames
from gateway.state.redis.wire import Reply, encode

_BREAKER_FIELDS = ("f", "w", "ou", "pu")
# The HMGET reply of a breaker with nothing recorded (nearly every one, nearly always), and
# its view: the same whatever the time.
_NOTHING_RECORDED: list[Reply] = [None] * len(_BREAKER_FIELDS)
_CLOSED_VIEW = breaker.view(breaker.CLOSED, 0.0)


class _Reads(dict[str, bytes]):
    """Each deployment's encoded HMGET, made on its first read."""

    def __init__(self, names: KeyNames) -> None:
        super().__init__()
        self.names = names

    def __missing__(self, deployment: str) -> bytes:
        if len(self) >= PIECES_MAX:
            self.clear()
        key = self.names.breaker_key(deployment)
        command = self[deployment] = encode(["HMGET", key, *_BREAKER_FIELDS])
        return command


class BreakerReads:
    """The encoded HMGET of each breaker of one backend (its key names), cached: the same bytes
    on every request."""

    def __init__(self, names: KeyNames) -> None:
        self.names = names
        self._reads = _Reads(names)
        # The dict's own lookup: a cached read runs no Python code (~12 opcodes a read less
        # than a method testing `get`); `_Reads.__missing__` makes the others.
        self.read: Callable[[str], bytes] = self._reads.__getitem__


def breaker_views(
    deployments: Sequence[str], replies: Sequence[Reply], now: float
) -> dict[str, BreakerState]:
    """Each deployment's breaker view from its HMGET reply (`replies`: one per deployment)."""
    if replies.count(_NOTHING_RECORDED) == len(replies):  # all closed (~25 opcodes less)
        return dict.fromkeys(deployments, _CLOSED_VIEW)
    views = {}
    for name, fields in zip(deployments, replies):
        if not isinstance(fields, list):
            raise StateUnavailable(f"redis: unexpected breaker reply {fields!r}")
        views[name] = breaker.view(breaker.from_fields(fields), now)  # type: ignore[arg-type]
    return views
