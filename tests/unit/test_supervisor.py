"""gateway.supervisor's decision on a worker that is gone: stop the server (the app cannot
start) or start another (it died or hung after the server served). The workers are uvicorn's
`Process` objects around fake children: a thread plays the child's end of the ping pipe."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from multiprocessing import Pipe
from multiprocessing.connection import Connection
from pathlib import Path
from types import SimpleNamespace

import pytest
from uvicorn.supervisors.multiprocess import Process

import gateway.supervisor
from gateway.reload import RUN_DIR_ENV
from gateway.supervisor import STARTUP_FAILURE, ReloadingSupervisor
from gateway.worker_heartbeat import worker_file


class FakeChild:
    """The child process: `answers` pings, or ends with `status` when pinged (it died as the
    ping came: its ping thread stops as it exits), or (status None) takes pings and never
    answers (hung). The parent sees it end through `sentinel`, as a real process's."""

    def __init__(self, pid: int, status: int | None, answers: bool = False) -> None:
        self.pid = pid
        self.status = status
        self.answers = answers
        self.ended = False
        self.killed = False
        self.sentinel, self._alive_end = os.pipe()

    def is_alive(self) -> bool:
        return not self.ended

    @property
    def exitcode(self) -> int | None:
        return self.status if self.ended else None

    def end(self) -> None:
        if not self.ended:
            self.ended = True
            os.close(self._alive_end)

    def kill(self) -> None:
        self.killed = True
        if not self.ended:
            self.status = -9
            self.end()

    def join(self, timeout: float | None = None) -> None:
        pass

    def serve_pings(self, conn: Connection) -> None:
        while not self.ended:
            try:
                conn.recv()
            except (EOFError, OSError):
                return
            if self.answers:
                conn.send(False)
            elif self.status is not None:
                self.end()


def worker(child: FakeChild) -> Process:
    process = object.__new__(Process)  # its __init__ spawns a real process
    process.parent_conn, process.child_conn = Pipe()
    process.process = child  # type: ignore[assignment]
    threading.Thread(target=child.serve_pings, args=(process.child_conn,), daemon=True).start()
    return process


@pytest.fixture
def replacements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[FakeChild]]:
    """The children of the workers the supervisor starts in place of others."""
    made: list[FakeChild] = []

    def new_worker(*args: object) -> Process:
        made.append(FakeChild(1000 + len(made), None, answers=True))
        process = worker(made[-1])
        process.start = lambda: None  # type: ignore[method-assign]
        return process

    monkeypatch.setattr(gateway.supervisor, "Process", new_worker, raising=False)
    monkeypatch.setattr("uvicorn.supervisors.multiprocess.Process", new_worker)
    yield made
    for child in made:
        child.end()


@pytest.fixture(autouse=True)
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where workers publish the config they serve (none has, unless a test says so)."""
    monkeypatch.setenv(RUN_DIR_ENV, str(tmp_path))


def supervising(children: list[FakeChild], ping_timeout: float = 2.0) -> ReloadingSupervisor:
    supervisor = object.__new__(ReloadingSupervisor)  # its __init__ takes the process's signals
    supervisor.config = SimpleNamespace(timeout_worker_healthcheck=ping_timeout)  # type: ignore[assignment]
    supervisor.sockets = []
    supervisor.processes = [worker(child) for child in children]
    supervisor.should_exit = threading.Event()
    return supervisor


def serving(run_dir: Path) -> None:
    """A live worker (this process) has published the config version it serves."""
    worker_file(run_dir, os.getpid()).write_text(json.dumps({"pid": os.getpid()}))


def test_a_worker_dying_during_its_ping_before_any_served_stops_the_server(
    replacements: list[FakeChild],
) -> None:
    """The CI failure: the exit statuses were read before uvicorn's pass, which then found the
    worker gone and replaced it; an app that cannot start had its workers replaced for good."""
    supervisor = supervising([FakeChild(10, 1)])
    supervisor.keep_subprocess_alive()
    assert supervisor.should_exit.is_set()
    assert supervisor.failed_to_start
    assert replacements == []


def test_a_hung_worker_before_any_served_is_replaced_not_taken_for_a_failed_start(
    replacements: list[FakeChild],
) -> None:
    """A worker still alive that does not answer (slow to start, or stuck) is killed and
    another started, as uvicorn does: it says nothing about whether the app can start."""
    hung = FakeChild(10, None)
    supervisor = supervising([hung], ping_timeout=0.05)
    supervisor.keep_subprocess_alive()
    assert not supervisor.should_exit.is_set()
    assert hung.killed
    assert [process.pid for process in supervisor.processes] == [c.pid for c in replacements]


def test_workers_that_answer_are_left_alone(replacements: list[FakeChild]) -> None:
    children = [FakeChild(10, None, answers=True), FakeChild(11, None, answers=True)]
    supervisor = supervising(children)
    supervisor.keep_subprocess_alive()
    assert not supervisor.should_exit.is_set()
    assert not any(child.killed for child in children) and replacements == []


def test_a_worker_dying_after_one_served_is_replaced(
    tmp_path: Path, replacements: list[FakeChild]
) -> None:
    serving(tmp_path)
    supervisor = supervising([FakeChild(10, -9), FakeChild(11, 1)])
    supervisor.keep_subprocess_alive()
    assert not supervisor.should_exit.is_set()
    assert [process.pid for process in supervisor.processes] == [c.pid for c in replacements]
    assert len(replacements) == 2


def test_a_startup_failure_status_stops_the_server_even_after_one_served(
    tmp_path: Path, replacements: list[FakeChild]
) -> None:
    """Status 3 is uvicorn's 'could not start' (the lifespan failed): a replacement would fail
    alike. The server stops with status 3 (uvicorn's supervisor exited 0 for it)."""
    serving(tmp_path)
    supervisor = supervising([FakeChild(10, STARTUP_FAILURE)])
    supervisor.keep_subprocess_alive()
    assert supervisor.should_exit.is_set() and supervisor.failed_to_start
    assert replacements == []
