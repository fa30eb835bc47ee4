"""The `lua/acquire.lua` call, encoded from cached pieces, and the parsing of its reply.

A check's key and its "kind limit" arguments stay the same from one request to the next, so
they are cached as RESP pieces and an acquire encodes only what changes (times, token, amounts).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.state.base import (
    CONCURRENT_RETRY_S,
    WINDOW_KINDS,
    WINDOW_S,
    CheckResult,
    LimitCheck,
    Reservation,
    is_marked,
)
from gateway.state.periods import Periods
from gateway.state.redis.commands import ScriptCall
from gateway.state.redis.keys import PIECES_MAX, WINDOW_KEY_TTL_S, KeyNames, number_piece
from gateway.state.redis.scripts import ACQUIRE
from gateway.state.redis.wire import bulk


def _counter(
    names: KeyNames, check: LimitCheck, period: Periods, now: float
) -> tuple[str, str, float]:
    """How `lua/acquire.lua` sees a check: (kind code, key, hint)."""
    if check.kind in WINDOW_KINDS:
        return "w", names.limit_key(check.kind, check.scope, check.subject), 0.0
    if check.kind == "concurrent":
        return "c", names.limit_key("concurrent", check.scope, check.subject), CONCURRENT_RETRY_S
    day, month, _ = names.spend_keys(check.scope, check.subject, period)
    if check.kind == "budget_day":
        return "b", day, period.day_end - now
    return "b", month, period.month_end - now


_WINDOW_ARGS = bulk(repr(WINDOW_S)) + bulk(str(int(WINDOW_KEY_TTL_S * 1000)))
_WINDOW_MS = int(WINDOW_S * 1000)
_ONE = bulk(repr(1.0))  # the amount of an rpm or concurrency check


def mark_ms(checks: Sequence[LimitCheck], hold_ms: int) -> int:
    """How long an allowed acquire's mark lives (`lua/acquire.lua`): its hold when it will be
    settled; else (rpm only: nothing to settle) at most a window, after which its count is gone
    anyway. Either way an abandon that comes after the acquire ran finds the mark and undoes it.
    """
    return hold_ms if is_marked(checks) else min(hold_ms, _WINDOW_MS)


class AcquireCalls:
    """Encodes the `lua/acquire.lua` calls of one backend (its key names), from RESP pieces
    cached here."""

    def __init__(self, names: KeyNames) -> None:
        self.names = names
        self._marks = names.reservation_key("")  # + a token: the reservation's mark
        self._pieces: dict[tuple[str, str, str, float, str], tuple[str, str, str | None]] = {}

    def _check_pieces(self, check: LimitCheck, period: Periods) -> tuple[str, str, str | None]:
        """(key, "code limit", hint) of one check as RESP pieces; the hint is None for a budget,
        whose hint (seconds to the period's end) depends on `now`."""
        # Budget keys name their day or month: part of the cache key, so a new period misses.
        when = (
            period.day
            if check.kind == "budget_day"
            else period.month
            if check.kind == "budget_month"
            else ""
        )
        cache_key = (check.kind, check.scope, check.subject, check.limit, when)
        pieces = self._pieces.get(cache_key)
        if pieces is None:
            code, key, hint = _counter(self.names, check, period, 0.0)
            pieces = (
                bulk(key),
                bulk(code) + bulk(repr(float(check.limit))),
                None if code == "b" else bulk(repr(hint)),
            )
            if len(self._pieces) >= PIECES_MAX:
                self._pieces.clear()
            self._pieces[cache_key] = pieces
        return pieces

    def call(self, reservation: Reservation, period: Periods) -> ScriptCall:
        """`lua/acquire.lua`'s call: KEYS (the checks' and the mark), the 8 common ARGV, then
        4 ARGV per check."""
        checks, now, token = reservation.checks, reservation.at, reservation.token
        hold_s = reservation.hold_s
        parts = [number_piece(len(checks) + 1)]
        per_check: list[str] = []
        for check in checks:
            key, code_limit, hint = self._check_pieces(check, period)
            parts.append(key)
            amount = check.amount
            if hint is None:  # a budget: seconds to its period's end
                end = period.day_end if check.kind == "budget_day" else period.month_end
                hint = bulk(repr(end - now))
            per_check += (code_limit, _ONE if amount == 1 else bulk(repr(float(amount))), hint)
        hold_ms = max(1, math.ceil(hold_s * 1000))
        # The mark's key and the common ARGV that change with every call, as one string.
        mark_key, now_text, second = self._marks + token, repr(now), str(math.floor(now))
        expiry, hold, mark = repr(now + hold_s), str(hold_ms), str(mark_ms(checks, hold_ms))
        parts.append(
            f"${len(mark_key)}\r\n{mark_key}\r\n${len(now_text)}\r\n{now_text}\r\n"
            f"${len(second)}\r\n{second}\r\n${len(token)}\r\n{token}\r\n"
            f"${len(expiry)}\r\n{expiry}\r\n${len(hold)}\r\n{hold}\r\n"
            f"{_WINDOW_ARGS}${len(mark)}\r\n{mark}\r\n"
        )
        text = "".join(parts) + "".join(per_check)
        return ScriptCall(ACQUIRE, text.encode(), 1 + len(checks) + 1 + 8 + 4 * len(checks))


def check_results(checks: Sequence[LimitCheck], fields: list[bytes]) -> tuple[CheckResult, ...]:
    """Per check: "allowed remaining reset" (fields[0] is the overall verdict)."""
    return tuple(
        CheckResult(
            check, fields[1 + 3 * i] == b"1", float(fields[2 + 3 * i]), float(fields[3 + 3 * i])
        )
        for i, check in enumerate(checks)
    )
