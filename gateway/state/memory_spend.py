"""Every subject's spend in one gateway process (`MemoryState`'s budgets): what a budget check
reads, what its acquire reserves, and what a settlement or an undo moves.

An end user's spend (`[user_limits]` budgets: one subject per end user of a key) is dropped
once it holds nothing a budget reads (no spend, settled or reserved, in the current day and
month): else a key whose clients name ever new end users kept one counter per user ever seen,
for the life of the process. Keys' and teams' spend stays: its all-time total is what
`/admin/usage` and the budget gauges show, and there are as many as the config names.
"""

from __future__ import annotations

from gateway.state.base import CheckResult, LimitCheck, Settlement
from gateway.state.reservations import budget_reserved, spend_subjects
from gateway.state.spend import SpendCounter
from gateway.state.sweep import Sweep

Subject = tuple[str, str]  # (scope, subject)
# How often each end user's spend is looked at (by `prune`), at most.
USER_SWEEP_S = 3600.0


class SpendBook:
    def __init__(self) -> None:
        self._spend: dict[Subject, SpendCounter] = {}
        self._user_sweep: Sweep[Subject, SpendCounter] = Sweep(USER_SWEEP_S)

    def __len__(self) -> int:
        return len(self._spend)

    def _counter(self, subject: Subject, now: float) -> SpendCounter:
        spent = self._spend.get(subject)
        if spent is None:
            spent = self._spend[subject] = SpendCounter()
            if subject[0] == "user":
                self._user_sweep.made(now, subject, spent)
        return spent

    def prune(self, now: float) -> bool:
        """Drop the end users' spend that no budget reads any more (a batch at most); True
        when more is due already."""

        def idle(spent: SpendCounter) -> bool:
            read = spent.read(now)
            return not read["day"] and not read["month"]

        return self._user_sweep.sweep(self._spend, now, idle)

    def of(self, subject: Subject) -> SpendCounter:
        """The subject's spend (a blank one, not kept, for a subject with none)."""
        spent = self._spend.get(subject)
        return spent if spent is not None else SpendCounter()

    def judge(self, check: LimitCheck, now: float) -> CheckResult:
        return self.of((check.scope, check.subject)).judge(check, now)

    def reserve(self, check: LimitCheck, now: float) -> None:
        """A budget check's amount (the estimated cost), in its period's spend."""
        spent = self._counter((check.scope, check.subject), now)
        day = check.amount if check.kind == "budget_day" else 0.0
        spent.shift(day, check.amount - day, now)

    def unreserve(self, check: LimitCheck, at: float) -> None:
        """Take back what `reserve` reserved at `at`."""
        spent = self._spend.get((check.scope, check.subject))
        if spent is not None:
            day = check.amount if check.kind == "budget_day" else 0.0
            spent.shift(-day, -(check.amount - day), at)

    def settle(self, settlement: Settlement, now: float) -> None:
        """Replace the settlement's budget reservations by its cost, and add the cost to the
        spend of every subject it names."""
        reservation = settlement.reservation
        for subject in spend_subjects(settlement):
            spent = self._counter(subject, now)
            day, month = budget_reserved(reservation, *subject)
            spent.shift(-day, -month, reservation.at)
            if settlement.cost_usd:
                spent.add(settlement.cost_usd, now)
