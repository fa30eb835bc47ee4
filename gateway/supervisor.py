"""`gateway serve --workers N`: uvicorn's worker supervisor, with SIGHUP meaning "reload".

uvicorn's supervisor answers SIGHUP by starting a new process for every worker and retiring the
old ones. For the gateway that is a restart, not the reload operations.md promises: every
worker's in-process state (memory-backend rate limits and budgets, the cache, breakers) starts
again from zero. SIGHUP is the signal an operator (or `docker kill -s HUP`, or systemd's
`ExecReload`) sends to the process they started, which with several workers is the supervisor;
so the supervisor here passes it on to each worker, where it runs the same live reload as a
file edit or `POST /admin/reload`; a worker that does not serve yet (it answers SIGHUP from
then on; before, the default action ends it) gets the signal once it has published its config
version in the run directory. Everything else (SIGTERM and SIGINT drain, a dead worker
replaced) is uvicorn's, but for a worker that dies before any worker served: the app cannot
start (say `[tracing]` without the otel extra), and every new worker would fail the same way.
uvicorn replaced it again and again, forever, a traceback every second and nothing served (or,
for a failed lifespan start, stopped with exit status 0); the server now stops with status 3,
as one worker does (decided on the worker once it is reaped: a worker that died while the
supervisor pinged it used to slip through to uvicorn's replacement). And a worker whose event
loop stopped turning is killed (its ping is answered by a thread, so uvicorn cannot tell):
gateway/worker_heartbeat.py.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import pickle
import signal
from collections.abc import Callable
from multiprocessing.connection import wait
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.supervisors.multiprocess import Multiprocess, Process

from gateway.reload import RUN_DIR_ENV, live_workers
from gateway.worker_heartbeat import STALL_S, stalled, worker_file

# uvicorn's exit status for a server that could not start.
STARTUP_FAILURE = 3
log = logging.getLogger("gateway.supervisor")


class ReloadingSupervisor(Multiprocess):
    failed_to_start = False
    _served = False  # whether a worker has ever published the config it serves
    _held_hups: frozenset[int] = frozenset()  # workers a SIGHUP reaches once they serve

    def keep_subprocess_alive(self) -> None:
        """uvicorn's own, but for the decision on a worker that died before any worker served,
        which is taken on that worker after it was reaped. (Checking the exit statuses before
        uvicorn's pass raced it: a worker dying meanwhile, its ping thread gone but the process
        not yet reaped, was replaced by uvicorn's pass as a died worker, and a server whose app
        could not start could go on replacing its workers, now and then, for good.)"""
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if self._answers(process):
                continue
            exited = process.process.exitcode  # None: it is alive but did not answer (hung)
            process.kill()
            process.join()
            if exited is not None and (exited == STARTUP_FAILURE or not self._has_served()):
                log.error(
                    "worker %s exited (status %s) before any worker served: stopping",
                    process.pid,
                    exited,
                )
                self.failed_to_start = True
                self.should_exit.set()
                return
            log.warning(
                "worker %s %s: a new worker takes its place",
                process.pid,
                "did not answer (hung)" if exited is None else f"died (status {exited})",
            )
            replacement = self._new_process()
            replacement.start()
            self.processes[index] = replacement
        self._pass_on_hups()
        self._kill_stalled()

    def _answers(self, process: Process) -> bool:
        """uvicorn's health ping (`Process.is_alive`), but one that ends when the worker does:
        uvicorn's waits for the answer alone, so a worker that died while pinged (its ping
        thread stops as it exits) held the supervisor for the whole timeout, 5 s."""
        if not process.process.is_alive():
            return False
        # uvicorn's default, which older versions do not let the config set.
        timeout: float = getattr(self.config, "timeout_worker_healthcheck", 5.0)
        try:
            process.parent_conn.send(b"ping")
            ready = wait([process.parent_conn, process.process.sentinel], timeout)
            if process.parent_conn in ready:
                process.parent_conn.recv()
                return True
        except (OSError, EOFError, pickle.UnpicklingError):
            pass
        return False

    def _new_process(self) -> Process:
        # Older uvicorn versions hand each process the workers' target; newer ones build it.
        target = getattr(self, "target", None)
        make: Callable[..., Process] = Process
        if target is None:
            return make(self.config, self.sockets)
        return make(self.config, target, self.sockets)

    def _has_served(self) -> bool:
        self._served = self._served or bool(_serving())
        return self._served

    def handle_hup(self) -> None:
        self._held_hups = self._pids()
        self._pass_on_hups()

    def _pass_on_hups(self) -> None:
        """SIGHUP to every worker that serves; a worker still starting (importing, loading the
        config, waiting for a refused file to be fixed) has no handler for it yet, and the
        signal's default action would end it: it gets the signal once it serves."""
        if not self._held_hups:
            return
        serving = _serving()
        for pid in self._held_hups & serving:
            try:
                os.kill(pid, signal.SIGHUP)
            except ProcessLookupError:
                pass  # died meanwhile: the supervisor replaces it
        self._held_hups = self._held_hups & (self._pids() - serving)

    def _kill_stalled(self) -> None:
        """SIGKILL each worker whose event loop has not turned for `STALL_S`
        (gateway/worker_heartbeat.py); uvicorn starts another in its place."""
        run_dir = os.environ.get(RUN_DIR_ENV)
        if not run_dir or self.should_exit.is_set():
            return
        for pid in stalled(Path(run_dir), self._pids()):
            log.error(
                "worker %s: its event loop has not turned for %.0f s (blocked): killing it, "
                "a new worker takes its place",
                pid,
                STALL_S,
            )
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            worker_file(Path(run_dir), pid).unlink(missing_ok=True)

    def _pids(self) -> frozenset[int]:
        return frozenset(p.pid for p in self.processes if p.pid is not None)


def _serving() -> set[int]:
    """The pids of the workers that have published the config they serve."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    return {int(data["pid"]) for data in live_workers(Path(run_dir))} if run_dir else set()


def run_workers(app: str, **options: Any) -> None:
    """What `uvicorn.run(app, **options)` does when `workers` > 1, with the supervisor above."""
    config = uvicorn.Config(app, **options)
    server = uvicorn.Server(config)
    sockets = [config.bind_socket()]
    # Older uvicorn versions take the workers' target; newer ones build it themselves.
    takes_target = "target" in inspect.signature(Multiprocess.__init__).parameters
    extra: dict[str, Any] = {"target": server.run} if takes_target else {}
    supervisor = ReloadingSupervisor(config, sockets=sockets, **extra)
    try:
        supervisor.run()
    except KeyboardInterrupt:
        pass
    if supervisor.failed_to_start:
        raise SystemExit(STARTUP_FAILURE)
