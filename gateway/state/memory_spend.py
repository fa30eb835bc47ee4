"""Every subject's spend in one gateway process (`MemoryState`'s budgets): what a budget check
reads, what its acquire reserves, and what a settlement or an undo moves."""

from __future__ import annotations

from gateway.state.base import (
    CheckResult,
    LimitCheck,
    Settlement,
    budget_reserved,
    spend_subjects,
)
from gateway.state.spend import SpendCounter

Subject = tuple[str, str]  # (scope, subject)


class SpendBook:
    def __init__(self) -> None:
        self._spend: dict[Subject, SpendCounter] = {}

    def of(self, subject: Subject) -> SpendCounter:
        """The subject's spend (a blank one, not kept, for a subject with none)."""
        spent = self._spend.get(subject)
        return spent if spent is not None else SpendCounter()

    def judge(self, check: LimitCheck, now: float) -> CheckResult:
        return self.of((check.scope, check.subject)).judge(check, now)

    def reserve(self, check: LimitCheck, now: float) -> None:
        """A budget check's amount (the estimated cost), in its period's spend."""
        spent = self._spend.setdefault((check.scope, check.subject), SpendCounter())
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
            spent = self._spend.setdefault(subject, SpendCounter())
            day, month = budget_reserved(reservation, *subject)
            spent.shift(-day, -month, reservation.at)
            if settlement.cost_usd:
                spent.add(settlement.cost_usd, now)
