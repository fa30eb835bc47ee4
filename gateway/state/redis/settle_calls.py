"""The `lua/apply.lua` calls that settle and release reservations, encoded from cached pieces.

(Encoding a settlement ahead, while Redis ran the acquire, was tried and dropped: interleaved
runs of loadtests/state_calls.py showed no saving, 0-6 us more per request.)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

from gateway.state.base import (
    BUDGET_KINDS,
    WINDOW_KINDS,
    LimitCheck,
    Reservation,
    Settlement,
    new_token,
)
from gateway.state.periods import periods
from gateway.state.redis.commands import ScriptCall
from gateway.state.redis.keys import (
    DAY_KEY_TTL_S,
    MONTH_KEY_TTL_S,
    RECEIPT_TTL_S,
    RETRY_MAX_AGE_S,
    KeyNames,
    number_piece,
)
from gateway.state.redis.scripts import APPLY
from gateway.state.redis.wire import bulk
from gateway.state.reservations import budget_reserved, spend_subjects

log = logging.getLogger("gateway.state")
_OP_SLOT, _OP_WINDOW, _OP_SPEND, _NONE = bulk("z"), bulk("w"), bulk("s"), bulk("")
_OP_DROP, _OP_ABANDON, _OP_ONCE = bulk("d"), bulk("a"), bulk("o")
_RECEIPT_MS = bulk(str(RECEIPT_TTL_S * 1000))
# The TTLs of the day, month and all-time spend keys; an end user's total expires too.
_TTLS = (DAY_KEY_TTL_S, MONTH_KEY_TTL_S, 0)
_USER_TTLS = (DAY_KEY_TTL_S, MONTH_KEY_TTL_S, MONTH_KEY_TTL_S)
# number_piece(n + 1) of the first keys, read without a call (each settlement's mark is a new
# key: `_settle_into`).
_INDEXES = [number_piece(n + 1) for n in range(64)]
_INDEXED = len(_INDEXES)


class ApplyOps:
    """The operations of one `lua/apply.lua` call: keys numbered once, ARGV in groups of 4,
    kept as RESP pieces (`call` joins them)."""

    def __init__(self, names: KeyNames) -> None:
        self.names = names
        self.keys: dict[str, str] = {}  # a key's RESP piece -> its 1-based index into KEYS
        self.args: list[str] = []

    def _index(self, key_piece: str) -> str:
        index = self.keys.get(key_piece)
        if index is None:
            index = self.keys[key_piece] = number_piece(len(self.keys) + 1)
        return index

    def free_slot(self, check: LimitCheck, token: str) -> None:
        key = self._index(self.names.limit_key_piece("concurrent", check.scope, check.subject))
        self.args += [_OP_SLOT, key, bulk(token), _NONE]

    def adjust(self, check: LimitCheck, at: float, delta: float) -> None:
        self.adjust_bucket(
            self.names.limit_key_piece(check.kind, check.scope, check.subject),
            str(math.floor(at)),
            delta,
        )

    def adjust_bucket(self, key_piece: str, second: str, delta: float) -> None:
        """Add `delta` to the bucket of `second` of the window hash `key_piece`."""
        if delta:
            self.args += [
                _OP_WINDOW,
                self._index(key_piece),
                bulk(second),
                bulk(repr(float(delta))),
            ]

    def add_spend(self, key: str, usd: float, ttl_s: int) -> None:
        self.args += [_OP_SPEND, self._index(bulk(key)), bulk(repr(float(usd))), bulk(str(ttl_s))]

    def drop_mark(self, token: str) -> None:
        self.args += [_OP_DROP, self._index(bulk(self.names.reservation_key(token))), _NONE, _NONE]

    def abandon(self, reservation: Reservation, undo_ops: int) -> None:
        """The header of an abandon: the next `undo_ops` groups run only if the acquire ran."""
        key = self._index(bulk(self.names.reservation_key(reservation.token)))
        hold_ms = bulk(str(max(1, math.ceil(reservation.hold_s * 1000))))
        self.args += [_OP_ABANDON, key, bulk(str(undo_ops)), hold_ms]

    def once(self, receipt: str, ops: int) -> None:
        """The header of a settlement call's groups: the next `ops` groups run once only."""
        self.args += [
            _OP_ONCE,
            self._index(bulk(self.names.receipt_key(receipt))),
            bulk(str(ops)),
            _RECEIPT_MS,
        ]

    def call(self) -> ScriptCall | None:
        """The script call (numkeys, KEYS, then ARGV), or None when there is nothing to write."""
        if not self.args:
            return None
        text = bulk(str(len(self.keys))) + "".join(self.keys) + "".join(self.args)
        return ScriptCall(APPLY, text.encode(), 1 + len(self.keys) + len(self.args))


