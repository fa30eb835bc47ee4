"""Acquires the limiter gave up on (the state backend did not answer in time, or the request was
cancelled while it waited): kept until the backend answers again, then abandoned by their
tokens, so a stall of any length leaves no slot, tokens or budget held."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from itertools import islice

from gateway.state import Reservation, StateBackend, StateUnavailable

log = logging.getLogger("gateway.limits")
# Abandoned acquires sent per call; more wait for the next (an outage abandons every acquire).
ABANDON_BATCH = 500
# Abandoned acquires kept while the state is away; the oldest beyond this are dropped (their
# slots then free at the end of their hold, as a crashed replica's do), in O(1): a list trimmed
# at its front cost each request of a long outage ~16 us.
ABANDON_KEEP = 100_000


class AbandonedAcquires:
    """The acquires to abandon, oldest first."""

    def __init__(self, keep: int = ABANDON_KEEP) -> None:
        self._reservations: deque[Reservation] = deque(maxlen=keep)

    def __len__(self) -> int:
        return len(self._reservations)

    def add(self, reservation: Reservation) -> None:
        self._reservations.append(reservation)  # past `keep`, the oldest goes

    async def send(
        self,
        state: StateBackend,
        now: float,
        unavailable: Callable[[StateUnavailable], None],
    ) -> bool:
        """Abandon them all, in batches; False when the state backend refused (kept, and
        `unavailable` told)."""
        reservations = self._reservations
        while reservations:
            batch = list(islice(reservations, ABANDON_BATCH))
            try:
                await state.abandon(batch, now)
            except StateUnavailable as exc:
                unavailable(exc)
                return False
            except Exception:
                log.exception("cannot abandon %d acquires", len(batch))
            for _ in range(min(len(batch), len(reservations))):
                reservations.popleft()
        return True
