"""Time as an injected edge: the system clock, and a fake one that tests move by hand.

Code that waits or measures (the router's backoff and breaker timing) takes a `Clock`, so its
tests run without sleeping: `FakeClock.sleep` only moves the fake time forward.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for durations and deadlines)."""
        ...

    def time(self) -> float:
        """Unix seconds (for state shared across replicas: breakers, windows)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Return no earlier than `seconds` from now by `monotonic()`."""
        ...


class SystemClock:
    # The C functions themselves: no Python frame per reading on the request path.
    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)

    async def sleep(self, seconds: float) -> None:
        # uvloop's timers run on a millisecond clock and may fire up to a millisecond early;
        # a Retry-After must not be cut short.
        resume = time.monotonic() + seconds
        await asyncio.sleep(seconds)
        while (left := resume - time.monotonic()) > 0:
            await asyncio.sleep(left + 0.0005)


class FakeClock:
    """A clock that moves only when told to (`advance`) or slept on; `sleeps` records each wait."""

    def __init__(self, start: float = 1_000.0, wall: float = 1_700_000_000.0) -> None:
        self._now = start
        self._wall_offset = wall - start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self._now

    def time(self) -> float:
        return self._now + self._wall_offset

    def advance(self, seconds: float) -> None:
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self._now += max(0.0, seconds)
        await asyncio.sleep(0)  # still a point where other tasks run, as a real sleep is


SYSTEM_CLOCK = SystemClock()