def settle_ops(names: KeyNames, settlements: Sequence[Settlement], now: float) -> ApplyOps:
    """Free each reservation's slots, move its tpm reservation to the tokens used, replace each
    budget reservation by the cost (in the period it went to), add the cost to the spend of its
    `spend_subjects`, and drop its mark. The settlements of one turn of the loop go in one call
    (`RedisState.start_settle`): their changes to one tpm bucket are summed into one, as their
    spend on one key is (a bucket is never taken below 0, now by the sum of the changes).

    Applied once per receipt (`Settlement.receipt`, lua/apply.lua's "o"): adding spend or
    tokens twice would count a request twice, and a call whose reply was lost (a timeout, a
    reset connection) may have run all the same before the limiter sends it again. Settlements
    sent for the first time get one new receipt, kept on them for their retries; a retry batch
    that joins several earlier calls' settlements keeps each call's group under its own.

    A retry later than `RETRY_MAX_AGE_S` after its first send (Redis away for minutes) is
    dropped, logged, but for what applies the same twice (its slots freed, its mark dropped):
    its receipt may have expired, and applying it a second time would count its cost twice
    and give its budget reservation back twice (the budget then admits more).
    Dropped, a request whose first send did run is counted once, one whose send never arrived
    keeps its budget reservation (the estimate) as its spend for the period, and its cost is
    missing from the all-time total."""
    ops = ApplyOps(names)
    fresh = ""
    first_sent: list[Settlement] = []  # under `fresh`, among the groups where its first one is
    groups: dict[str, list[Settlement]] = {}
    stale: list[Settlement] = []
    for settlement in settlements:
        if not settlement.receipt:
            if not fresh:
                fresh = new_token()
                groups[fresh] = first_sent
            settlement.receipt = fresh
            settlement.sent_at = now
            first_sent.append(settlement)
        elif now - settlement.sent_at > RETRY_MAX_AGE_S:
            stale.append(settlement)
        else:
            groups.setdefault(settlement.receipt, []).append(settlement)
    if stale:
        _drop_stale(ops, stale, now)
    for receipt, group in groups.items():
        body = ApplyOps(names)
        body.keys = ops.keys  # one numbering of the keys for the whole call
        _settle_into(body, group, now)
        if body.args:
            ops.once(receipt, len(body.args) // 4)
            ops.args += body.args
    return ops


def _drop_stale(ops: ApplyOps, stale: Sequence[Settlement], now: float) -> None:
    """Only what applies the same twice: free the slots and drop the marks."""
    for settlement in stale:
        reservation = settlement.reservation
        for check in reservation.checks:
            if check.kind == "concurrent":
                ops.free_slot(check, reservation.token)
        if reservation.checks:
            ops.drop_mark(reservation.token)
    oldest = max(now - settlement.sent_at for settlement in stale)
    log.error(
        "dropping %d settlements ($%.6f) retried %.0f s after their first send: their "
        "receipts may have expired, and if a first send ran they would be counted twice",
        len(stale),
        sum(settlement.cost_usd for settlement in stale),
        oldest,
    )


def _settle_into(ops: ApplyOps, settlements: Sequence[Settlement], now: float) -> None:
    # Written out here rather than through `free_slot`, `drop_mark` and `limit_key_piece` per
    # check: a call settles a dozen requests or more at c = 64, and each one's slot, tpm and
    # mark groups cost ~200 interpreter opcodes through those calls. The concurrency keys are
    # numbered once per call (`slots`), a token and its mark encoded in place, the tpm buckets
    # keyed by (scope, subject, second) until their one group each is written, and the spend
    # looked for only where there can be some (a budget check, or `spend_subjects`). The
    # groups, and the numbering of KEYS, are those the methods make (byte for byte:
    # tests/unit/state/redis/test_settle_encoding.py).
    names, keys, args = ops.names, ops.keys, ops.args
    mark_name = names.reservation_key("")  # + a token: its mark
    marked = len(mark_name)
    slots: dict[tuple[str, str], str] = {}  # (scope, subject) -> its concurrency key's index
    buckets: dict[tuple[str, str, int], float] = {}  # (scope, subject, second) -> tokens to add
    spend: dict[str, tuple[float, int]] = {}  # spend key -> (USD to add, its TTL)
    floor = math.floor
    for settlement in settlements:
        reservation = settlement.reservation
        token = reservation.token
        budgeted = False
        for check in reservation.checks:
            kind = check.kind
            if kind == "concurrent":
                slot = (check.scope, check.subject)
                index = slots.get(slot) or _slot_index(ops, slots, slot)
                args += [_OP_SLOT, index, f"${len(token)}\r\n{token}\r\n", _NONE]
            elif kind == "tpm":
                bucket = (check.scope, check.subject, floor(reservation.at))
                amount = check.amount
                buckets[bucket] = buckets.get(bucket, 0.0) + settlement.actual_tokens - amount
            elif kind in BUDGET_KINDS:
                budgeted = True
        if budgeted or settlement.spend_subjects:
            _spend_deltas(names, settlement, now, spend)
        if reservation.checks:  # every allowed acquire is marked (lua/acquire.lua)
            piece = f"${marked + len(token)}\r\n{mark_name}{token}\r\n"
            n = len(keys)  # (a new key but for a token settled twice in one call)
            index = keys.setdefault(piece, _INDEXES[n] if n < _INDEXED else number_piece(n + 1))
            args += [_OP_DROP, index, _NONE, _NONE]
    for (scope, subject, second), delta in buckets.items():
        ops.adjust_bucket(names.limit_key_piece("tpm", scope, subject), str(second), delta)
    for key, (usd, ttl_s) in spend.items():
        if usd:
            ops.add_spend(key, usd, ttl_s)


def _slot_index(ops: ApplyOps, slots: dict[tuple[str, str], str], slot: tuple[str, str]) -> str:
    """The index of the concurrency key of `slot` (scope, subject) in this call's KEYS."""
    index = slots.get(slot)
    if index is None:
        piece = ops.names.limit_key_piece("concurrent", *slot)
        index = slots[slot] = ops._index(piece)
    return index


def _spend_deltas(
    names: KeyNames, settlement: Settlement, now: float, spend: dict[str, tuple[float, int]]
) -> None:
    """What a settlement adds to each spend key: the cost in the period of `now`, less the
    budget reservations in the period of the acquire."""
    reservation, cost = settlement.reservation, settlement.cost_usd
    subjects = spend_subjects(settlement) if cost or reservation.checks else ()
    for scope, subject in subjects:
        day, month = budget_reserved(reservation, scope, subject)
        if cost:
            keys = names.spend_keys(scope, subject, periods(now))
            # An end user's all-time total (one per end user with a budget: nothing reads it
            # but `spend`) goes when the user spent nothing for as long as a month key lives.
            _add(spend, keys, cost, cost, cost, _USER_TTLS if scope == "user" else _TTLS)
        if day or month:
            held = names.spend_keys(scope, subject, periods(reservation.at))
            _add(spend, held, -day, -month, 0.0)


def _add(
    spend: dict[str, tuple[float, int]],
    keys: tuple[str, str, str],
    day: float,
    month: float,
    total: float,
    ttls: tuple[int, int, int] = _TTLS,
) -> None:
    for key, usd, ttl_s in zip(keys, (day, month, total), ttls):
        if usd:
            spend[key] = (spend.get(key, (0.0, ttl_s))[0] + usd, ttl_s)


def release_ops(names: KeyNames, reservation: Reservation) -> ApplyOps:
    """Undo everything the reservation took: its slots, window amounts, budget reservations."""
    ops = ApplyOps(names)
    _undo(ops, reservation)
    if reservation.checks:
        ops.drop_mark(reservation.token)
    return ops


def abandon_ops(names: KeyNames, reservations: Sequence[Reservation]) -> ApplyOps:
    """Per reservation: undo it if its acquire ran and was allowed, else make sure it reserves
    nothing should it run later (`lua/apply.lua`'s "a")."""
    ops = ApplyOps(names)
    for reservation in reservations:
        if reservation.checks:
            undo = ApplyOps(names)
            undo.keys = ops.keys  # one numbering of the keys for the whole call
            _undo(undo, reservation)
            ops.abandon(reservation, len(undo.args) // 4)
            ops.args += undo.args
    return ops


def _undo(ops: ApplyOps, reservation: Reservation) -> None:
    for check in reservation.checks:
        if check.kind == "concurrent":
            ops.free_slot(check, reservation.token)
        elif check.kind in WINDOW_KINDS:
            ops.adjust(check, reservation.at, -check.amount)
        elif check.kind in BUDGET_KINDS and check.amount:
            period = periods(reservation.at)
            day, month, _ = ops.names.spend_keys(check.scope, check.subject, period)
            if check.kind == "budget_day":
                ops.add_spend(day, -check.amount, DAY_KEY_TTL_S)
            else:
                ops.add_spend(month, -check.amount, MONTH_KEY_TTL_S)
