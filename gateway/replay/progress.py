"""A dependency-free progress bar on stderr.

On a terminal it redraws one line in place; in a pipe or CI log it prints a line at every
10 % instead, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class Progress:
    def __init__(self, total: int, label: str = "replay", stream: TextIO | None = None) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.errors = 0
        self.started = time.monotonic()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_decile = -1

    def line(self) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(fraction * WIDTH)
        bar = "#" * filled + "-" * (WIDTH - filled)
        elapsed = max(time.monotonic() - self.started, 1e-9)
        errors = f", {self.errors} error{'s' if self.errors != 1 else ''}" if self.errors else ""
        return (
            f"{self.label} [{bar}] {self.done}/{self.total} {fraction:4.0%}"
            f" {self.done / elapsed:.1f} req/s{errors}"
        )

    def advance(self, ok: bool = True) -> None:
        self.done += 1
        self.errors += 0 if ok else 1
        if self.tty:
            self.stream.write("\r" + self.line())
            self.stream.flush()
            return
        decile = self.done * 10 // self.total if self.total else 10
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(self.line() + "\n")
            self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
