"""The `lua/acquire.lua` call, encoded from cached pieces, and the parsing of its reply.

A plan's checks repeat on every request: their keys and their "kind limit hint" arguments are
cached as RESP, one entry per tuple of checks (and UTC day: a budget's key names its day or
month), and an acquire encodes only what changes (times, token, amounts, a budget's hint).
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
    UnreadResults,
)
from gateway.state.periods import Periods, periods
from gateway.state.prepared import WindowFigures
from gateway.state.redis.commands import ScriptCall
from gateway.state.redis.keys import PIECES_MAX, WINDOW_KEY_TTL_S, KeyNames, number_piece
from gateway.state.redis.scripts import ACQUIRE
from gateway.state.redis.wire import bulk
from gateway.state.reservations import is_marked


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


def mark_ms(marked: bool, hold_ms: int) -> int:
    """How long an allowed acquire's mark lives (`lua/acquire.lua`): its hold when it will be
    settled; else (rpm only: nothing to settle) at most a window, after which its count is gone
    anyway. Either way an abandon that comes after the acquire ran finds the mark and undoes it.
    `marked`: `is_marked` of the acquire's checks.
    """
    return hold_ms if marked else min(hold_ms, _WINDOW_MS)


# What names a check's cached pieces: (kind, scope, subject, limit).
_Shape = tuple[str, str, str, float]
# The cached encoding of a tuple of checks: the whole call's arguments as one %-template (the
# numkeys piece and the checks' keys; slots for the mark's key and the 8 common ARGV, but the
# window's two, as "$<length>" and text; the checks' ARGV with slots for the amounts and the
# budgets' hints, in order), nargs, and `is_marked` of the checks.
_Encoding = tuple[str, int, bool]
_SLOT = "$%d\r\n%s\r\n"  # a bulk string's slot: its length, its text
# A shape's entry: the shape (kept, so its id is not reused while the entry lives), a template
# as `_Encoding`'s but with each rpm's and slot's amount written in and a `_SLOT` for each tpm
# amount, nargs, `is_marked` of the checks, and where the tpm checks are.
_ShapedEncoding = tuple[object, str, int, bool, tuple[int, ...]]
# The kinds whose hint is the same on every call (a window's 0, a slot's retry).
_FIXED_HINT_KINDS = frozenset({*WINDOW_KINDS, "concurrent"})
_SHAPED_KINDS = frozenset({"rpm", "tpm", "concurrent"})  # the kinds a shape's entry encodes


class AcquireCalls:
    """Encodes the `lua/acquire.lua` calls of one backend (its key names), from RESP pieces
    cached here."""

    def __init__(self, names: KeyNames) -> None:
        self.names = names
        self._marks = names.reservation_key("")  # + a token: the reservation's mark
        # (the checks' (kind, scope, subject, limit), the UTC day) -> `_Encoding`
        self._encodings: dict[tuple[tuple[_Shape, ...], str], _Encoding] = {}
        # id(shape) -> (the shape, the encoding): the shape is kept with its entry, so its id
        # is not reused while the entry lives (`call`'s `shape`).
        self._shaped: dict[int, _ShapedEncoding] = {}

    def call(self, reservation: Reservation, shape: object = None) -> ScriptCall:
        """`lua/acquire.lua`'s call: KEYS (the checks' and the mark), the 8 common ARGV, then
        4 ARGV per check. `shape`: see `StateBackend.acquire`. (The UTC day and month, which
        a budget's key and hint read, are worked out only off a shape's entry, which has none.)"""
        checks, now, token = reservation.checks, reservation.at, reservation.token
        hold_s = reservation.hold_s
        known = self._shaped.get(id(shape)) if shape is not None else None
        if known is not None:
            # Checks of a shape met before (a plan's, on every request), none a budget (so no
            # key names the day): its template holds every piece but the tpm amounts (an rpm's
            # or a slot's is 1: `LimitCheck.amount`), encoded here into their "$<length>" slots,
            # without naming the tuple to look its encoding up, nor a piece per check.
            _, template, nargs, marked, tpm_at = known
            if len(tpm_at) == 1:  # the usual plan
                amount = repr(float(checks[tpm_at[0]].amount))
                changing: Sequence[object] = (len(amount), amount)
            else:
                changing = _amount_slots(checks, tpm_at)
        else:
            period = periods(now)
            encoding, changing, budgeted = self._looked_up(checks, period, now)
            template, nargs, marked = encoding
            if shape is not None and not budgeted:  # (a budget's hint changes with `now`)
                self._keep_shape(shape, checks, period)
        hold_ms = max(1, math.ceil(hold_s * 1000))
        # The mark's key and the common ARGV that change with every call, into the template's
        # slots in one % (not an f-string of its own joined to the rest: ~70 opcodes less).
        mark_key, now_text, second = self._marks + token, repr(now), str(math.floor(now))
        expiry, hold = repr(now + hold_s), str(hold_ms)
        mark = hold if marked else str(mark_ms(False, hold_ms))  # (a marked one's is its hold)
        text = template % (
            len(mark_key), mark_key, len(now_text), now_text, len(second), second,
            len(token), token, len(expiry), expiry, len(hold), hold, len(mark), mark,
            *changing,
        )  # fmt: skip
        return ScriptCall(ACQUIRE, text.encode(), nargs)

    def _keep_shape(self, shape: object, checks: Sequence[LimitCheck], period: Periods) -> None:
        """Keep the shape's entry (`_ShapedEncoding`), when its checks are windows and slots
        whose rpm and slot amounts are 1."""
        tpm_at = tuple(at for at, check in enumerate(checks) if check.kind == "tpm")
        if any(check.kind not in _SHAPED_KINDS for check in checks) or any(
            check.amount != 1 for at, check in enumerate(checks) if at not in tpm_at
        ):
            return
        template, nargs, marked = self._encode(checks, period, None)
        if len(self._shaped) >= PIECES_MAX:
            self._shaped.clear()
        self._shaped[id(shape)] = (shape, template, nargs, marked, tpm_at)

    def _looked_up(
        self, checks: Sequence[LimitCheck], period: Periods, now: float
    ) -> tuple[_Encoding, list[str], bool]:
        """The checks' encoding, looked up by what names it (made and kept on a miss), the
        pieces of this call that change (amounts; a budget's hint, its seconds to its period's
        end), and whether a budget is among them."""
        # One pass over the checks: what names their cached encoding (a plan's checks repeat on
        # every request), and the pieces that change. One lookup for the whole tuple instead of
        # one per check: about 150 interpreter opcodes a request less for three checks.
        shapes: list[_Shape] = []
        changing: list[str] = []
        budgeted = False
        for check in checks:
            kind, amount = check.kind, check.amount
            shapes.append((kind, check.scope, check.subject, check.limit))
            changing.append(_ONE if amount == 1 else bulk(repr(float(amount))))
            if kind not in _FIXED_HINT_KINDS:  # a budget
                end = period.day_end if kind == "budget_day" else period.month_end
                changing.append(bulk(repr(end - now)))
                budgeted = True
        # The day names a budget's day and month keys: a new day misses.
        cache_key = (tuple(shapes), period.day)
        encoding = self._encodings.get(cache_key)
        if encoding is None:
            encoding = self._encode(checks, period, cache_key)
        return encoding, changing, budgeted

    def _encode(
        self,
        checks: Sequence[LimitCheck],
        period: Periods,
        cache_key: tuple[tuple[_Shape, ...], str] | None,
    ) -> _Encoding:
        """The cached encoding of these checks (`_Encoding`), made and kept under `cache_key`;
        None: a shape's template (`_ShapedEncoding`), not kept here."""
        keys = [number_piece(len(checks) + 1)]
        per_check: list[str] = []
        for check in checks:
            code, key, hint = _counter(self.names, check, period, 0.0)
            keys.append(bulk(key))
            # "code limit", then the amount's slot and the hint (a budget's: a slot too).
            amount = "%s"
            if cache_key is None:  # a shape's: only the tpm amounts change
                amount = _SLOT if check.kind == "tpm" else _ONE
            per_check += (bulk(code), bulk(repr(float(check.limit))), amount)
            per_check.append("%s" if code == "b" else bulk(repr(hint)))
        # The keys name subjects, which may hold a "%": escaped; no other piece holds one.
        template = (
            "".join(keys).replace("%", "%%") + _SLOT * 6 + _WINDOW_ARGS + _SLOT + "".join(per_check)
        )
        nargs = 1 + len(checks) + 1 + 8 + 4 * len(checks)
        encoding = (template, nargs, is_marked(checks))
        if cache_key is None:
            return encoding
        if len(self._encodings) >= PIECES_MAX:
            self._encodings.clear()
        self._encodings[cache_key] = encoding
        return encoding


