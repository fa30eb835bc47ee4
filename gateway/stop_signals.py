"""`gateway serve` exits 0 when SIGTERM or SIGINT stopped it and it drained.

uvicorn stops gracefully on SIGTERM or SIGINT, then restores the handlers it found and raises
the signal again, so that the process ends as the signal would have ended it. With the default
SIGTERM handler that is death by the signal: exit status 143 (-15 to a parent process) after a
clean drain, which Docker, systemd and Kubernetes report as a failure on every stop. The
handler installed here (the one uvicorn finds and restores) turns a stop signal into
`SystemExit(0)`: raised again after the drain, the command ends with status 0 and runs its own
clean-up; received before uvicorn took the signals over (while it starts), the command stops at
once, also with 0. A failure to start still exits non-zero (uvicorn's status 3), and a process
killed by any other signal dies by it.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def _stop(sig: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


@contextmanager
def stopped_by_signals_exit_zero() -> Iterator[None]:
    """Within the block, SIGTERM and SIGINT end the process with status 0 (raise
    `SystemExit(0)`); the previous handlers come back after it."""
    previous = {sig: signal.signal(sig, _stop) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
