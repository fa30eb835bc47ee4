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
    acquire_result,
    new_token,
    spend_subjects,
)
from gateway.state.lru import LruCache
from gateway.state.periods import periods
from gateway.state.windows import SlidingWindow, window_verdict

REMEMBERED_MAX_ENTRIES = 100_000
REMEMBERED_MAX_BYTES = 256 * 1024 * 1024

Subject = tuple[str, str]  # (scope, subject)
Counter = tuple[str, str, str]  # (kind, scope, subject)


class _Spend:
    __slots__ = ("day", "day_usd", "month", "month_usd", "total_usd")

    def __init__(self) -> None:
        self.day, self.day_usd = "", 0.0
        self.month, self.month_usd = "", 0.0
        self.total_usd = 0.0

    def read(self, now: float) -> dict[str, float]:
        period = periods(now)
        return {
            "day": self.day_usd if self.day == period.day else 0.0,
            "month": self.month_usd if self.month == period.month else 0.0,
            "total": self.total_usd,
        }

    def add(self, usd: float, now: float) -> None:
        period = periods(now)
        if self.day != period.day:
            self.day, self.day_usd = period.day, 0.0
        if self.month != period.month:
            self.month, self.month_usd = period.month, 0.0
        self.day_usd += usd
        self.month_usd += usd
        self.total_usd += usd


class MemoryState:
    name = "memory"

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        max_bytes: int = 64 * 1024 * 1024,
        slot_ttl_s: float = SLOT_TTL_S,
    ) -> None:
        self.slot_ttl_s = slot_ttl_s
        self.cache = LruCache(max_entries, max_bytes)
        # Bounded too (one process's memory), but apart from the cache and larger.
        self.remembered = LruCache(REMEMBERED_MAX_ENTRIES, REMEMBERED_MAX_BYTES)
        self._windows: dict[Counter, SlidingWindow] = {}
        self._slots: dict[Subject, dict[str, float]] = {}  # token -> expiry
        self._spend: dict[Subject, _Spend] = {}
        self._breakers: dict[str, breaker.BreakerRecord] = {}

    # -- limits -----------------------------------------------------------------------------

    def begin_acquire(
        self, checks: Sequence[LimitCheck], now: float, breakers: Sequence[str] = ()
    ) -> Ready[AcquireResult]:
        """Decided and reserved before this returns: the awaitable is already complete."""
        return Ready(self._acquire(checks, now, breakers))

    async def acquire(
        self, checks: Sequence[LimitCheck], now: float, breakers: Sequence[str] = ()
    ) -> AcquireResult:
        return self._acquire(checks, now, breakers)

    def _acquire(
        self, checks: Sequence[LimitCheck], now: float, breakers: Sequence[str]
    ) -> AcquireResult:
        pending: dict[Counter, float] = {}  # what earlier checks of this call reserve
        results = [self._judge(check, now, pending) for check in checks]
        token = new_token()
        outcome = acquire_result(checks, results, token, now, self._breaker_views(breakers, now))
        if outcome.allowed:
            second = math.floor(now)
            for check in checks:
                if check.kind in WINDOW_KINDS:
                    window_key = (check.kind, check.scope, check.subject)
                    self._windows.setdefault(window_key, SlidingWindow()).add(
                        second, check.amount, now
                    )
                elif check.kind == "concurrent":
                    slots = self._slots.setdefault((check.scope, check.subject), {})
                    slots[token] = now + self.slot_ttl_s
        return outcome

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
            used = self._live_slots((check.scope, check.subject), now) + already
            pending[counter] = already + 1
            if used + 1 <= check.limit:
                return CheckResult(check, True, check.limit - used - 1, 0.0)
            return CheckResult(check, False, max(0.0, check.limit - used), CONCURRENT_RETRY_S)
        # A budget: reserves nothing, only asks whether the period's spend has reached the limit.
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
        if not slots:
            return 0
        for token in [token for token, expiry in slots.items() if expiry <= now]:
            del slots[token]
        return len(slots)

    def _spend_of(self, subject: Subject) -> _Spend:
        spent = self._spend.get(subject)
        return spent if spent is not None else _Spend()

    async def settle(self, settlements: Sequence[Settlement], now: float) -> None:
        self.start_settle(settlements, now)

    def start_settle(self, settlements: Sequence[Settlement], now: float) -> None:
        """In process there is nothing to wait for: applied before this returns."""
        for settlement in settlements:
            reservation = settlement.reservation
            for check in reservation.checks:
                if check.kind == "concurrent":
                    self._free_slot(check, reservation.token)
                elif check.kind == "tpm":
                    self._adjust(check, reservation.at, settlement.actual_tokens - check.amount)
            if settlement.cost_usd:
                for subject in spend_subjects(settlement):
                    self._spend.setdefault(subject, _Spend()).add(settlement.cost_usd, now)

    async def release(self, reservation: Reservation, now: float) -> None:
        for check in reservation.checks:
            if check.kind == "concurrent":
                self._free_slot(check, reservation.token)
            elif check.kind in WINDOW_KINDS:
                self._adjust(check, reservation.at, -check.amount)

    def _free_slot(self, check: LimitCheck, token: str) -> None:
        slots = self._slots.get((check.scope, check.subject))
        if slots is not None:
            slots.pop(token, None)
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
