"""The `lua/acquire.lua` call, encoded from cached pieces, and the parsing of its reply.

A check's key and its "kind limit" arguments stay the same from one request to the next, so
they are cached as RESP pieces and an acquire encodes only what changes (times, token, amounts).
The usual plan's checks (rpm, tpm and concurrency: the same on every request but for the tpm
amount) go further: their keys and arguments are joined once into an `AcquireTemplate`, and an
acquire then encodes its times, token and tpm amount around it (`acquire_call(..., template)`:
the same bytes, ~300 fewer interpreter opcodes for three checks).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from gateway.state.base import (
    BUDGET_KINDS,
    CONCURRENT_RETRY_S,
    WINDOW_KINDS,
    WINDOW_S,
    CheckResult,
    LimitCheck,
    Reservation,
    is_marked,
)
from gateway.state.periods import Periods, periods
from gateway.state.redis.commands import ScriptCall
from gateway.state.redis.keys import (
    PIECES_MAX,
    WINDOW_KEY_TTL_S,
    limit_key,
    number_piece,
    reservation_key,
    spend_keys,
)
from gateway.state.redis.scripts import ACQUIRE
from gateway.state.redis.wire import bulk


def _counter(check: LimitCheck, period: Periods, now: float) -> tuple[str, str, float]:
    """How `lua/acquire.lua` sees a check: (kind code, key, hint)."""
    if check.kind in WINDOW_KINDS:
        return "w", limit_key(check.kind, check.scope, check.subject), 0.0
    if check.kind == "concurrent":
        return "c", limit_key("concurrent", check.scope, check.subject), CONCURRENT_RETRY_S
    day, month, _ = spend_keys(check.scope, check.subject, period)
    if check.kind == "budget_day":
        return "b", day, period.day_end - now
    return "b", month, period.month_end - now


_pieces: dict[tuple[str, str, str, float, str], tuple[str, str, str | None]] = {}


def _check_pieces(check: LimitCheck, period: Periods) -> tuple[str, str, str | None]:
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
    pieces = _pieces.get(cache_key)
    if pieces is None:
        code, key, hint = _counter(check, period, 0.0)
        pieces = (
            bulk(key),
            bulk(code) + bulk(repr(float(check.limit))),
            None if code == "b" else bulk(repr(hint)),
        )
        if len(_pieces) >= PIECES_MAX:
            _pieces.clear()
        _pieces[cache_key] = pieces
    return pieces


_WINDOW_ARGS = bulk(repr(WINDOW_S)) + bulk(str(int(WINDOW_KEY_TTL_S * 1000)))
_WINDOW_MS = int(WINDOW_S * 1000)
_ONE = bulk(repr(1.0))  # the amount of an rpm or concurrency check


def mark_ms(checks: Sequence[LimitCheck], hold_ms: int) -> int:
    """How long an allowed acquire's mark lives (`lua/acquire.lua`): its hold when it will be
    settled; else (rpm only: nothing to settle) at most a window, after which its count is gone
    anyway. Either way an abandon that comes after the acquire ran finds the mark and undoes it.
    """
    return hold_ms if is_marked(checks) else min(hold_ms, _WINDOW_MS)


def _amount_piece(amount: float) -> str:
    return _ONE if amount == 1 else bulk(repr(float(amount)))


class AcquireTemplate:
    """What `acquire_call` encodes the same way for every request of one plan: checks of
    windows and slots only (no budget: its hint moves with the clock), whose amounts differ
    from request to request only on the tpm checks. Made by `template_of`."""

    __slots__ = ("keys", "marked", "nargs", "segments", "tpm_at")

    def __init__(self, checks: Sequence[LimitCheck], period: Periods) -> None:
        self.tpm_at = tuple(at for at, check in enumerate(checks) if check.kind == "tpm")
        keys = [number_piece(len(checks) + 1)]
        # The checks' ARGV cut where a tpm amount goes: len(tpm_at) + 1 segments.
        segments: list[str] = []
        text = ""
        for check in checks:
            key, code_limit, hint = _check_pieces(check, period)
            assert hint is not None  # `template_of` makes none for a budget
            keys.append(key)
            if check.kind == "tpm":
                segments.append(text + code_limit)
                text = hint
            else:
                text += code_limit + _amount_piece(check.amount) + hint
        segments.append(text)
        self.keys = "".join(keys)
        self.segments = tuple(segments)
        self.marked = is_marked(checks)
        self.nargs = 1 + len(checks) + 1 + 8 + 4 * len(checks)

    def args(self, checks: Sequence[LimitCheck]) -> str:
        """The checks' ARGV, with their tpm amounts."""
        segments = self.segments
        if len(segments) == 2:  # one tpm check, the usual plan
            return segments[0] + _amount_piece(checks[self.tpm_at[0]].amount) + segments[1]
        amounts = [_amount_piece(checks[at].amount) for at in self.tpm_at]
        return "".join(part for pair in zip(segments, [*amounts, ""]) for part in pair)


