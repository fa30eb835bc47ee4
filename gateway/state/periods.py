"""UTC budget periods: the day and month a timestamp falls in, and when each ends."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

DAY_S = 86_400.0


@dataclass(frozen=True)
class Periods:
    day: str  # "2026-05-09"
    day_end: float  # Unix seconds of the next UTC midnight
    month: str  # "2026-05"
    month_end: float  # Unix seconds of the next month's first UTC midnight


def periods(now: float) -> Periods:
    """The UTC day and month containing `now`."""
    return _periods_of_day(int(now // DAY_S))


@lru_cache(maxsize=8)
def _periods_of_day(day_index: int) -> Periods:
    start = datetime.fromtimestamp(day_index * DAY_S, tz=UTC)
    if start.month == 12:
        next_month = start.replace(year=start.year + 1, month=1, day=1)
    else:
        next_month = start.replace(month=start.month + 1, day=1)
    return Periods(
        day=start.strftime("%Y-%m-%d"),
        day_end=(day_index + 1) * DAY_S,
        month=start.strftime("%Y-%m"),
        month_end=next_month.timestamp(),
    )
