"""The in-process state backend: plain dicts, for one gateway process (the embedded default).

With several worker processes or replicas each keeps its own counters; share them with Redis.
The counters' tables and their upkeep are `memory_counters.py`.

Each method runs to completion without awaiting, so on one event loop every method is a critical
section of its own: `begin_acquire` checks and reserves all limits with nothing interleaved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.state.base import (
    BUDGET_KINDS,
    CONCURRENT_RETRY_S,
    SLOT_TTL_S,
    WINDOW_KINDS,
    AcquireResult,
    CheckResult,
    LimitCheck,
    Ready,
    Reservation,
    Settlement,
    new_token,
)
from gateway.state.breaker_state import BreakerState
from gateway.state.lru import LruCache
from gateway.state.memory_breakers import BreakerBook
from gateway.state.memory_counters import Counter, MemoryCounters, Subject, Usage
from gateway.state.memory_prepared import prepare_on
from gateway.state.memory_slots import Slots
from gateway.state.prepared import PreparedChecks
from gateway.state.reservations import abandoned_result, acquire_result
from gateway.state.windows import SlidingWindow, reserved_before

REMEMBERED_MAX_ENTRIES = 100_000
REMEMBERED_MAX_BYTES = 256 * 1024 * 1024


class MemoryState(MemoryCounters):
    name = "memory"
    prepares = True

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        slot_ttl_s: float = SLOT_TTL_S,
    ) -> None:
        self.slot_ttl_s = slot_ttl_s  # the hold of an acquire that names none
        self.cache = LruCache(max_entries, max_bytes)
        # Bounded too (one process's memory), but apart from the cache and larger.
        self.remembered = LruCache(REMEMBERED_MAX_ENTRIES, REMEMBERED_MAX_BYTES)
        super().__init__()
        self.breakers = BreakerBook()  # public: prepared plans read it (`closed_views`)

    # -- prepared plans (gateway.state.memory_prepared) ---------------------------------------

    def prepare(self, checks: Sequence[LimitCheck]) -> PreparedChecks | None:
        return prepare_on(self, checks)

    # -- limits -----------------------------------------------------------------------------

    def begin_acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
        shape: object = None,
    ) -> Ready[AcquireResult]:
        """Decided and reserved before this returns: the awaitable is already complete. (`shape`
        is not read: nothing is worked out of the checks ahead but by `prepare`.)"""
        return Ready(self._acquire(checks, now, breakers, token, hold_s))

    async def acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
        shape: object = None,
    ) -> AcquireResult:
        return self._acquire(checks, now, breakers, token, hold_s)

    def _acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str],
        token: str | None,
        hold_s: float | None,
    ) -> AcquireResult:
        self.tick(now)
        if token is None:
            token = new_token()
        elif token in self._gone:
            return abandoned_result(checks, now)
        hold = self.slot_ttl_s if hold_s is None else hold_s
        # One pass judges every check against its counter (found once, kept for the reserve).
        # A counter a check shares with an earlier check of this call counts that one's amount
        # too (`reserved_before`); windows and slots are made as they are met and dropped again
        # when the acquire is refused and they hold nothing (they reach the sweeps only when
        # kept, so refusals of ever new subjects leave nothing behind).
        results: list[CheckResult] = []
        counters: list[Usage] = []
        new_windows: list[tuple[Counter, SlidingWindow]] | None = None
        new_slots: list[tuple[Subject, Slots]] | None = None
        allowed = True
        windows = self._windows
        for check in checks:
            kind = check.kind
            if kind == "rpm" or kind == "tpm":
                window = windows.get((kind, check.scope, check.subject))
                if window is None:
                    key: Counter = (kind, check.scope, check.subject)
                    window = windows[key] = SlidingWindow()
                    new_windows = [*(new_windows or ()), (key, window)]
                already = reserved_before(window, checks, counters) if window in counters else 0.0
                result = window.judge(check, already, now)
                counters.append(window)
            elif kind == "concurrent":
                slots = self._slots.get((check.scope, check.subject))
                if slots is None:
                    subject = (check.scope, check.subject)
                    slots = self._slots[subject] = Slots()
                    new_slots = [*(new_slots or ()), (subject, slots)]
                used = slots.live(now) + (counters.count(slots) if slots in counters else 0)
                if used < check.limit:  # `used + 1 <= limit`: slots are whole
                    result = CheckResult(check, True, check.limit - used - 1, 0.0)
                else:
                    result = CheckResult(
                        check, False, max(0.0, check.limit - used), CONCURRENT_RETRY_S
                    )
                counters.append(slots)
            else:
                result = self._spend.judge(check, now)
                counters.append(None)
            if not result.allowed:
                allowed = False
            results.append(result)
        views = self.breakers.acquire_views(breakers, now)
        if not allowed:
            self._drop_empty(checks, counters)
            return acquire_result(checks, results, token, now, views, hold)
        # The reserve, the second pass; `is_marked(checks)` is worked out on the way.
        second = math.floor(now)
        end = now + hold
        marked = False
        for check, counter in zip(checks, counters):
            if counter.__class__ is SlidingWindow:
                counter.add(second, check.amount, now)
                if check.kind == "tpm":
                    marked = True
            elif counter is not None:
                counter.take(token, end)  # type: ignore[union-attr]
                marked = True
            else:
                marked = True
                if check.amount:
                    self._spend.reserve(check, now)
        if marked:
            self._held[token] = end
        if new_windows is not None:
            for key, window in new_windows:
                self._window_sweep.made(now, key, window)
        if new_slots is not None:
            for subject, slots in new_slots:
                self._slot_sweep.made(now, subject, slots)
        # `acquire_result`'s allowed case, built here: this is the path of nearly every request.
        reservation = Reservation(token, tuple(checks), now, hold)
        return AcquireResult(True, tuple(results), reservation, 0.0, views)

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        self.start_settle(settlements, now)

    def start_settle(self, settlements: Sequence[Settlement], now: float) -> None:
        """In process there is nothing to wait for: applied before this returns."""
        for settlement in settlements:
            reservation = settlement.reservation
            token = reservation.token
            self._held.pop(token, None)
            budgeted = False
            for check in reservation.checks:
                kind = check.kind
                if kind == "concurrent":
                    # Emptied slots stay until the next prune: a subject whose requests come
                    # one at a time would otherwise make and drop them on every request.
                    slots = self._slots.get((check.scope, check.subject))
                    if slots is not None:
                        slots.free(token)
                elif kind == "tpm":
                    delta = settlement.actual_tokens - check.amount
                    window = self._windows.get(("tpm", check.scope, check.subject))
                    if window is not None and delta:
                        window.adjust(math.floor(reservation.at), delta)
                elif kind in BUDGET_KINDS:
                    budgeted = True
            if not budgeted and not settlement.spend_subjects:
                continue  # no spend to add anywhere (the limiter sums the rest itself)
            self._spend.settle(settlement, now)

    async def release(self, reservation: Reservation, now: float) -> None:
        self._held.pop(reservation.token, None)
        self._undo(reservation)

    async def abandon(self, reservations: Sequence[Reservation], now: float) -> None:
        # Never given an acquire of this backend that ran, so an rpm-only one (not in `_held`:
        # `is_marked`) is not undone here as Redis undoes it. The limiter, the only caller,
        # abandons an acquire when awaiting it raised StateUnavailable or CancelledError: this
        # `acquire` raises no StateUnavailable and has no await, and a task is cancelled only
        # at an await, so a cancel lands before it starts or after it returned (checked with
        # 15,000 cancels around it: none abandoned). Give this backend an await, and an
        # rpm-only acquire given up on would stay counted for its window.
        for reservation in reservations:
            if self._held.pop(reservation.token, None) is not None:
                self._undo(reservation)
            elif reservation.checks:
                self._gone[reservation.token] = reservation.at + reservation.hold_s

    def _undo(self, reservation: Reservation) -> None:
        for check in reservation.checks:
            if check.kind == "concurrent":
                self._free_slot(check, reservation.token)
            elif check.kind in WINDOW_KINDS:
                self._adjust(check, reservation.at, -check.amount)
            elif check.kind in BUDGET_KINDS and check.amount:
                self._spend.unreserve(check, reservation.at)

    async def spend(self, scope: str, subject: str, now: float) -> dict[str, float]:
        return self._spend.of((scope, subject)).read(now)

    # -- cache ------------------------------------------------------------------------------

    async def get(self, key: str, now: float) -> bytes | None:
        return self.cache.get(key, now)

    async def set(self, key: str, value: bytes, ttl_s: float, now: float) -> None:
        self.cache.set(key, value, ttl_s, now)

    async def delete(self, key: str) -> None:
        self.cache.delete(key)

    # -- remembered values --------------------------------------------------------------------

    async def remember(self, key: str, value: bytes, ttl_s: float, now: float) -> None:
        self.remembered.set(key, value, ttl_s, now)

    async def recall(self, key: str, now: float) -> bytes | None:
        return self.remembered.get(key, now)

    async def forget(self, key: str) -> None:
        self.remembered.delete(key)

    # -- the semantic cache's shared vectors: one process, no one to share with ---------------

    async def share_vector(self, entry: bytes, ttl_s: float) -> None:
        return None

    async def read_shared_vectors(self, after: str | None) -> tuple[list[bytes], str | None]:
        return [], after

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
        return self.breakers.record(deployment, ok, now, failure_threshold, window_s, cooldown_s)

    async def breaker_states(
        self, deployments: Sequence[str], now: float
    ) -> dict[str, BreakerState]:
        return self.breakers.views(deployments, now)

    async def breaker_try_probe(self, deployment: str, now: float, probe_timeout_s: float) -> bool:
        return self.breakers.try_probe(deployment, now, probe_timeout_s)

    async def ping(self) -> bool:
        return True

    async def warnings(self) -> list[str]:
        return []

    async def aclose(self) -> None:
        return None
