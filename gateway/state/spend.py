"""One subject's spend in process memory: the current UTC day's and month's, and all time.

The day and month counters also hold what requests in flight have reserved on a budget
(`shift`), so a budget check sees the settled spend and the reservations together; the all-time
total holds settled spend only.
"""

from __future__ import annotations

from gateway.state.base import CheckResult, LimitCheck
from gateway.state.periods import periods


class SpendCounter:
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

    def judge(self, check: LimitCheck, now: float) -> CheckResult:
        """A budget check's verdict: the period's spend, settled and reserved, plus the
        request's estimate (`check.amount`) within `check.limit`."""
        period = periods(now)
        if check.kind == "budget_day":
            used, reset = self.read(now)["day"], period.day_end - now
        else:
            used, reset = self.read(now)["month"], period.month_end - now
        allowed = used < check.limit and used + check.amount <= check.limit
        remaining = check.limit - used - (check.amount if allowed else 0.0)
        return CheckResult(check, allowed, max(0.0, remaining), reset)

    def _roll(self, now: float) -> None:
        period = periods(now)
        if self.day != period.day:
            self.day, self.day_usd = period.day, 0.0
        if self.month != period.month:
            self.month, self.month_usd = period.month, 0.0

    def add(self, usd: float, now: float) -> None:
        """Settled spend: the day and month of `now`, and the total."""
        self._roll(now)
        self.day_usd += usd
        self.month_usd += usd
        self.total_usd += usd

    def shift(self, day_usd: float, month_usd: float, at: float) -> None:
        """Reserve (or, negative, take back) amounts in the day and month of `at`; a period
        that has ended since is left alone (its reservations ended with it). Never below 0."""
        period = periods(at)
        if day_usd:
            if self.day == period.day:
                self.day_usd = max(0.0, self.day_usd + day_usd)
            elif day_usd > 0 and self.day < period.day:
                self.day, self.day_usd = period.day, day_usd
        if month_usd:
            if self.month == period.month:
                self.month_usd = max(0.0, self.month_usd + month_usd)
            elif month_usd > 0 and self.month < period.month:
                self.month, self.month_usd = period.month, month_usd
