"""Whether each worker's event loop still turns (`gateway serve --workers N`).

uvicorn's supervisor pings each worker on a pipe, and a thread of the worker answers: a worker
whose event loop is blocked (a call that never returns, a loop that never awaits) still
answered, served nothing, and held the connections it had accepted until their clients gave
up, for as long as the server ran. Now each worker's event loop touches its file in the run
directory (`worker-<pid>.json`, where it publishes the config version it serves) every
`BEAT_S`, and the supervisor kills a worker whose file it has not touched for `STALL_S`:
uvicorn starts another in its place, as for any worker that dies.

The time written is the monotonic clock's (as the file's mtime; nothing else reads it), which
all processes of one boot share and which does not jump with the wall clock: a wall clock set
forward by a minute would otherwise look like every worker stalled at once.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from pathlib import Path

BEAT_S = 1.0
STALL_S = 30.0


def worker_file(run_dir: Path, pid: int) -> Path:
    return run_dir / f"worker-{pid}.json"


def touch(path: Path) -> None:
    """Mark `path` as touched now (monotonic time)."""
    now = time.monotonic()
    try:
        os.utime(path, (now, now))
    except OSError:
        pass  # not published (yet), or the run directory went with the server


async def beat(path: Path) -> None:
    """Touch `path` every `BEAT_S` while the event loop turns; until cancelled."""
    while True:
        touch(path)
        await asyncio.sleep(BEAT_S)


def stalled(run_dir: Path, pids: Iterable[int]) -> list[int]:
    """The workers among `pids` that published a file in `run_dir` and have not touched it
    for `STALL_S` (a worker that has not published yet is starting, not stalled)."""
    now = time.monotonic()
    found = []
    for pid in pids:
        try:
            touched = worker_file(run_dir, pid).stat().st_mtime
        except OSError:
            continue
        if now - touched > STALL_S:
            found.append(pid)
    return found
