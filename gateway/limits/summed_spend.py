"""Spend that no budget of its request depends on (the key and team counters admin views read),
summed per subject in this process and written every `SPEND_FLUSH_S`: one state round trip for
all of it instead of one per request. Spend a budget of the request did depend on settles with
its reservation instead (`Limiter.settle`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.state import (
    Reservation,
    Settlement,
    StateBackend,
    StateUnavailable,
    retry_too_late,
)

log = logging.getLogger("gateway.limits")
# How often spend that no budget of the request depends on is written (summed per subject).
SPEND_FLUSH_S = 0.25

Subject = tuple[str, str]
# The failures after which a write may have run all the same (sent, then no reply).
AMBIGUOUS_KINDS = frozenset({"timeout", "connection"})


class SummedSpend:
    """The sums not written yet, and the timer that asks for their write (`on_due`)."""

    def __init__(self, on_due: Callable[[], None]) -> None:
        self.totals: dict[Subject, float] = {}
        # Written and refused: sent again as they were (each keeps the receipt under which the
        # state backend applies it once, should the refused write have run all the same).
        self._unsent: list[Settlement] = []
        self._on_due = on_due
        self._timer: asyncio.TimerHandle | None = None

    def __bool__(self) -> bool:
        return bool(self.totals) or bool(self._unsent)

    def __len__(self) -> int:
        return len(self.totals) + len(self._unsent)

    def add(
        self,
        cost_usd: float,
        subjects: tuple[Subject, ...],
        budgeted: frozenset[Subject] | None,
        timed: bool,
    ) -> None:
        """Add `cost_usd` to each subject not in `budgeted`; with `timed`, make sure a write
        is due within SPEND_FLUSH_S (without, the sums wait for `write`)."""
        if not cost_usd or not subjects:
            return
        totals = self.totals
        for subject in subjects:
            if budgeted is None or subject not in budgeted:
                totals[subject] = totals.get(subject, 0.0) + cost_usd
        if totals and self._timer is None and timed:
            self._timer = asyncio.get_running_loop().call_later(SPEND_FLUSH_S, self._due)

    def _due(self) -> None:
        self._timer = None
        self._on_due()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def write(
        self, state: StateBackend, now: float, count_error: Callable[[StateUnavailable], None]
    ) -> bool:
        """Write the sums; False when the state backend refused them (they are kept)."""
        spend, self.totals = self.totals, {}
        unsent, self._unsent = self._unsent, []
        if not spend and not unsent:
            return True
        nothing = Reservation(token="", checks=(), at=now)
        fresh = [Settlement(nothing, 0, usd, (subject,)) for subject, usd in spend.items()]
        try:
            await state.settle([*unsent, *fresh], now)
        except StateUnavailable as exc:
            count_error(exc)
            # Kept, and retried: spend must not be lost, nor counted twice. A write whose reply
            # was lost may have run: it is sent again as it was (its receipt says whether it
            # ran); one refused before it was sent (Redis known down) or by an error reply ran
            # nothing, and is summed again (so a long outage keeps one sum per subject).
            if exc.kind in AMBIGUOUS_KINDS:
                unsent += fresh
            else:
                for subject, usd in spend.items():
                    self.totals[subject] = self.totals.get(subject, 0.0) + usd
            # Not those too late to apply once: the backend dropped them (and logged).
            unsent = [settlement for settlement in unsent if not retry_too_late(settlement, now)]
            self._unsent = unsent + self._unsent
            return False
        except Exception:
            log.exception("cannot add the spend of %d subjects", len(spend))
        return True
