"""The audit trail: one JSON line per admin API call, config reload and prompt promotion.

`logs/audit.jsonl` by default (`[logging] audit_path`). Each line says when (`ts`), who (the
admin key's id `admin:<first 8 hex of its sha256>`, `signal`, `file-watch`, or `cli:<user>`),
what (`action`, with its `target`, `result` and details) and, for changes, `before` / `after`
hashes (config versions, prompt file hashes). Lines are appended with one `write` on an
`O_APPEND` descriptor, so several workers and the CLI may share the file; past `max_bytes`
(`[logging] audit_max_bytes`) it rotates like the request log, keeping `backups`
(`audit_backups`) old files, and `read` reads those too (gateway/rotating_files.py: no
line lost or read twice across a rotation). Writing never fails the action it records: a
failed write is logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from gateway.rotating_files import MTIME_SLACK_S, RotatingFile, read_all

log = logging.getLogger("gateway.audit")


def admin_id(secret: str) -> str:
    """How the trail names an admin key: never the key, a short hash of it."""
    return "admin:" + hashlib.sha256(secret.encode()).hexdigest()[:8]


def latest(entries: Iterable[dict[str, Any]], limit: int) -> tuple[list[dict[str, Any]], bool]:
    """The last `limit` of `entries`, oldest first, and whether earlier ones were left out;
    only `limit` are held at a time, whatever the trail's length."""
    kept: deque[dict[str, Any]] = deque(maxlen=limit)
    seen = 0
    for entry in entries:
        kept.append(entry)
        seen += 1
    return list(kept), seen > limit


def _written_ts(line: bytes) -> float | None:
    """The `ts` of a line as `AuditLog.write` wrote it (`{"ts":<number>,...`), read without
    parsing the line; None for any other line."""
    if not line.startswith(_TS_PREFIX):
        return None
    number = line[len(_TS_PREFIX) : line.find(b",", len(_TS_PREFIX))]
    try:
        return float(number)
    except ValueError:
        return None


_TS_PREFIX = b'{"ts":'


def file_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()[:16]


@dataclass(frozen=True)
class AuditLog:
    """`max_bytes` 0: never rotated by this process (the CLI without a config: the gateway
    rotates at its next line)."""

    path: Path
    max_bytes: int = 0
    backups: int = 0

    def write(self, who: str, action: str, **details: Any) -> None:
        entry = {"ts": round(time.time(), 3), "pid": os.getpid(), "who": who, "action": action}
        entry.update(details)
        line = orjson.dumps(entry, default=str) + b"\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            trail = RotatingFile(self.path, self.max_bytes, self.backups)
            try:
                trail.append(line)
            finally:
                trail.close()
        except OSError as exc:
            log.error("cannot write the audit trail %s: %s (%s)", self.path, exc.strerror, action)

    def read(self, since: float = 0.0) -> Iterator[dict[str, Any]]:
        """The entries at or after `since` (epoch seconds), oldest first, from the kept rotated
        files (those modified before `since` left unread) and the trail; torn lines, and lines
        without a numeric `ts` (not the gateway's: a hand edit), skipped."""
        handles = read_all(self.path, self.backups, since - MTIME_SLACK_S)
        try:
            for handle in handles:
                yield from _entries(handle, since)
        finally:
            for handle in handles:
                handle.close()


def _entries(handle: BinaryIO, since: float) -> Iterator[dict[str, Any]]:
    for line in handle:
        # Older lines are skipped unparsed: a trail of months is read in a fraction of
        # the time (the read holds the GIL, in a thread of a serving worker).
        written = _written_ts(line)
        if written is not None and written < since:
            continue
        try:
            entry = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(entry, dict):
            continue
        ts = entry.get("ts")
        if isinstance(ts, int | float) and not isinstance(ts, bool) and ts >= since:
            yield entry
