"""gateway.worker_heartbeat and the supervisor's use of it: a worker whose event loop stopped
turning is killed, one that beats or has not published yet is left alone."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest

from gateway.reload import RUN_DIR_ENV
from gateway.supervisor import ReloadingSupervisor
from gateway.worker_heartbeat import STALL_S, beat, stalled, worker_file


def touched(path: Path, seconds_ago: float) -> None:
    path.write_text("{}")
    then = time.monotonic() - seconds_ago
    os.utime(path, (then, then))


def test_a_worker_is_stalled_once_its_file_is_older_than_the_bound(tmp_path: Path) -> None:
    touched(worker_file(tmp_path, 1), STALL_S + 5)
    touched(worker_file(tmp_path, 2), STALL_S - 5)
    assert stalled(tmp_path, [1, 2, 3]) == [1]  # 3 has not published: it starts


def test_the_beat_touches_the_file_with_the_monotonic_clock(tmp_path: Path) -> None:
    path = worker_file(tmp_path, 1)
    touched(path, STALL_S + 5)
    before = time.monotonic()

    async def one_beat() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(beat(path), 0.05)

    asyncio.run(one_beat())
    assert before <= path.stat().st_mtime <= time.monotonic()
    assert stalled(tmp_path, [1]) == []


@pytest.fixture
def sleepers() -> Iterator[list[subprocess.Popen[bytes]]]:
    children = [subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])]
    children.append(subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]))
    yield children
    for child in children:
        child.kill()
        child.wait()


def test_the_supervisor_kills_a_stalled_worker_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sleepers: list[subprocess.Popen[bytes]]
) -> None:
    """uvicorn's ping is answered by a thread of the worker: a worker with a blocked event
    loop answered it, served nothing and held its connections for the server's life."""
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))
    blocked, beating = sleepers
    touched(worker_file(tmp_path, blocked.pid), STALL_S + 5)
    touched(worker_file(tmp_path, beating.pid), 1)
    supervisor = object.__new__(ReloadingSupervisor)  # its __init__ takes the process's signals
    supervisor.processes = [SimpleNamespace(pid=child.pid) for child in sleepers]  # type: ignore[misc]
    supervisor.should_exit = threading.Event()
    supervisor._kill_stalled()
    assert blocked.wait(10) == -9
    assert not worker_file(tmp_path, blocked.pid).exists()
    assert beating.poll() is None
