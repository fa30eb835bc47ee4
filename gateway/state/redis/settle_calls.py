"""The `lua/apply.lua` calls that settle and release reservations, encoded from cached pieces.

(Encoding a settlement ahead, while Redis ran the acquire, was tried and dropped: interleaved
runs of loadtests/state_calls.py showed no saving, 0-6 us more per request.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.state.base import (
    BUDGET_KINDS,
    WINDOW_KINDS,
    LimitCheck,
    Reservation,
    Settlement,
    spend_subjects,
)
from gateway.state.periods import Periods, periods
from gateway.state.redis.commands import ScriptCall
from gateway.state.redis.keys import (
    DAY_KEY_TTL_S,
    MONTH_KEY_TTL_S,
    limit_key_piece,
    number_piece,
    spend_keys,
)
from gateway.state.redis.scripts import APPLY
from gateway.state.redis.wire import bulk

_OP_SLOT, _OP_WINDOW, _OP_SPEND, _NONE = bulk("z"), bulk("w"), bulk("s"), bulk("")


class ApplyOps:
    """The operations of one `lua/apply.lua` call: keys numbered once, ARGV in groups of 4,
    kept as RESP pieces (`call` joins them)."""

    def __init__(self) -> None:
        self.keys: dict[str, str] = {}  # a key's RESP piece -> its 1-based index into KEYS
        self.args: list[str] = []

    def _index(self, key_piece: str) -> str:
        index = self.keys.get(key_piece)
        if index is None:
            index = self.keys[key_piece] = number_piece(len(self.keys) + 1)
        return index

    def free_slot(self, check: LimitCheck, token: str) -> None:
        key = self._index(limit_key_piece("concurrent", check.scope, check.subject))
        self.args += [_OP_SLOT, key, bulk(token), _NONE]

    def adjust(self, check: LimitCheck, at: float, delta: float) -> None:
        if delta:
            key = self._index(limit_key_piece(check.kind, check.scope, check.subject))
            self.args += [_OP_WINDOW, key, bulk(str(math.floor(at))), bulk(repr(float(delta)))]

    def add_spend(self, key: str, usd: float, ttl_s: int) -> None:
        self.args += [_OP_SPEND, self._index(bulk(key)), bulk(repr(float(usd))), bulk(str(ttl_s))]

    def call(self) -> ScriptCall | None:
        """The script call (numkeys, KEYS, then ARGV), or None when there is nothing to write."""
        if not self.args:
            return None
        text = bulk(str(len(self.keys))) + "".join(self.keys) + "".join(self.args)
        return ScriptCall(APPLY, text.encode(), 1 + len(self.keys) + len(self.args))


def settle_ops(settlements: Sequence[Settlement], now: float) -> ApplyOps:
    """Free each reservation's slots, move its tpm reservation to the tokens used, add its cost
    to the spend of every budgeted subject and of its `spend_subjects`."""
    ops = ApplyOps()
    period: Periods | None = None
    for settlement in settlements:
        reservation = settlement.reservation
        budgeted = False
        for check in reservation.checks:
            kind = check.kind
            if kind == "concurrent":
                ops.free_slot(check, reservation.token)
            elif kind == "tpm":
                ops.adjust(check, reservation.at, settlement.actual_tokens - check.amount)
            elif kind in BUDGET_KINDS:
                budgeted = True
        if settlement.cost_usd and (budgeted or settlement.spend_subjects):
            period = period or periods(now)
            for scope, subject in spend_subjects(settlement):
                day, month, total = spend_keys(scope, subject, period)
                ops.add_spend(day, settlement.cost_usd, DAY_KEY_TTL_S)
                ops.add_spend(month, settlement.cost_usd, MONTH_KEY_TTL_S)
                ops.add_spend(total, settlement.cost_usd, 0)
    return ops


def release_ops(reservation: Reservation) -> ApplyOps:
    """Undo everything the reservation took: its slots and its window amounts."""
    ops = ApplyOps()
    for check in reservation.checks:
        if check.kind == "concurrent":
            ops.free_slot(check, reservation.token)
        elif check.kind in WINDOW_KINDS:
            ops.adjust(check, reservation.at, -check.amount)
    return ops