def _amount_slots(checks: Sequence[LimitCheck], tpm_at: tuple[int, ...]) -> list[object]:
    """The tpm amounts of a shape's checks, for its template's slots: length, text, ..."""
    slots: list[object] = []
    for at in tpm_at:
        amount = repr(float(checks[at].amount))
        slots += (len(amount), amount)
    return slots


class UnparsedResults(UnreadResults):
    """An allowed acquire's per-check results, as the reply's fields ("1 allowed remaining
    reset ..."): parsed all at once when `AcquireResult.results` is read, or one check's
    figures alone (`figures`): the rate headers read two windows' figures only, without
    making every `CheckResult` (about 120 interpreter opcodes a request less)."""

    __slots__ = ("checks", "fields")

    def __init__(self, checks: Sequence[LimitCheck], fields: list[bytes]) -> None:
        self.checks = checks
        self.fields = fields

    def __call__(self) -> tuple[CheckResult, ...]:
        return check_results(self.checks, self.fields)

    def figures(self, at: int) -> WindowFigures:
        fields = self.fields
        return self.checks[at].limit, float(fields[2 + 3 * at]), float(fields[3 + 3 * at])


def check_results(checks: Sequence[LimitCheck], fields: list[bytes]) -> tuple[CheckResult, ...]:
    """Per check: "allowed remaining reset" (fields[0] is the overall verdict)."""
    return tuple(
        CheckResult(
            check, fields[1 + 3 * i] == b"1", float(fields[2 + 3 * i]), float(fields[3 + 3 * i])
        )
        for i, check in enumerate(checks)
    )
