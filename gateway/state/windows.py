"""The 60 s sliding window in process memory, and the verdict rules `lua/acquire.lua` mirrors.

Usage sits in 1-second buckets; each bucket keeps its amount and its latest use. A bucket counts
while its latest use is less than 60 s old: everything inside (now - 60, now] is always counted,
so no 60 s span can ever hold more than the limit (a bucket may count up to 1 s too long).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence

from gateway.state.base import WINDOW_S, CheckResult, LimitCheck
from gateway.state.prepared import WindowFigures

Usage = tuple[float, float]  # (amount, latest use) of one live bucket


class SlidingWindow:
    """Buckets in the order their seconds arrived, with the running sum of their amounts, so a
    check costs O(1) (plus dropping the buckets that left the window) instead of a pass over all
    60. The clock only moves forward in practice; if it steps back, a bucket behind a newer one
    is dropped a little late, which errs on the side of counting usage too long, never too short.
    """

    __slots__ = ("buckets", "order", "total")

    def __init__(self) -> None:
        self.buckets: dict[int, list[float]] = {}  # second -> [amount, latest use]
        # The buckets' seconds, oldest first. (Not `next(iter(buckets))`: a dict used as a
        # queue keeps the holes of deleted entries at its front until it resizes, and every
        # iteration walks past them.)
        self.order: deque[int] = deque()
        self.total = 0.0  # the sum of the stored buckets' amounts

    def prune(self, now: float) -> None:
        """Drop the buckets whose latest use left the window, oldest first."""
        cutoff = now - WINDOW_S
        buckets, order = self.buckets, self.order
        while order:
            amount, last = buckets[order[0]]
            if last > cutoff:
                return
            del buckets[order.popleft()]
            self.total -= amount
        self.total = 0.0  # empty: no rounding left over

    def live(self, now: float) -> list[Usage]:
        """The buckets still inside the window; older ones are dropped."""
        cutoff = now - WINDOW_S
        stale = [second for second, (_, last) in self.buckets.items() if last <= cutoff]
        for second in stale:
            self.total -= self.buckets.pop(second)[0]
        if stale:
            self.order = deque(second for second in self.order if second in self.buckets)
        if not self.buckets:
            self.total = 0.0
        return [(amount, last) for amount, last in self.buckets.values()]

    def verdict(
        self, pending: float, amount: float, limit: float, now: float
    ) -> tuple[bool, float, float]:
        """`window_verdict` over this window's live buckets, without listing them when allowed."""
        result = self.judge(LimitCheck("", "", "rpm", limit, amount), pending, now)
        return result.allowed, result.remaining, result.reset_s

    def judge(self, check: LimitCheck, pending: float, now: float) -> CheckResult:
        """`check`'s verdict on this window (as `window_verdict` gives it), `pending` being
        what earlier checks of the same acquire reserve on it."""
        amount, limit = check.amount, check.limit
        room = self.room(amount, limit, now, pending)
        if room is not None:
            return CheckResult(check, True, room[1], room[2])
        _, remaining, reset = window_verdict(self.live(now), pending, amount, limit, now)
        return CheckResult(check, False, remaining, reset)

    def room(
        self, amount: float, limit: float, now: float, pending: float = 0.0
    ) -> WindowFigures | None:
        """(limit, remaining, reset_s) after reserving `amount` on top of `pending` when the
        limit allows it (as `window_verdict` gives them: the rate headers' figures), else None:
        the allowed case without listing the buckets. Drops the buckets that left the window."""
        order = self.order
        if order:
            oldest = self.buckets[order[0]][1]
            if oldest <= now - WINDOW_S:  # the oldest bucket left: drop what did
                self.prune(now)
                oldest = self.buckets[order[0]][1] if order else now
            if oldest > now:
                oldest = now
        else:
            oldest = now
        used = self.total + pending
        if used + amount <= limit:
            return limit, limit - used - amount, oldest + WINDOW_S - now
        return None

    def add(self, second: int, amount: float, now: float) -> None:
        bucket = self.buckets.get(second)
        if bucket is None:
            self.buckets[second] = [amount, now]
            self.order.append(second)
        else:
            bucket[0] += amount
            if now > bucket[1]:
                bucket[1] = now
        self.total += amount

    def adjust(self, second: int, delta: float) -> None:
        """Reconcile a reservation in its own bucket, if that bucket still counts."""
        bucket = self.buckets.get(second)
        if bucket is not None:
            adjusted = max(0.0, bucket[0] + delta)
            self.total += adjusted - bucket[0]
            bucket[0] = adjusted


def reserve_both(
    requests: SlidingWindow,
    request_limit: float,
    tokens_window: SlidingWindow,
    token_limit: float,
    tokens: float,
    now: float,
) -> tuple[WindowFigures, WindowFigures] | None:
    """One request reserved on `requests` and `tokens` on `tokens_window` when both limits allow
    it, all or nothing: each window's figures (as `room` gives them), or None with nothing
    reserved. The usual plan's acquire (`gateway.state.memory_prepared.OneOfEach`).

    `room` then `add` on each window, written out in one function: on a loaded worker each
    Python call costs about 0.3 us of a request's CPU (64 requests in flight keep the caches
    cold), and these were four calls on every request with limits."""
    cutoff = now - WINDOW_S
    figures: list[WindowFigures] = []
    both = ((requests, 1.0, request_limit), (tokens_window, tokens, token_limit))
    for window, amount, limit in both:  # `room` of each (no reservation before this one)
        order = window.order
        if order:
            oldest = window.buckets[order[0]][1]
            if oldest <= cutoff:
                window.prune(now)
                oldest = window.buckets[order[0]][1] if order else now
            if oldest > now:
                oldest = now
        else:
            oldest = now
        used = window.total
        if used + amount > limit:
            return None
        figures.append((limit, limit - used - amount, oldest + WINDOW_S - now))
    second = math.floor(now)
    for window, amount, _ in both:  # then `add` on each
        bucket = window.buckets.get(second)
        if bucket is None:
            window.buckets[second] = [amount, now]
            window.order.append(second)
        else:
            bucket[0] += amount
            if now > bucket[1]:
                bucket[1] = now
        window.total += amount
    return figures[0], figures[1]


def window_verdict(
    live: Sequence[Usage], pending: float, amount: float, limit: float, now: float
) -> tuple[bool, float, float]:
    """(allowed, remaining, reset_s) for reserving `amount` on top of `live` and `pending`
    (what earlier checks of the same acquire reserve on the same window)."""
    used = sum(usage for usage, _ in live) + pending
    if used + amount <= limit:
        oldest = min([now, *(last for _, last in live)])
        return True, limit - used - amount, oldest + WINDOW_S - now
    return False, max(0.0, limit - used), _reset(live, used + amount - limit, amount > limit, now)


def _reset(live: Sequence[Usage], need: float, never: bool, now: float) -> float:
    """Seconds until `need` of the live usage has left the window."""
    if not never:
        freed = 0.0
        for usage, last in sorted(live, key=lambda bucket: bucket[1]):
            freed += usage
            if freed >= need:
                return last + WINDOW_S - now
    return WINDOW_S


def reserved_before(
    window: SlidingWindow, checks: Sequence[LimitCheck], counters: Sequence[object]
) -> float:
    """What the earlier checks of one acquire reserve on `window` (rarely anything: two checks
    of one call on the same window)."""
    return sum(check.amount for check, counter in zip(checks, counters) if counter is window)