def template_of(checks: Sequence[LimitCheck]) -> AcquireTemplate | None:
    """The template of these checks (a plan's, amounts aside), or None when they have a budget
    (or are many: `acquire_call` encodes them one by one)."""
    if len(checks) > 16 or any(check.kind in BUDGET_KINDS for check in checks):
        return None
    return AcquireTemplate(checks, periods(0.0))


def acquire_call(reservation: Reservation, template: AcquireTemplate | None = None) -> ScriptCall:
    """`lua/acquire.lua`'s call: KEYS (the checks' and the mark), the 8 common ARGV, then
    4 ARGV per check. `template`: the template of the reservation's checks (`template_of` of
    checks that differ from these at most in their tpm amounts), which encodes the same call
    from fewer pieces."""
    checks, now, token = reservation.checks, reservation.at, reservation.token
    hold_s = reservation.hold_s
    hold_ms = max(1, math.ceil(hold_s * 1000))
    if template is not None:
        keys, args, nargs = template.keys, template.args(checks), template.nargs
        mark = str(hold_ms if template.marked else min(hold_ms, _WINDOW_MS))  # as `mark_ms`
    else:
        period = periods(now)
        parts = [number_piece(len(checks) + 1)]
        per_check: list[str] = []
        for check in checks:
            key, code_limit, hint = _check_pieces(check, period)
            parts.append(key)
            if hint is None:  # a budget: seconds to its period's end
                end = period.day_end if check.kind == "budget_day" else period.month_end
                hint = bulk(repr(end - now))
            per_check += (code_limit, _amount_piece(check.amount), hint)
        keys, args = "".join(parts), "".join(per_check)
        nargs = 1 + len(checks) + 1 + 8 + 4 * len(checks)
        mark = str(mark_ms(checks, hold_ms))
    # The mark's key and the common ARGV that change with every call, as one string.
    mark_key, now_text, second = reservation_key(token), repr(now), str(math.floor(now))
    expiry, hold = repr(now + hold_s), str(hold_ms)
    text = (
        f"{keys}${len(mark_key)}\r\n{mark_key}\r\n${len(now_text)}\r\n{now_text}\r\n"
        f"${len(second)}\r\n{second}\r\n${len(token)}\r\n{token}\r\n"
        f"${len(expiry)}\r\n{expiry}\r\n${len(hold)}\r\n{hold}\r\n"
        f"{_WINDOW_ARGS}${len(mark)}\r\n{mark}\r\n{args}"
    )
    return ScriptCall(ACQUIRE, text.encode(), nargs)


def check_results(checks: Sequence[LimitCheck], fields: list[bytes]) -> tuple[CheckResult, ...]:
    """Per check: "allowed remaining reset" (fields[0] is the overall verdict)."""
    return tuple(
        CheckResult(
            check, fields[1 + 3 * i] == b"1", float(fields[2 + 3 * i]), float(fields[3 + 3 * i])
        )
        for i, check in enumerate(checks)
    )
