"""The audit trail: one JSON line per admin API call, config reload and prompt promotion.

`logs/audit.jsonl` by default (`[logging] audit_path`). Each line says when (`ts`), who (the
admin key's id `admin:<first 8 hex of its sha256>`, `signal`, `file-watch`, or `cli:<user>`),
what (`action`, with its `target`, `result` and details) and, for changes, `before` / `after`
hashes (config versions, prompt file hashes). Lines are appended with one `write` on an
`O_APPEND` descriptor, so several workers and the CLI may share the file. Writing never fails
the action it records: a failed write is logged.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import orjson

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


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, who: str, action: str, **details: Any) -> None:
        entry = {"ts": round(time.time(), 3), "pid": os.getpid(), "who": who, "action": action}
        entry.update(details)
        line = orjson.dumps(entry, default=str) + b"\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError as exc:
            log.error("cannot write the audit trail %s: %s (%s)", self.path, exc.strerror, action)

    def read(self, since: float = 0.0) -> Iterator[dict[str, Any]]:
        """The entries at or after `since` (epoch seconds), oldest first; torn lines, and lines
        without a numeric `ts` (not the gateway's: a hand edit), skipped."""
        try:
            handle = self.path.open("rb")
        except FileNotFoundError:
            return
        with handle:
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
