"""The in-process state backend: plain dicts, for one gateway process (the embedded default).

With several worker processes or replicas each keeps its own counters; share them with Redis.

Each method runs to completion without awaiting, so on one event loop every method is a critical
section of its own: `begin_acquire` checks and reserves all limits with nothing interleaved.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.state import breaker
from gateway.state.base import (
    BUDGET_KINDS,
    CONCURRENT_RETRY_S,
    SLOT_TTL_S,
    WINDOW_KINDS,
    AcquireResult,
    BreakerState,
    CheckResult,
    LimitCheck,
    Ready,
    Reservation,
    Settlement,
    abandoned_result,
    acquire_result,
    budget_reserved,
    new_token,
    spend_subjects,
)
from gateway.state.lru import LruCache
from gateway.state.memory_slots import Slots
from gateway.state.periods import periods
from gateway.state.spend import SpendCounter
from gateway.state.windows import SlidingWindow, window_verdict

REMEMBERED_MAX_ENTRIES = 100_000
REMEMBERED_MAX_BYTES = 256 * 1024 * 1024

Subject = tuple[str, str]  # (scope, subject)
Counter = tuple[str, str, str]  # (kind, scope, subject)
# How often (in `now` seconds) the held and abandoned tokens past their hold are forgotten.
_PRUNE_EVERY_S = 10.0


class MemoryState:
    name = "memory"

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
        self._windows: dict[Counter, SlidingWindow] = {}
        self._slots: dict[Subject, Slots] = {}
        self._spend: dict[Subject, SpendCounter] = {}
        self._breakers: dict[str, breaker.BreakerRecord] = {}
        # Tokens of allowed acquires not yet settled, released or abandoned, and of abandoned
        # acquires that had not run: token -> end of its hold.
        self._held: dict[str, float] = {}
        self._gone: dict[str, float] = {}
        self._next_prune = 0.0

    # -- limits -----------------------------------------------------------------------------

    def begin_acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
    ) -> Ready[AcquireResult]:
        """Decided and reserved before this returns: the awaitable is already complete."""
        return Ready(self._acquire(checks, now, breakers, token, hold_s))

    async def acquire(
        self,
        checks: Sequence[LimitCheck],
        now: float,
        breakers: Sequence[str] = (),
        *,
        token: str | None = None,
        hold_s: float | None = None,
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
        if now >= self._next_prune:
            self._prune(now)
        if token is None:
            token = new_token()
        elif token in self._gone:
            return abandoned_result(checks, now)
        hold = self.slot_ttl_s if hold_s is None else hold_s
        pending: dict[Counter, float] = {}  # what earlier checks of this call reserve
        judge = self._judge
        results = tuple([judge(check, now, pending) for check in checks])
        views = self._breaker_views(breakers, now)
        for result in results:
            if not result.allowed:
                return acquire_result(checks, results, token, now, views, hold)
        self._reserve(checks, token, now, hold)
        # `acquire_result`'s allowed case, built here: this is the path of nearly every request.
        reservation = Reservation(token, tuple(checks), now, hold)
        return AcquireResult(True, results, reservation, 0.0, views)

    def _reserve(self, checks: Sequence[LimitCheck], token: str, now: float, hold: float) -> None:
        second = math.floor(now)
        end = now + hold
        marked = False  # `is_marked(checks)`, worked out on the way
        for check in checks:
            kind = check.kind
            if kind in WINDOW_KINDS:
                window_key = (kind, check.scope, check.subject)
                window = self._windows.get(window_key)
                if window is None:
                    window = self._windows[window_key] = SlidingWindow()
                window.add(second, check.amount, now)
            elif kind == "concurrent":
                subject = (check.scope, check.subject)
                slots = self._slots.get(subject)
                if slots is None:
                    slots = self._slots[subject] = Slots()
                slots.take(token, end)
            elif check.amount:
                spent = self._spend.setdefault((check.scope, check.subject), SpendCounter())
                day = check.amount if kind == "budget_day" else 0.0
                spent.shift(day, check.amount - day, now)
            marked = marked or kind != "rpm"
        if marked:
            self._held[token] = end

    def _prune(self, now: float) -> None:
        self._next_prune = now + _PRUNE_EVERY_S
        for tokens in (self._held, self._gone):
            for token in [token for token, end in tokens.items() if end <= now]:
                del tokens[token]

    def _judge(self, check: LimitCheck, now: float, pending: dict[Counter, float]) -> CheckResult:
        counter = (check.kind, check.scope, check.subject)
        already = pending.get(counter, 0.0)
        if check.kind in WINDOW_KINDS:
            window = self._windows.get(counter)
            if window is not None:
                allowed, remaining, reset = window.verdict(already, check.amount, check.limit, now)
            else:
                allowed, remaining, reset = window_verdict(
                    [], already, check.amount, check.limit, now
                )
            pending[counter] = already + check.amount
            return CheckResult(check, allowed, remaining, reset)
        if check.kind == "concurrent":
            slots = self._slots.get((check.scope, check.subject))
            used = (slots.live(now) if slots is not None else 0) + already
            pending[counter] = already + 1
            if used + 1 <= check.limit:
                return CheckResult(check, True, check.limit - used - 1, 0.0)
            return CheckResult(check, False, max(0.0, check.limit - used), CONCURRENT_RETRY_S)
        # A budget: the period's spend, settled and reserved, plus this request's estimate.
        spent = self._spend_of((check.scope, check.subject))
        period = periods(now)
        if check.kind == "budget_day":
            used, reset = spent.read(now)["day"], period.day_end - now
        else:
            used, reset = spent.read(now)["month"], period.month_end - now
        allowed = used < check.limit and used + check.amount <= check.limit
        remaining = check.limit - used - (check.amount if allowed else 0.0)
        return CheckResult(check, allowed, max(0.0, remaining), reset)

    def _live_slots(self, subject: Subject, now: float) -> int:
        slots = self._slots.get(subject)
        return slots.live(now) if slots is not None else 0

    def _spend_of(self, subject: Subject) -> SpendCounter:
        spent = self._spend.get(subject)
        return spent if spent is not None else SpendCounter()

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        self.start_settle(settlements, now)

    def start_settle(self, settlements: Sequence[Settlement], now: float) -> None:
        """In process there is nothing to wait for: applied before this returns."""
        for settlement in settlements:
            reservation = settlement.reservation
            self._held.pop(reservation.token, None)
            budgeted = False
            for check in reservation.checks:
                kind = check.kind
                if kind == "concurrent":
                    self._free_slot(check, reservation.token)
                elif kind == "tpm":
                    self._adjust(check, reservation.at, settlement.actual_tokens - check.amount)
                elif kind in BUDGET_KINDS:
                    budgeted = True
            if not budgeted and not settlement.spend_subjects:
                continue  # no spend to add anywhere (the limiter sums the rest itself)
            for subject in spend_subjects(settlement):
                spent = self._spend.setdefault(subject, SpendCounter())
                day, month = budget_reserved(reservation, *subject)
                spent.shift(-day, -month, reservation.at)
                if settlement.cost_usd:
                    spent.add(settlement.cost_usd, now)

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
                spent = self._spend.get((check.scope, check.subject))
                if spent is not None:
                    day = check.amount if check.kind == "budget_day" else 0.0
                    spent.shift(-day, -(check.amount - day), reservation.at)

    def _free_slot(self, check: LimitCheck, token: str) -> None:
        slots = self._slots.get((check.scope, check.subject))
        if slots is not None:
            slots.free(token)
            if not slots:
                del self._slots[(check.scope, check.subject)]

    def _adjust(self, check: LimitCheck, at: float, delta: float) -> None:
        window = self._windows.get((check.kind, check.scope, check.subject))
        if window is not None and delta:
            window.adjust(math.floor(at), delta)

    async def spend(self, scope: str, subject: str, now: float) -> dict[str, float]:
        return self._spend_of((scope, subject)).read(now)

    async def usage(self, scope: str, subject: str, now: float) -> dict[str, float]:
        def window_sum(kind: str) -> float:
            window = self._windows.get((kind, scope, subject))
            return sum(amount for amount, _ in window.live(now)) if window is not None else 0.0

        return {
            "requests_1m": window_sum("rpm"),
            "tokens_1m": window_sum("tpm"),
            "concurrent": float(self._live_slots((scope, subject), now)),
        }

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
        record = breaker.record_outcome(
            self._breakers.get(deployment, breaker.CLOSED),
            ok,
            now,
            failure_threshold,
            window_s,
            cooldown_s,
        )
        if record == breaker.CLOSED:
            self._breakers.pop(deployment, None)
        else:
            self._breakers[deployment] = record
        return breaker.view(record, now)

    async def breaker_states(
        self, deployments: Sequence[str], now: float
    ) -> dict[str, BreakerState]:
        return self._breaker_views(deployments, now)

    def _breaker_views(self, deployments: Sequence[str], now: float) -> dict[str, BreakerState]:
        if not self._breakers:  # every breaker closed, as nearly always
            return dict.fromkeys(deployments, breaker.view(breaker.CLOSED, now))
        return {
            name: breaker.view(self._breakers.get(name, breaker.CLOSED), now)
            for name in deployments
        }

    async def breaker_try_probe(self, deployment: str, now: float, probe_timeout_s: float) -> bool:
        allowed, record = breaker.try_probe(
            self._breakers.get(deployment, breaker.CLOSED), now, probe_timeout_s
        )
        if record != breaker.CLOSED:
            self._breakers[deployment] = record
        return allowed

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
