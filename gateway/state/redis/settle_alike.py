"""Alike settlements (the usual batch: one plan's checks) encoded by C loops, not check by
check: `settle_alike`."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from functools import reduce
from itertools import chain, repeat
from operator import add, attrgetter, itemgetter, neg

from gateway.state.base import BUDGET_KINDS, LimitCheck, Reservation, Settlement
from gateway.state.redis.apply_ops import INDEXED, INDEXES, NONE, OP_DROP, OP_SLOT, ApplyOps
from gateway.state.redis.keys import KeyNames, number_piece

# What `settle_alike` reads of every settlement, in C loops (`map`).
_RESERVATION, _CHECKS, _TOKEN = attrgetter("reservation"), attrgetter("checks"), attrgetter("token")
_AT, _ACTUAL, _AMOUNT = attrgetter("at"), attrgetter("actual_tokens"), attrgetter("amount")
_SPEND_SUBJECTS, _CHECK_KEY = attrgetter("spend_subjects"), attrgetter("kind", "scope", "subject")
_MARK_FORMATS: dict[str, tuple[Callable[[int, str], str], int]] = {}  # `_mark_format`'s
_TOKEN_PIECE = "${}\r\n{}\r\n".format  # (a token's length, the token): its bulk string


def settle_alike(ops: ApplyOps, settlements: Sequence[Settlement]) -> bool:
    """`settle_calls._settle_into` for settlements that are alike, the usual batch: each
    reservation holds checks of the same kinds, scopes and subjects in the same order
    (distinct, no budget), none has `spend_subjects`, and each token is new to the call. Their
    groups are read and written by C loops (`map`, `zip`, `chain`) instead of one Python loop
    per settlement and check (~170 interpreter opcodes a settlement): the same groups, keys and
    numbering, byte for byte (tests/unit/state/redis/test_settle_alike.py). A tpm bucket's
    change is summed in the same order, (sum + actual tokens) + -amount (the same float as
    - amount), settlement by settlement; only when the acquires fall in different seconds
    (more than one bucket) is it summed by a Python loop, as `_settle_into` does. False,
    having written nothing, when they are not alike."""
    reservations = list(map(_RESERVATION, settlements))
    checks = list(map(_CHECKS, reservations))
    shapes = set(map(tuple, map(map, repeat(_CHECK_KEY), checks)))  # (kind, scope, subject)s
    if len(shapes) != 1 or any(map(_SPEND_SUBJECTS, settlements)):
        return False
    shape = shapes.pop()
    if not shape or len(set(shape)) != len(shape) or not BUDGET_KINDS.isdisjoint(next(zip(*shape))):
        return False
    names, keys = ops.names, ops.keys
    mark_format, marked = _MARK_FORMATS.get(names.limits) or _mark_format(names)
    tokens = list(map(_TOKEN, reservations))
    lengths = list(map(len, tokens))
    marks = list(map(mark_format, map(marked.__add__, lengths), tokens))
    if len(set(marks)) != len(marks) or not keys.keys().isdisjoint(marks):
        return False  # a token settled twice in one call
    # Each settlement's groups: a slot group per concurrency check, in order, then its mark's.
    streams: list[Iterable[str]] = []
    tpm: list[tuple[int, str]] = []  # each tpm check's place, its key
    pieces: list[str] | None = None
    for at, (kind, scope, subject) in enumerate(shape):
        if kind == "concurrent":
            if pieces is None:
                pieces = list(map(_TOKEN_PIECE, lengths, tokens))
            index = ops._index(names.limit_key_piece("concurrent", scope, subject))
            streams += (repeat(OP_SLOT), repeat(index), pieces, repeat(NONE))
        elif kind == "tpm":
            tpm.append((at, names.limit_key_piece("tpm", scope, subject)))
    n, count = len(keys), len(marks)  # the marks are numbered after the slots' keys
    if n + count <= INDEXED:
        indexes = INDEXES[n : n + count]
    else:
        indexes = [number_piece(k) for k in range(n + 1, n + count + 1)]
    keys.update(zip(marks, indexes))
    streams += (repeat(OP_DROP), indexes, repeat(NONE), repeat(NONE))
    ops.args += chain.from_iterable(zip(*streams))
    if tpm:
        _move_tokens(ops, settlements, reservations, checks, tpm)
    return True


def _move_tokens(
    ops: ApplyOps,
    settlements: Sequence[Settlement],
    reservations: list[Reservation],
    checks: list[tuple[LimitCheck, ...]],
    tpm: list[tuple[int, str]],
) -> None:
    """`settle_alike`'s tpm groups: each bucket's change, in the order
    `settle_calls._settle_into` sums and writes them."""
    seconds = list(map(math.floor, map(_AT, reservations)))
    actual = list(map(_ACTUAL, settlements))
    if seconds.count(seconds[0]) == len(seconds):  # one second: one bucket per tpm check
        second = str(seconds[0])
        for at, piece in tpm:
            amounts = map(neg, map(_AMOUNT, map(itemgetter(at), checks)))
            ops.adjust_bucket(
                piece, second, reduce(add, chain.from_iterable(zip(actual, amounts)), 0.0)
            )
        return
    buckets: dict[tuple[str, int], float] = {}
    for in_second, tokens, held in zip(seconds, actual, checks):
        for at, piece in tpm:
            bucket = (piece, in_second)
            buckets[bucket] = buckets.get(bucket, 0.0) + tokens - held[at].amount
    for (piece, in_second), delta in buckets.items():
        ops.adjust_bucket(piece, str(in_second), delta)


def _mark_format(names: KeyNames) -> tuple[Callable[[int, str], str], int]:
    """The bulk string of a token's mark, from its length and the token (a `str.format`), and
    the length of the mark's name without the token; made once per key prefix."""
    name = names.reservation_key("")
    text = "${}\r\n" + name.replace("{", "{{").replace("}", "}}") + "{}\r\n"
    made = _MARK_FORMATS[names.limits] = (text.format, len(name))
    return made
