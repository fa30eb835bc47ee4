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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("gateway.audit")


def admin_id(secret: str) -> str:
    """How the trail names an admin key: never the key, a short hash of it."""
    return "admin:" + hashlib.sha256(secret.encode()).hexdigest()[:8]


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
                try:
                    entry = orjson.loads(line)
                except orjson.JSONDecodeError:
                    continue
                if not isinstance(entry, dict):
                    continue
                ts = entry.get("ts")
                if isinstance(ts, int | float) and not isinstance(ts, bool) and ts >= since:
                    yield entry
