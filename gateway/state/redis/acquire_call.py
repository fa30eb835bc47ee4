"""The `lua/acquire.lua` call, encoded from cached pieces, and the parsing of its reply.

A plan's checks repeat on every request: their keys and their "kind limit hint" arguments are
cached as RESP, one entry per tuple of checks (and UTC day: a budget's key names its day or
month), and an acquire encodes only what changes (times, token, amounts, a budget's hint).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

from gateway.state.base import (
    CONCURRENT_RETRY_S,
    WINDOW_KINDS,
    WINDOW_S,
    CheckResult,
    LimitCheck,
    UnreadResults,
    is_marked,
)
from gateway.state.periods import Periods, periods
from gateway.state.prepared import WindowFigures
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


def mark_ms(marked: bool, hold_ms: int) -> int:
    """How long an allowed acquire's mark lives (`lua/acquire.lua`): its hold when it will be
    settled; else (rpm only: nothing to settle) at most a window, after which its count is gone
    anyway. Either way an abandon that comes after the acquire ran finds the mark and undoes it.
    `marked`: `is_marked` of the acquire's checks.
    """
    return hold_ms if marked else min(hold_ms, _WINDOW_MS)


# What names a check's cached pieces: (kind, scope, subject, limit).
_Shape = tuple[str, str, str, float]
# The cached encoding of a tuple of checks: the whole EVALSHA command as one %-template (its
# head, the numkeys piece and the checks' keys; slots for the mark's key and the 8 common ARGV,
# but the window's two, as "$<length>" and text; the checks' ARGV with slots for the amounts and
# the budgets' hints, in order), and `is_marked` of the checks.
_Encoding = tuple[str, bool]
_SLOT = "$%d\r\n%s\r\n"  # a bulk string's slot: its length, its text
# A shape's entry: the shape (kept, so its id is not reused while the entry lives), a template
# as `_Encoding`'s but with each rpm's and slot's amount written in and a `_SLOT` for each tpm
# amount, `is_marked` of the checks, where the tpm checks are, and where the one is when there
# is one (else None).
_ShapedEncoding = tuple[object, str, bool, tuple[int, ...], int | None]
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

    def call(
        self,
        token: str,
        checks: tuple[LimitCheck, ...],
        now: float,
        hold_s: float,
        shape: object = None,
    ) -> bytes:
        """`lua/acquire.lua`'s call, as its EVALSHA command (`script_call` gives it back as a
        `ScriptCall`, for an EVAL on NOSCRIPT), for the reservation whose fields are `token`,
        `checks`, `now` and `hold_s` (passed as they are, not read back off a `Reservation`):
        KEYS (the checks' and the mark), the 8 common ARGV, then 4 ARGV per check. `shape`: see
        `StateBackend.acquire`. (The UTC day and month, which a budget's key and hint read, are
        worked out only off a shape's entry, which has none.)"""
        # (None is never kept: `_keep_shape` is for a shape; id(None) names no other object.)
        known = self._shaped.get(id(shape))
        if known is not None:
            # Checks of a shape met before (a plan's, on every request), none a budget (so no
            # key names the day): its template holds every piece but the tpm amounts (an rpm's
            # or a slot's is 1: `LimitCheck.amount`), encoded here into their "$<length>" slots,
            # without naming the tuple to look its encoding up, nor a piece per check.
            _, template, marked, tpm_at, single = known
            if single is not None:  # the usual plan: one tpm check, there
                amount = repr(float(checks[single].amount))
                changing: Sequence[object] = (len(amount), amount)
            else:
                changing = _amount_slots(checks, tpm_at)
        else:
            period = periods(now)
            encoding, changing, budgeted = self._looked_up(checks, period, now)
            template, marked = encoding
            if shape is not None and not budgeted:  # (a budget's hint changes with `now`)
                self._keep_shape(shape, checks, period)
        hold_ms = max(1, math.ceil(hold_s * 1000))
        # The mark's key and the common ARGV that change with every call, into the template's
        # slots in one % (not an f-string of its own joined to the rest: ~70 opcodes less).
        # The template starts with the EVALSHA's head: no `ScriptCall` to make, nor a second
        # % to join its head to the arguments (~35 opcodes a request less).
        mark_key, now_text, second = self._marks + token, repr(now), str(math.floor(now))
        expiry, hold = repr(now + hold_s), str(hold_ms)
        mark = hold if marked else str(mark_ms(False, hold_ms))  # (a marked one's is its hold)
        text = template % (
            len(mark_key), mark_key, len(now_text), now_text, len(second), second,
            len(token), token, len(expiry), expiry, len(hold), hold, len(mark), mark,
            *changing,
        )  # fmt: skip
        return text.encode()

    def _keep_shape(self, shape: object, checks: Sequence[LimitCheck], period: Periods) -> None:
        """Keep the shape's entry (`_ShapedEncoding`), when its checks are windows and slots
        whose rpm and slot amounts are 1."""
        tpm_at = tuple(at for at, check in enumerate(checks) if check.kind == "tpm")
        if any(check.kind not in _SHAPED_KINDS for check in checks) or any(
            check.amount != 1 for at, check in enumerate(checks) if at not in tpm_at
        ):
            return
        template, marked = self._encode(checks, period, None)
        if len(self._shaped) >= PIECES_MAX:
            self._shaped.clear()
        single = tpm_at[0] if len(tpm_at) == 1 else None
        self._shaped[id(shape)] = (shape, template, marked, tpm_at, single)

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
        nargs = 1 + len(checks) + 1 + 8 + 4 * len(checks)
        head = f"*{nargs + 2}\r\n" + ACQUIRE.evalsha_head.decode()  # the EVALSHA's
        template = (
            head
            + "".join(keys).replace("%", "%%")
            + _SLOT * 6
            + _WINDOW_ARGS
            + _SLOT
            + "".join(per_check)
        )
        encoding = (template, is_marked(checks))
        if cache_key is None:
            return encoding
        if len(self._encodings) >= PIECES_MAX:
            self._encodings.clear()
        self._encodings[cache_key] = encoding
        return encoding


def script_call(command: bytes) -> ScriptCall:
    """An acquire's EVALSHA command (`AcquireCalls.call`) as the `ScriptCall` it is."""
    end = command.index(b"\r\n")
    head = command[: end + 2] + ACQUIRE.evalsha_head
    return ScriptCall(ACQUIRE, command[len(head) :], int(command[1:end]) - 2)


def _amount_slots(checks: Sequence[LimitCheck], tpm_at: tuple[int, ...]) -> list[object]:
    """The tpm amounts of a shape's checks, for its template's slots: length, text, ..."""
    slots: list[object] = []
    for at in tpm_at:
        amount = repr(float(checks[at].amount))
        slots += (len(amount), amount)
    return slots


class UnparsedResults(tuple[Sequence[LimitCheck], list[bytes]], UnreadResults):
    """An allowed acquire's per-check results, as the reply's fields ("1 allowed remaining
    reset ..."): `(checks, fields)`, parsed all at once when `AcquireResult.results` is read, or
    two checks' figures alone (`figures`): the rate headers read two windows' figures only,
    without making every `CheckResult` (about 120 interpreter opcodes a request less). A tuple,
    made in C (no `__init__` to run), whose two windows are read in one call (~15 opcodes a
    request less than a slotted object read by one call per window)."""

    __slots__ = ()

    def __call__(self) -> tuple[CheckResult, ...]:
        return check_results(*self)

    def figures(self, pair: tuple[int, int]) -> tuple[WindowFigures, WindowFigures]:
        checks, fields = self
        # The four numbers picked out and parsed in C (`_PairFields`), not one by one.
        remaining, reset_s, second_remaining, second_reset_s = map(
            float, _PAIR_FIELDS[pair](fields)
        )
        first, second = pair
        return (
            (checks[first].limit, remaining, reset_s),
            (checks[second].limit, second_remaining, second_reset_s),
        )


class _PairFields(dict[tuple[int, int], Callable[[list[bytes]], tuple[bytes, ...]]]):
    """By pair of checks, what picks their "remaining reset" fields out of an acquire's reply
    (an `operator.itemgetter`: C), made on the pair's first read: a plan's pair is the same on
    every request (~20 opcodes a request less than indexing the fields one by one)."""

    def __missing__(self, pair: tuple[int, int]) -> Callable[[list[bytes]], tuple[bytes, ...]]:
        if len(self) >= PIECES_MAX:
            self.clear()
        first, second = pair
        pick = self[pair] = operator.itemgetter(
            2 + 3 * first, 3 + 3 * first, 2 + 3 * second, 3 + 3 * second
        )
        return pick


_PAIR_FIELDS = _PairFields()


def check_results(checks: Sequence[LimitCheck], fields: list[bytes]) -> tuple[CheckResult, ...]:
    """Per check: "allowed remaining reset" (fields[0] is the overall verdict)."""
    return tuple(
        CheckResult(
            check, fields[1 + 3 * i] == b"1", float(fields[2 + 3 * i]), float(fields[3 + 3 * i])
        )
        for i, check in enumerate(checks)
    )
