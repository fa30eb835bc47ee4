"""Alike settlements (the usual batch: one plan's checks, one second) are encoded by C loops in
`settle_alike.settle_alike`, not check by check: the call must be the same, byte for byte, as
the one the per-check loop of `_settle_into` makes (itself pinned to `ApplyOps`' methods by
test_settle_encoding.py), and a batch that is not alike must fall back to that loop."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import pytest

from gateway.state import LimitCheck, Reservation, Settlement
from gateway.state.redis import settle_alike, settle_calls
from gateway.state.redis.apply_ops import ApplyOps
from gateway.state.redis.keys import KeyNames

T0 = 1_768_435_199.25
RECEIPT = "fresh-receipt"
BUDGET = LimitCheck("key", "k1", "budget_day", 5.0, 0.25)


def _checks(tokens: float, *, team: bool = False) -> tuple[LimitCheck, ...]:
    checks: tuple[LimitCheck, ...] = (
        LimitCheck("key", "k1", "rpm", 100, 1),
        LimitCheck("key", "k1", "tpm", 10_000, tokens),
        LimitCheck("key", "k1", "concurrent", 8, 1),
    )
    if team:
        checks += (
            LimitCheck("team", "t{1}", "concurrent", 8, 1),
            LimitCheck("team", "t{1}", "tpm", 10_000, tokens / 3),
        )
    return checks


def _alike(
    count: int, *, team: bool = False, at: float = T0, name: str = "tok"
) -> list[Settlement]:
    # Tokens of different lengths, estimates that are not whole numbers: the bulk strings and
    # the float sums must be the loop's to the last digit; braces in the tokens and the key
    # names ({limits}) are text, not format fields.
    return [
        Settlement(
            Reservation(f"{name}-{i}{{}}", _checks(100.1 + i / 7, team=team), at), 90 + i, 0.0
        )
        for i in range(count)
    ]


def _encoded(
    monkeypatch: pytest.MonkeyPatch, settlements: Sequence[Settlement], *, alike: bool
) -> bytes:
    """The call's bytes, by `settle_alike` where it applies (`alike`) or by the loop alone."""
    with monkeypatch.context() as patched:
        patched.setattr(settle_calls, "new_token", lambda: RECEIPT)
        if not alike:
            patched.setattr(settle_calls, "_ALIKE_FROM", 10**9)
        copies = [dataclasses.replace(s) for s in settlements]
        call = settle_calls.settle_ops(KeyNames("gw"), copies, T0 + 1).call()
    assert call is not None
    return call.args


def _taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """What each `settle_alike` call answered (whether it wrote the settlements)."""
    answers: list[bool] = []
    alike = settle_alike.settle_alike

    def spy(ops: ApplyOps, settlements: Sequence[Settlement]) -> bool:
        answers.append(alike(ops, settlements))
        return answers[-1]

    monkeypatch.setattr(settle_calls, "settle_alike", spy)
    return answers


@pytest.mark.parametrize(
    "batch",
    [
        _alike(2),
        _alike(16),
        _alike(16, team=True),  # two slot keys, two tpm buckets
        _alike(90),  # past the 64 indexes of the table
        [  # two seconds: a bucket each, summed in the loop's order
            *_alike(3, team=True),
            *_alike(2, team=True, at=T0 + 1, name="new"),
            *_alike(2, team=True, name="last"),
        ],
        [Settlement(Reservation(f"t{i}", _checks(5)[2:], T0), 0, 0.0) for i in range(5)],
    ],
    ids=["2", "16", "two-scopes", "90", "two-seconds", "slots-only"],
)
def test_alike_settlements_are_the_call_the_loop_makes(
    monkeypatch: pytest.MonkeyPatch, batch: list[Settlement]
) -> None:
    answers = _taken(monkeypatch)
    written = _encoded(monkeypatch, batch, alike=True)
    assert answers == [True]  # written by the C loops
    assert written == _encoded(monkeypatch, batch, alike=False)


def test_alike_settlements_after_a_retried_group_are_the_call_the_loop_makes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A retry's group numbers its keys first: the fresh group's marks are numbered after."""
    retried = [
        dataclasses.replace(s, receipt="earlier", sent_at=T0 - 3)
        for s in _alike(4, team=True, name="old")
    ]
    batch = [*retried, *_alike(8)]
    answers = _taken(monkeypatch)
    written = _encoded(monkeypatch, batch, alike=True)
    assert answers == [True, True]
    assert written == _encoded(monkeypatch, batch, alike=False)


@pytest.mark.parametrize(
    "batch",
    [
        [*_alike(3), Settlement(Reservation("tok-x", _checks(5)[2:], T0), 0, 0.0)],  # shapes
        [*_alike(3), _alike(1)[0]],  # a token settled twice in one call
        [*_alike(3), Settlement(Reservation("tok-y", _checks(9), T0), 9, 0.1, (("user", "u"),))],
        [Settlement(Reservation(f"b{i}", (*_checks(9), BUDGET), T0), 9, 0.1) for i in range(3)],
        [Settlement(Reservation(f"e{i}", (), T0), 0, 0.1, (("user", "u"),)) for i in range(3)],
    ],
    ids=["two-shapes", "token-twice", "spend-subjects", "budget", "no-checks"],
)
def test_settlements_not_alike_are_left_to_the_loop(
    monkeypatch: pytest.MonkeyPatch, batch: list[Settlement]
) -> None:
    answers = _taken(monkeypatch)
    written = _encoded(monkeypatch, batch, alike=True)
    assert answers == [False]
    assert written == _encoded(monkeypatch, batch, alike=False)


def test_settlements_sent_for_the_first_time_share_one_receipt_and_first_send() -> None:
    """The usual call (no retry among them) sets each one's receipt and first send at once."""
    batch = _alike(5)
    call = settle_calls.settle_ops(KeyNames("gw"), batch, T0 + 1).call()
    assert call is not None
    receipt = batch[0].receipt
    assert receipt and all(s.receipt == receipt and s.sent_at == T0 + 1 for s in batch)
    assert call.args.count(f"gw:{{limits}}:s:{receipt}".encode()) == 1
    again = settle_calls.settle_ops(KeyNames("gw"), batch, T0 + 2).call()  # a retry: kept
    assert again is not None and again.args == call.args
    assert all(s.receipt == receipt and s.sent_at == T0 + 1 for s in batch)
