"""The operations of one `lua/apply.lua` call (settle, release, abandon), kept as RESP pieces
until the call is encoded: `ApplyOps`, and the pieces the encoders that write groups in place
(`settle_calls`, `settle_alike`) share with it."""

from __future__ import annotations

import math

from gateway.state.base import LimitCheck, Reservation
from gateway.state.redis.commands import ScriptCall
from gateway.state.redis.keys import RECEIPT_TTL_S, KeyNames, number_piece
from gateway.state.redis.scripts import APPLY
from gateway.state.redis.wire import bulk

OP_SLOT, OP_WINDOW, OP_SPEND, NONE = bulk("z"), bulk("w"), bulk("s"), bulk("")
OP_DROP, OP_ABANDON, OP_ONCE = bulk("d"), bulk("a"), bulk("o")
RECEIPT_MS = bulk(str(RECEIPT_TTL_S * 1000))
# number_piece(n + 1) of the first keys, read without a call (each settlement's mark is a new
# key: `settle_calls._settle_into`).
INDEXES = [number_piece(n + 1) for n in range(64)]
INDEXED = len(INDEXES)


class ApplyOps:
    """The operations of one `lua/apply.lua` call: keys numbered once, ARGV in groups of 4,
    kept as RESP pieces (`call` joins them)."""

    def __init__(self, names: KeyNames) -> None:
        self.names = names
        self.keys: dict[str, str] = {}  # a key's RESP piece -> its 1-based index into KEYS
        self.args: list[str] = []

    def _index(self, key_piece: str) -> str:
        keys = self.keys
        index = keys.get(key_piece)
        if index is None:
            n = len(keys)
            index = keys[key_piece] = INDEXES[n] if n < INDEXED else number_piece(n + 1)
        return index

    def free_slot(self, check: LimitCheck, token: str) -> None:
        key = self._index(self.names.limit_key_piece("concurrent", check.scope, check.subject))
        self.args += [OP_SLOT, key, bulk(token), NONE]

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
                OP_WINDOW,
                self._index(key_piece),
                bulk(second),
                bulk(repr(float(delta))),
            ]

    def add_spend(self, key: str, usd: float, ttl_s: int) -> None:
        self.args += [OP_SPEND, self._index(bulk(key)), bulk(repr(float(usd))), bulk(str(ttl_s))]

    def drop_mark(self, token: str) -> None:
        self.args += [OP_DROP, self._index(bulk(self.names.reservation_key(token))), NONE, NONE]

    def abandon(self, reservation: Reservation, undo_ops: int) -> None:
        """The header of an abandon: the next `undo_ops` groups run only if the acquire ran."""
        key = self._index(bulk(self.names.reservation_key(reservation.token)))
        hold_ms = bulk(str(max(1, math.ceil(reservation.hold_s * 1000))))
        self.args += [OP_ABANDON, key, bulk(str(undo_ops)), hold_ms]

    def once(self, receipt: str, ops: int) -> None:
        """The header of a settlement call's groups: the next `ops` groups run once only."""
        self.args += [
            OP_ONCE,
            self._index(bulk(self.names.receipt_key(receipt))),
            bulk(str(ops)),
            RECEIPT_MS,
        ]

    def call(self) -> ScriptCall | None:
        """The script call (numkeys, KEYS, then ARGV), or None when there is nothing to write."""
        if not self.args:
            return None
        text = bulk(str(len(self.keys))) + "".join(self.keys) + "".join(self.args)
        return ScriptCall(APPLY, text.encode(), 1 + len(self.keys) + len(self.args))
