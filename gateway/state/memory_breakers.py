"""The circuit breakers of one gateway process (`MemoryState`'s): a record per deployment whose
breaker is not closed, and the read-only views an acquire hands on while all are closed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

from gateway.state import breaker
from gateway.state.breaker_state import BreakerState

# Lists of deployments whose all-closed breakers an acquire keeps read (`acquire_views`).
_ALL_CLOSED_MAX = 256


class BreakerBook:
    def __init__(self) -> None:
        self._records: dict[str, breaker.BreakerRecord] = {}  # closed ones are not kept
        # Filled only while every breaker is closed, emptied as soon as one is not.
        self._all_closed: dict[tuple[str, ...], Mapping[str, BreakerState]] = {}

    def record(
        self,
        deployment: str,
        ok: bool,
        now: float,
        failure_threshold: int,
        window_s: float,
        cooldown_s: float,
    ) -> BreakerState:
        record = breaker.record_outcome(
            self._records.get(deployment, breaker.CLOSED),
            ok,
            now,
            failure_threshold,
            window_s,
            cooldown_s,
        )
        if record == breaker.CLOSED:
            self._records.pop(deployment, None)
        else:
            self._records[deployment] = record
            self._all_closed.clear()
        return breaker.view(record, now)

    def acquire_views(self, deployments: Sequence[str], now: float) -> Mapping[str, BreakerState]:
        """The breakers an acquire reads: while every breaker is closed (nearly always), one
        read-only mapping per list of deployments, made once."""
        if self._records or not isinstance(deployments, tuple):
            return self.views(deployments, now)
        views = self._all_closed.get(deployments)
        if views is None:
            if len(self._all_closed) >= _ALL_CLOSED_MAX:  # a model's deployments: a few
                self._all_closed.clear()
            views = MappingProxyType(dict.fromkeys(deployments, breaker.view(breaker.CLOSED, now)))
            self._all_closed[deployments] = views
        return views

    def closed_views(self, deployments: tuple[str, ...], now: float) -> Mapping[str, BreakerState]:
        """`acquire_views` of a tuple (a prepared acquire's, called on the book directly): while
        every breaker is closed, one lookup (8 interpreter opcodes where going through
        `MemoryState` to `acquire_views` counted 28)."""
        # (An empty tuple's views are empty, falsy: `acquire_views` then finds them.)
        return self._all_closed.get(deployments) or self.acquire_views(deployments, now)

    def views(self, deployments: Sequence[str], now: float) -> dict[str, BreakerState]:
        if not self._records:  # every breaker closed, as nearly always
            return dict.fromkeys(deployments, breaker.view(breaker.CLOSED, now))
        return {
            name: breaker.view(self._records.get(name, breaker.CLOSED), now) for name in deployments
        }

    def try_probe(self, deployment: str, now: float, probe_timeout_s: float) -> bool:
        allowed, record = breaker.try_probe(
            self._records.get(deployment, breaker.CLOSED), now, probe_timeout_s
        )
        if record != breaker.CLOSED:  # only an open breaker's record changes: already kept
            self._records[deployment] = record
        return allowed
