"""One subject's concurrency slots in process memory, counted in O(1).

A slot is held by a reservation token until it is freed or its hold ends (a prepared acquire
holds it under a number instead, `gateway.state.memory_prepared`: no string to make and hash
on every request). Counting the live slots must not walk every slot on every request (at
concurrency 64 that is 64 slots per acquire): the earliest end of a hold is kept, and only when
the clock passes it are the ended slots dropped. Holds run for the request's deadline
(minutes), so that walk is rare.
"""

from __future__ import annotations

import math

# A reservation's token, or a prepared hold's number.
SlotKey = str | int


class Slots:
    __slots__ = ("ends", "earliest")

    def __init__(self) -> None:
        self.ends: dict[SlotKey, float] = {}  # token -> end of its hold
        # No slot ends before this (a lower bound: a freed slot may have held it).
        self.earliest = math.inf

    def __len__(self) -> int:
        return len(self.ends)

    def live(self, now: float) -> int:
        """How many slots are held at `now` (the ended ones are dropped)."""
        if now >= self.earliest:
            ends = self.ends
            for token in [token for token, end in ends.items() if end <= now]:
                del ends[token]
            self.earliest = min(ends.values(), default=math.inf)
        return len(self.ends)

    def take(self, token: SlotKey, end: float) -> None:
        self.ends[token] = end
        if end < self.earliest:
            self.earliest = end

    def take_within(self, token: SlotKey, end: float, limit: float, now: float) -> bool:
        """`take` when fewer than `limit` slots are live at `now` (`live`, then `take`, in one
        call: the usual plan's acquire); False, nothing taken, when they are all held."""
        if now >= self.earliest:  # (rare: a hold ended; `live` drops the ended ones)
            self.live(now)
        ends = self.ends
        if len(ends) >= limit:  # `used + 1 > limit`: slots are whole
            return False
        ends[token] = end
        if end < self.earliest:
            self.earliest = end
        return True

    def free(self, token: SlotKey) -> None:
        self.ends.pop(token, None)

    def move(self, token: SlotKey, to: SlotKey) -> None:
        """The slot `token` holds, held under `to` until the same end (nothing when freed or
        ended and dropped)."""
        end = self.ends.pop(token, None)
        if end is not None:
            self.ends[to] = end
