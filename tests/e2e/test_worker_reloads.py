"""Several worker processes and config reloads: SIGHUP to the server reloads every worker in
place; a worker replaced while an edit of the config file is refused waits for the file to be
fixed, and a SIGHUP sent meanwhile is held for it instead of ending it."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

from tests.conditions import wait_until
from tests.e2e import workers_setup
from tests.e2e.workers_setup import ENV, chat, replaced, two_workers, worker_pids, write_config
from tests.procs import Proc, start_gateway

# This module's upstream (one token a second), not the session's: pytest finds it by its name.
slow_upstream = workers_setup.slow_upstream


def sighup_reloads(audit: Path) -> set[int]:
    """The pids that logged a reload triggered by SIGHUP."""
    if not audit.exists():
        return set()
    lines = [json.loads(line) for line in audit.read_text().splitlines() if line.strip()]
    return {int(line["pid"]) for line in lines if line.get("trigger") == "SIGHUP"}


def test_sighup_to_the_server_reloads_every_worker_in_place(
    tmp_path: Path, slow_upstream: Proc
) -> None:
    """SIGHUP reaches the process the operator started: with several workers that process
    passes it on, and each worker reloads; none is restarted (their memory state stays)."""
    gateway = start_gateway(write_config(tmp_path, slow_upstream), workers=2, env=ENV)
    try:
        before = wait_until(lambda: two_workers(gateway), 10)
        gateway.process.send_signal(signal.SIGHUP)
        audit = tmp_path / "logs" / "audit.jsonl"
        wait_until(lambda: sighup_reloads(audit) == before, 10, message="a reload per worker")
        assert worker_pids(gateway) == before
    finally:
        gateway.stop()


def logged(gateway: Proc, text: str) -> int:
    return sum(text in line for line in list(gateway.output))


def test_a_worker_replaced_while_an_edit_is_refused_starts_once_the_file_is_fixed(
    tmp_path: Path, slow_upstream: Proc
) -> None:
    """It used to die with a traceback on the refused file and be started again every half
    second until the file was fixed."""
    config = write_config(tmp_path, slow_upstream)
    good = config.read_text()
    gateway = start_gateway(config, workers=2, env=ENV)
    try:
        old = wait_until(lambda: two_workers(gateway), 10)
        config.write_text(good + "bogus = [\n")
        wait_until(lambda: logged(gateway, "config reload refused") == 2, 10)
        dead = min(old)
        os.kill(dead, signal.SIGKILL)
        wait_until(lambda: logged(gateway, "cannot start on the config"), 10)
        assert len(two_workers(gateway)) == 0  # one serves meanwhile
        chat(gateway)
        config.write_text(good)
        wait_until(lambda: replaced(gateway, {dead}), 20)
        assert logged(gateway, "cannot start on the config") == 1
        assert logged(gateway, "Traceback") == 0
    finally:
        gateway.stop()


def test_sighup_waits_for_a_starting_worker_instead_of_ending_it(
    tmp_path: Path, slow_upstream: Proc
) -> None:
    """A worker has no SIGHUP handler until it serves, and the signal's default action ends a
    process: the server passed SIGHUP on to workers still starting (here one waiting for a
    refused file to be fixed; at the server's start, every worker), which died and were started
    again, or stopped the whole server as one that "failed to start"."""
    config = write_config(tmp_path, slow_upstream)
    good = config.read_text()
    gateway = start_gateway(config, workers=2, env=ENV)
    audit = tmp_path / "logs" / "audit.jsonl"
    try:
        old = wait_until(lambda: two_workers(gateway), 10)
        config.write_text(good + "bogus = [\n")
        wait_until(lambda: logged(gateway, "config reload refused") == 2, 10)
        dead = min(old)
        os.kill(dead, signal.SIGKILL)
        line = wait_until(lambda: waiting_worker_line(gateway), 10)
        waiting = int(line.split()[1])
        gateway.process.send_signal(signal.SIGHUP)
        wait_until(lambda: sighup_reloads(audit) == old - {dead}, 10, message="the server's")
        config.write_text(good)
        # The waiting worker starts on the fixed file, then gets the SIGHUP held for it.
        wait_until(lambda: waiting in sighup_reloads(audit), 20, message="the held SIGHUP")
        assert worker_pids(gateway) == old - {dead} | {waiting}
        assert logged(gateway, "cannot start on the config") == 1
    finally:
        gateway.stop()


def waiting_worker_line(gateway: Proc) -> str | None:
    """The log line of the worker waiting for the config file to load, from "worker"."""
    for line in list(gateway.output):
        if "cannot start on the config" in line:
            return line[line.index("worker ") :]
    return None
