"""The `lua/apply.lua` calls that settle and release reservations, and settlements encoded ahead.

A settlement's write is mostly known once its reservation is made: the keys, the slots to free,
the bucket of each tpm adjustment. `RedisState.begin_acquire` encodes that much while Redis runs
the acquire script (`PreparedSettles.prepare`); the settlement then only fills in the tokens used
and the cost (`PreparedSettle.call`). The bytes are those `settle_ops` builds from scratch.
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
from gateway.state.redis.keys import (
    DAY_KEY_TTL_S,
    MONTH_KEY_TTL_S,
    limit_key_piece,
    number_piece,
    spend_keys,
)
from gateway.state.redis.resp import ScriptCall, bulk
from gateway.state.redis.scripts import APPLY

# How many prepared settlements one RedisState keeps: about the requests in flight at once. Past
# it the oldest go (its settlement is then encoded in full), so one that never comes cannot leak.
PREPARED_MAX = 4096

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

    # For a prepared call (`PreparedSettle`): the op with a hole where its number goes; returns
    # the hole's index in `parts()`.
    def adjust_later(self, check: LimitCheck, at: float) -> int:
        key = self._index(limit_key_piece(check.kind, check.scope, check.subject))
        self.args += [_OP_WINDOW, key, bulk(str(math.floor(at))), _NONE]
        return len(self.args)  # parts() puts the keys first: args[i] is parts()[i + 1]

    def add_spend_later(self, key: str, ttl_s: int) -> int:
        self.args += [_OP_SPEND, self._index(bulk(key)), _NONE, bulk(str(ttl_s))]
        return len(self.args) - 1

    def parts(self) -> list[str]:
        """The call's text in pieces: numkeys and KEYS, then each ARGV."""
        return [bulk(str(len(self.keys))) + "".join(self.keys), *self.args]

    def nargs(self) -> int:
        return 1 + len(self.keys) + len(self.args)

    def call(self) -> ScriptCall | None:
        """The script call, or None when there is nothing to write."""
        if not self.args:
            return None
        return ScriptCall(APPLY, "".join(self.parts()).encode(), self.nargs())


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


class PreparedSettle:
    """One reservation's `lua/apply.lua` call, encoded before the settlement is known
    (`prepare_settle`): its keys, its slot frees and the bucket of each tpm adjustment are known
    then. `call` fills in what only the end of the call knows: each tpm change (tokens used -
    tokens reserved) and the cost added to each budgeted subject's spend. The result is the call
    `settle_ops` builds for the same settlement alone."""

    __slots__ = ("nargs", "parts", "period", "tpm", "usd")

    def __init__(
        self,
        parts: list[str],
        tpm: tuple[tuple[int, float], ...],
        usd: tuple[int, ...],
        nargs: int,
        period: Periods,
    ) -> None:
        self.parts = parts
        self.tpm = tpm  # (hole, tokens reserved)
        self.usd = usd  # holes for the cost
        self.nargs = nargs
        self.period = period  # the day and month whose spend keys it names

    def fits(self, settlement: Settlement, now: float) -> bool:
        """False where `settle_ops` would write something else: an extra spend subject, a tpm
        reservation that was exact (no change to write), no cost to add, or a new day or month."""
        if settlement.spend_subjects:
            return False
        if any(settlement.actual_tokens == reserved for _, reserved in self.tpm):
            return False
        return not self.usd or (settlement.cost_usd != 0 and periods(now) == self.period)

    def call(self, actual_tokens: int, cost_usd: float) -> ScriptCall:
        parts = self.parts.copy()
        for hole, reserved in self.tpm:
            parts[hole] = bulk(repr(float(actual_tokens - reserved)))
        if self.usd:
            usd = bulk(repr(float(cost_usd)))
            for hole in self.usd:
                parts[hole] = usd
        return ScriptCall(APPLY, "".join(parts).encode(), self.nargs)


def prepare_settle(reservation: Reservation) -> PreparedSettle | None:
    """The reservation's settlement call, encoded but for the tokens used and the cost; None
    when settling it writes nothing (only rpm checks)."""
    ops = ApplyOps()
    tpm: list[tuple[int, float]] = []
    budgeted: list[tuple[str, str]] = []
    for check in reservation.checks:
        kind = check.kind
        if kind == "concurrent":
            ops.free_slot(check, reservation.token)
        elif kind == "tpm":
            tpm.append((ops.adjust_later(check, reservation.at), check.amount))
        elif kind in BUDGET_KINDS and (check.scope, check.subject) not in budgeted:
            budgeted.append((check.scope, check.subject))
    period = periods(reservation.at)
    usd: list[int] = []
    for scope, subject in budgeted:
        day, month, total = spend_keys(scope, subject, period)
        usd.append(ops.add_spend_later(day, DAY_KEY_TTL_S))
        usd.append(ops.add_spend_later(month, MONTH_KEY_TTL_S))
        usd.append(ops.add_spend_later(total, 0))
    if not ops.args:
        return None
    return PreparedSettle(ops.parts(), tuple(tpm), tuple(usd), ops.nargs(), period)


class PreparedSettles:
    """Settlement calls prepared ahead, by reservation token, until their settlement (or
    release) takes them; at most `limit`, the oldest dropped first."""

    def __init__(self, limit: int = PREPARED_MAX) -> None:
        self.limit = limit
        self._by_token: dict[str, PreparedSettle] = {}

    def __len__(self) -> int:
        return len(self._by_token)

    def prepare(self, reservation: Reservation) -> None:
        """Encode the reservation's settlement now, for `settle_call` to finish."""
        prepared = prepare_settle(reservation)
        if prepared is None:
            return
        by_token = self._by_token
        if len(by_token) >= self.limit:
            del by_token[next(iter(by_token))]  # dicts keep insertion order: the oldest
        by_token[reservation.token] = prepared

    def drop(self, token: str) -> None:
        """The reservation will not be settled (refused, failed or released)."""
        self._by_token.pop(token, None)

    def settle_call(self, settlements: Sequence[Settlement], now: float) -> ScriptCall | None:
        """The call that applies these settlements (None: nothing to write). A lone settlement
        whose call was prepared, and fits (`PreparedSettle.fits`), only gets its numbers filled
        in; every other is built in full. Either way each settlement's prepared call is used up."""
        by_token = self._by_token
        prepared = (
            [by_token.pop(s.reservation.token, None) for s in settlements] if by_token else []
        )
        if len(settlements) == 1 and prepared and prepared[0] is not None:
            settlement = settlements[0]
            if prepared[0].fits(settlement, now):
                return prepared[0].call(settlement.actual_tokens, settlement.cost_usd)
        return settle_ops(settlements, now).call()
