"""The settlement call is encoded from cached pieces written out in `settle_calls._settle_into`,
not through `ApplyOps`' methods one check at a time: the call must be the same, byte for byte,
as the one those methods make (`_by_the_methods` here, the way it was encoded before)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import pytest

from gateway.state import LimitCheck, Reservation, Settlement
from gateway.state.redis import settle_calls
from gateway.state.redis.keys import RETRY_MAX_AGE_S, KeyNames
from gateway.state.redis.settle_calls import ApplyOps, settle_ops

T0 = 1_768_435_199.5  # 2026-01-14T23:59:59.5Z: half a second before a new day
RECEIPT = "fresh-receipt"


def _checks(scope: str, subject: str, tokens: float) -> tuple[LimitCheck, ...]:
    return (
        LimitCheck(scope, subject, "rpm", 100, 1),
        LimitCheck(scope, subject, "tpm", 10_000, tokens),
        LimitCheck(scope, subject, "concurrent", 8, 1),
    )


BUDGETS = (
    LimitCheck("key", "k1", "budget_day", 5.0, 0.25),
    LimitCheck("key", "k1", "budget_month", 50.0, 0.25),
    LimitCheck("team", "t", "budget_day", 9.0, 0.125),
)


def _batch(now: float) -> list[Settlement]:
    usual = Reservation("tok-a", _checks("key", "k1", 100), T0)
    same_bucket = Reservation("tok-b", _checks("key", "k1", 150), T0 + 0.25)
    other_scope = Reservation("tok-c", (*_checks("key", "k2", 80), *_checks("team", "t", 80)), T0)
    budgeted = Reservation("tok-d", (*_checks("key", "k1", 60), *BUDGETS), T0)
    freed = Reservation("tok-e", (LimitCheck("key", "k1", "concurrent", 8, 1),), T0)
    rest = Reservation("tok-e", (LimitCheck("key", "k1", "tpm", 10_000, 40),), T0)
    retried = Reservation("tok-f", _checks("key", "k1", 30), T0 - 2)
    stale = Reservation("tok-g", _checks("key", "k2", 30), T0 - 2)
    nothing = Reservation("", (), now)
    settlements = [
        Settlement(retried, 35, 0.01, receipt="earlier", sent_at=now - 5),
        Settlement(usual, 150, 0.02),  # +50 to the bucket of T0
        Settlement(same_bucket, 100, 0.03),  # -50 to it: the sum is 0, no group
        Settlement(other_scope, 90, 0.0),  # two more scopes' keys, a tpm bucket each
        Settlement(budgeted, 70, 0.5, (("user", "u1"),)),  # budgets, and a subject without
        Settlement(freed, 0, 0.0),  # the slot freed first ...
        Settlement(rest, 45, 0.04),  # ... then the rest, under the same token
        Settlement(stale, 1, 0.2, receipt="long-ago", sent_at=now - RETRY_MAX_AGE_S - 1),
        Settlement(nothing, 0, 0.3, (("user", "u2"),)),  # summed spend, no reservation
        Settlement(retried, 35, 0.01, receipt="earlier", sent_at=now - 5),
        Settlement(usual, 150, 0.0, receipt="other", sent_at=now - 1),
    ]
    return settlements


def _by_the_methods(names: KeyNames, settlements: Sequence[Settlement], now: float) -> ApplyOps:
    """`settle_ops` as it was written before `_settle_into` encoded the groups itself."""
    ops = ApplyOps(names)
    groups: dict[str, list[Settlement]] = {}
    stale: list[Settlement] = []
    for settlement in settlements:
        if not settlement.receipt:
            settlement.receipt = RECEIPT
            settlement.sent_at = now
        elif now - settlement.sent_at > RETRY_MAX_AGE_S:
            stale.append(settlement)
            continue
        groups.setdefault(settlement.receipt, []).append(settlement)
    if stale:
        settle_calls._drop_stale(ops, stale, now)
    for receipt, group in groups.items():
        body = ApplyOps(names)
        body.keys = ops.keys
        spend: dict[str, tuple[float, int]] = {}
        buckets: dict[tuple[str, str], float] = {}
        for settlement in group:
            reservation = settlement.reservation
            for check in reservation.checks:
                if check.kind == "concurrent":
                    body.free_slot(check, reservation.token)
                elif check.kind == "tpm":
                    piece = names.limit_key_piece("tpm", check.scope, check.subject)
                    bucket = (piece, str(math.floor(reservation.at)))
                    tokens = settlement.actual_tokens - check.amount
                    buckets[bucket] = buckets.get(bucket, 0.0) + tokens
            settle_calls._spend_deltas(names, settlement, now, spend)
            if reservation.checks:
                body.drop_mark(reservation.token)
        for (piece, second), delta in buckets.items():
            body.adjust_bucket(piece, second, delta)
        for key, (usd, ttl_s) in spend.items():
            if usd:
                body.add_spend(key, usd, ttl_s)
        if body.args:
            ops.once(receipt, len(body.args) // 4)
            ops.args += body.args
    return ops


@pytest.mark.parametrize("now", [T0 + 1, T0 + 40 * 86_400])
def test_the_settle_call_is_the_one_the_methods_make(
    monkeypatch: pytest.MonkeyPatch, now: float
) -> None:
    monkeypatch.setattr(settle_calls, "new_token", lambda: RECEIPT)
    names = KeyNames("gw")
    batch = _batch(now)
    written = settle_ops(names, [dataclasses.replace(s) for s in batch], now).call()
    expected = _by_the_methods(names, [dataclasses.replace(s) for s in batch], now).call()
    assert written is not None and expected is not None
    assert written.args == expected.args
    assert written.nargs == expected.nargs
    # What the batch is there to cover: slots freed, a tpm group left out (its sum is 0),
    # budgets given back and spent, each receipt's groups run once.
    for piece in (b"concurrent:team:t", b"tpm:key:k2", b"spend:team:t:day", b"spend:user:u1"):
        assert piece in written.args
    assert written.args.count(b"$1\r\no\r\n") == 3  # the fresh, "earlier" and "other" receipts


def test_a_usual_settlement_frees_its_slot_moves_its_tokens_and_drops_its_mark() -> None:
    names = KeyNames("gw")
    settlement = Settlement(Reservation("tok", _checks("key", "k", 100), T0), 120, 0.01)
    call = settle_ops(names, [settlement], T0 + 1).call()
    assert call is not None
    receipt = settlement.receipt
    expected = [
        "4",  # numkeys
        "gw:{limits}:concurrent:key:k",
        "gw:{limits}:r:tok",
        "gw:{limits}:tpm:key:k",
        f"gw:{{limits}}:s:{receipt}",  # numbered last: once the groups it covers are known
        *("o", "4", "3", "300000"),  # the next 3 groups run once, the receipt kept 300 s
        *("z", "1", "tok", ""),
        *("d", "2", "", ""),
        *("w", "3", str(math.floor(T0)), "20.0"),
    ]
    assert call.args == "".join(f"${len(a)}\r\n{a}\r\n" for a in expected).encode()
    assert call.nargs == len(expected)


def test_a_call_of_more_than_64_keys_is_the_one_the_methods_make(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past the 64th key the indexes are encoded as they come, not read from a table."""
    monkeypatch.setattr(settle_calls, "new_token", lambda: RECEIPT)
    names = KeyNames("gw")
    batch = [
        Settlement(Reservation(f"tok-{i}", _checks("key", f"k{i % 3}", 10), T0), 12, 0.0)
        for i in range(80)
    ]
    written = settle_ops(names, [dataclasses.replace(s) for s in batch], T0 + 1).call()
    expected = _by_the_methods(names, [dataclasses.replace(s) for s in batch], T0 + 1).call()
    assert written is not None and expected is not None
    assert written.args.startswith(b"$2\r\n87\r\n")  # 3 slot keys, 80 marks, 3 tpm, 1 receipt
    assert written.args == expected.args
