"""A request's limit checks sorted once by what its reservation holds and what its rate headers
read: where the concurrency slots and the rpm / tpm windows are, whether it is settled at all,
and whose budgets it checked. A plan whose checks keep their shape from request to request sorts
them once per config (`LimitPlan.sorting`); else `Held` sorts each request's own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.state import BUDGET_KINDS, LimitCheck

Subject = tuple[str, str]  # (scope, subject)


@dataclass(frozen=True, slots=True)
class Sorting:
    slots_at: tuple[int, ...]  # where the concurrency checks are
    # Where the one rpm and the one tpm check are, when there is one of each (the usual).
    window_pair: tuple[int, int] | None
    marked: bool  # `is_marked` of all the checks: settled after the request
    rest_marked: bool  # `is_marked` of the checks other than the slots
    budgeted: frozenset[Subject] | None  # the (scope, subject) pairs whose budgets it checks


def sort_checks(checks: Sequence[LimitCheck]) -> Sorting:
    slots_at: list[int] = []
    requests_at: list[int] = []
    tokens_at: list[int] = []
    budgeted: set[Subject] = set()
    for at, check in enumerate(checks):
        kind = check.kind
        if kind == "concurrent":
            slots_at.append(at)
        elif kind == "rpm":
            requests_at.append(at)
        elif kind == "tpm":
            tokens_at.append(at)
        elif kind in BUDGET_KINDS:
            budgeted.add((check.scope, check.subject))
    rest_marked = len(checks) > len(slots_at) + len(requests_at)  # a tpm or a budget
    return Sorting(
        tuple(slots_at),
        (requests_at[0], tokens_at[0]) if len(requests_at) == len(tokens_at) == 1 else None,
        bool(slots_at) or rest_marked,
        rest_marked,
        frozenset(budgeted) if budgeted else None,
    )
