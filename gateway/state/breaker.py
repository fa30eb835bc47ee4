"""The circuit-breaker model as pure functions over a small record.

`MemoryState` applies these directly; `lua/breaker_record.lua` and `lua/breaker_probe.lua` are the
same rules for Redis, and `from_fields` reads what they store. The contract suite holds both to
the same behaviour.

closed --(threshold failures within window_s)--> open --(cooldown_s)--> half_open
half_open --(one probe, success)--> closed;  half_open --(failure)--> open for another cooldown
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from gateway.state.breaker_state import BreakerState

Phase = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class BreakerRecord:
    failures: tuple[float, ...] = ()  # the latest failure times, at most `failure_threshold`
    window_s: float = 0.0  # the window the failures were counted in
    open_until: float | None = None  # set while open or half-open
    probe_until: float | None = None  # a half-open probe is out until then


CLOSED = BreakerRecord()


def phase(record: BreakerRecord, now: float) -> Phase:
    if record.open_until is None:
        return "closed"
    return "open" if now < record.open_until else "half_open"


_CLOSED_VIEW = BreakerState("closed", 0, 0.0)


def view(record: BreakerRecord, now: float) -> BreakerState:
    if record is CLOSED:
        return _CLOSED_VIEW  # nearly every breaker, nearly always
    recent = sum(1 for at in record.failures if at > now - record.window_s)
    cooldown = 0.0 if record.open_until is None else max(0.0, record.open_until - now)
    return BreakerState(phase(record, now), recent, cooldown)


def record_outcome(
    record: BreakerRecord,
    ok: bool,
    now: float,
    failure_threshold: int,
    window_s: float,
    cooldown_s: float,
) -> BreakerRecord:
    current = phase(record, now)
    if ok:
        # A late success from a request sent before the breaker opened proves nothing.
        return record if current == "open" else CLOSED
    recent = tuple(at for at in record.failures if at > now - window_s) + (now,)
    recent = recent[-max(failure_threshold, 1) :]
    open_until, probe_until = record.open_until, record.probe_until
    if current == "half_open" or (current == "closed" and len(recent) >= failure_threshold):
        open_until, probe_until = now + cooldown_s, None
    return BreakerRecord(recent, window_s, open_until, probe_until)


def try_probe(
    record: BreakerRecord, now: float, probe_timeout_s: float
) -> tuple[bool, BreakerRecord]:
    """Whether this caller may send, and the record after it took the probe."""
    current = phase(record, now)
    if current == "closed":
        return True, record
    if current == "open" or (record.probe_until is not None and now < record.probe_until):
        return False, record
    return True, BreakerRecord(
        record.failures, record.window_s, record.open_until, now + probe_timeout_s
    )


def from_fields(fields: Sequence[bytes | str | None]) -> BreakerRecord:
    """Read the Redis hash fields (f, w, ou, pu) written by the breaker Lua scripts."""
    if not any(fields):
        return CLOSED  # no failure recorded: nearly every breaker, nearly always
    failures, window, open_until, probe_until = (_text(field) for field in fields)
    return BreakerRecord(
        tuple(float(at) for at in failures.split()),
        float(window or 0.0),
        float(open_until) if open_until else None,
        float(probe_until) if probe_until else None,
    )


def _text(field: bytes | str | None) -> str:
    if field is None:
        return ""
    return field.decode() if isinstance(field, bytes) else field
