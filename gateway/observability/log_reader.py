"""Reading the request log: records, time bounds and the filters `replay` and `stats` share.

The log is the one the gateway writes (docs/request-log.md), one JSON object per line. Lines
that do not parse (a torn last line after a crash, a stray edit), and records whose fields are
not of the types the gateway writes (`well_typed`), are counted and skipped, never fatal: the
tools read what is there.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from gateway.rotating_files import MTIME_SLACK_S, kept_backups, read_all

Record = dict[str, Any]

_BOM = b"\xef\xbb\xbf"
_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$", re.IGNORECASE)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_STATUS = re.compile(r"^[1-5](?:\d\d|xx)$", re.IGNORECASE)
_LONGEST_S = 36_500 * 86_400  # an age or a span: a hundred years at most


# The fields the tools read, and the types the gateway writes in each (docs/request-log.md),
# null aside: a record with one of them of another type is not the gateway's (a stray edit,
# another program's line) and is skipped and counted like a line that does not parse. Exact
# types, as a JSON parser makes them (so a bool is not a number here, though Python counts it
# as one): one set lookup per field, ~2 us a record where `isinstance` took ~5.5.
_NUMBER = frozenset((int, float))
_FIELD_TYPES: tuple[tuple[str, frozenset[type]], ...] = (
    # Token counts are numbers too: the gateway writes integers, but a float (a log a script
    # made) is still a number the tools can add.
    *(
        (name, _NUMBER)
        for name in ("ts", "latency_ms", "ttft_ms", "overhead_ms", "cost_usd", "prompt_tokens")
        + ("completion_tokens",)
    ),
    *((name, frozenset((int,))) for name in ("status", "prompt_version")),
    *(
        (name, frozenset((str,)))
        for name in (
            "id",
            "model",
            "key_id",
            "team",
            "deployment",
            "provider",
            "endpoint",
            "error_type",
            "finish_reason",
            "cache",
            "session_id",
            "prompt_id",
            "key_secret",
        )
    ),
    *((name, frozenset((bool,))) for name in ("stream", "fallback_used")),
    *((name, frozenset((list,))) for name in ("attempts", "guardrails")),
    *((name, frozenset((dict,))) for name in ("tags", "request", "response", "prompt_variables")),
)


# `ts` is a Unix time the tools print as a date: from 1970 up to the last second of year 9999.
_LAST_TS = 253_402_300_799
# An ISO time in a flag may be older, but its UTC instant must still be a date: year 1 on.
EARLIEST_TS = -62_135_596_800
# Token counts are bounded as the gateway bounds an upstream's usage (0 <= n < 2**53,
# `gateway.providers.base.MAX_TOKEN_COUNT`), and any other integer to the same magnitude: a
# larger one is no count the gateway wrote, and its sums would pass the 64 bits JSON writers
# (orjson) take.
_MAX_INT = 2**53
_COUNTS = ("prompt_tokens", "completion_tokens")


def well_typed(record: Record) -> bool:
    """Every field the tools read is null or of the type the gateway writes, token counts are
    whole-number-sized (0 <= n < 2**53), other integers below 2**53 in size, and `ts` a time a
    date can show."""
    get = record.get
    for name, types in _FIELD_TYPES:
        value = get(name)
        if value is None:
            continue
        kind = type(value)
        if kind not in types or (kind is int and not -_MAX_INT < value < _MAX_INT):
            return False
    for name in _COUNTS:
        count = get(name)
        if count is not None and not 0 <= count < _MAX_INT:
            return False
    ts = get("ts")
    return ts is None or 0 <= ts <= _LAST_TS


class UsageError(ValueError):
    """A flag value the user must fix; the commands print it and exit 2."""


def parse_time(text: str, now: float | None = None) -> float:
    """Unix time from ISO-8601 (`2024-05-01`, `2024-05-01T12:00:00Z`), a Unix timestamp, or an
    age relative to now (`30s`, `30m`, `1h`, `7d`, `2w` mean that long ago).

    Naive ISO times are UTC.
    """
    now = time.time() if now is None else now
    value = text.strip()
    match = _RELATIVE.match(value)
    if match:
        return now - _seconds(match, text)
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not 0 <= number <= _LAST_TS:
            raise UsageError(f"cannot read time {text!r}: a Unix timestamp from 0 to {_LAST_TS}")
        return number
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"cannot read time {text!r}: use ISO-8601 (2024-05-01T12:00:00Z), a Unix timestamp, "
            "or an age like 30m, 1h, 7d"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    stamp = parsed.timestamp()
    if not EARLIEST_TS <= stamp <= _LAST_TS:  # `0001-01-01T00:00+14:00` is in year 0 in UTC
        raise UsageError(
            f"cannot read time {text!r}: in UTC it must fall from 0001-01-01T00:00:00Z "
            "to 9999-12-31T23:59:59Z"
        )
    return stamp


def parse_span(text: str) -> float:
    """A length of time in seconds: `30s`, `30m`, `1h`, `7d`, `2w`."""
    match = _RELATIVE.match(text.strip())
    if not match:
        raise UsageError(f"cannot read the span {text!r}: use 30m, 1h, 7d, 2w")
    return _seconds(match, text)


def _seconds(match: re.Match[str], text: str) -> float:
    """The length of a matched age or span, up to `_LONGEST_S` (the dates around it must still
    print)."""
    seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()]
    if seconds > _LONGEST_S:
        raise UsageError(f"cannot read {text!r}: at most {_LONGEST_S // 86400}d")
    return seconds


def parse_statuses(text: str) -> tuple[str, ...]:
    """`200`, `5xx`, `200,429` -> patterns for `status_matches`."""
    parts = tuple(p.strip().lower() for p in text.split(",") if p.strip())
    if not parts or not all(_STATUS.match(p) for p in parts):
        raise UsageError(f"cannot read status {text!r}: use codes or classes like 200,429 or 5xx")
    return parts


def status_matches(status: Any, patterns: tuple[str, ...]) -> bool:
    code = str(status)
    return any(
        code == p or (p.endswith("xx") and code[:1] == p[0] and len(code) == 3) for p in patterns
    )


@dataclass(frozen=True)
class RecordFilter:
    """Which records to use. Empty tuples and None bounds match everything."""

    since: float | None = None
    until: float | None = None
    models: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()

    def matches(self, record: Record) -> bool:
        ts = record.get("ts")
        if self.since is not None and (not isinstance(ts, (int, float)) or ts < self.since):
            return False
        if self.until is not None and (not isinstance(ts, (int, float)) or ts >= self.until):
            return False
        if self.models and record.get("model") not in self.models:
            return False
        if self.keys and record.get("key_id") not in self.keys:
            return False
        return not self.statuses or status_matches(record.get("status"), self.statuses)


@dataclass
class LogReader:
    """Iterates the records of a log file, after those of its `backups` kept rotated files
    (oldest first; those last modified before `newer_than`, epoch seconds, left unread); counts
    what it had to skip. No file at all is a usage error, unless `missing_ok` (then no record).
    The files are opened under the rotation lock (gateway/rotating_files.py
    `read_all`): a rotation meanwhile neither hides a file nor shows one twice, nor takes the
    log away between its check and its open."""

    path: Path
    backups: int = 0
    newer_than: float = 0.0
    missing_ok: bool = False
    bad_lines: int = 0
    seen: int = 0

    def __iter__(self) -> Iterator[Record]:
        handles = self._open_all(self.backups)
        try:
            for handle in handles:
                for _, record in self.read(handle):
                    yield record
        finally:
            for handle in handles:
                handle.close()

    def open(self) -> BinaryIO:
        """The log file itself (not its rotated files), open for `read` and `record_at`."""
        handles = self._open_all(0)
        if not handles:
            raise UsageError(f"log file {self.path} not found")
        return handles[0]

    def open_kept(self) -> list[BinaryIO]:
        """Its `backups` rotated files and the log itself, oldest first, open for `read` and
        `record_at` (the caller closes them)."""
        return self._open_all(self.backups)

    def _open_all(self, backups: int) -> list[BinaryIO]:
        try:
            handles = read_all(self.path, backups, self.newer_than)
        except OSError as exc:
            raise UsageError(f"cannot read log file {exc.filename}: {exc.strerror}") from None
        if not handles and not self.missing_ok and not self.newer_than:
            raise UsageError(f"log file {self.path} not found")
        return handles

    def read(self, handle: BinaryIO) -> Iterator[tuple[int, Record]]:
        """Each readable record of the open log, with the offset of its line (`record_at`)."""
        offset = 0
        for number, line in enumerate(handle):
            start, offset = offset, offset + len(line)
            if number == 0:  # an editor's byte-order mark is no part of the first record
                line = line.removeprefix(_BOM)
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                self.bad_lines += 1
                continue
            if not isinstance(record, dict) or not well_typed(record):
                self.bad_lines += 1
                continue
            self.seen += 1
            yield start, record


def record_at(handle: BinaryIO, offset: int) -> Record:
    """The record on the line at `offset` of a log `LogReader.read` has read whole: a reader
    keeps offsets, not records, to stay small on a log of gigabytes."""
    handle.seek(offset)
    record: Record = orjson.loads(handle.readline().removeprefix(_BOM))
    return record


def kept_log(path: Path, since: float | None = None) -> LogReader:
    """A reader of `path` after every rotated file on disk beside it, oldest first (`path.<n>`
    .. `path.1`: a tool without the config cannot know `backups`), those last modified before
    `since` (epoch seconds) left unread. Neither `path` nor a rotated file: a usage error."""
    backups = kept_backups(path)
    if not backups and not path.is_file():
        raise UsageError(f"log file {path} not found")
    newer_than = 0.0 if since is None else since - MTIME_SLACK_S
    return LogReader(path, backups, newer_than, missing_ok=True)


def latest_ts(records: Iterable[Record]) -> float:
    """The latest numeric `ts` among `records` (0.0: none), read as they stream."""
    stamps = (r["ts"] for r in records if isinstance(r.get("ts"), int | float))
    return float(max(stamps, default=0.0))


def read_records(
    path: Path, record_filter: RecordFilter = RecordFilter()
) -> tuple[list[Record], LogReader]:
    """Every record of `path` that passes the filter, in file order, and the reader's counts."""
    reader = LogReader(path)
    return [r for r in reader if record_filter.matches(r)], reader
