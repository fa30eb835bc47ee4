"""`gateway serve --workers N`: uvicorn's worker supervisor, with SIGHUP meaning "reload".

uvicorn's supervisor answers SIGHUP by starting a new process for every worker and retiring the
old ones. For the gateway that is a restart, not the reload operations.md promises: every
worker's in-process state (memory-backend rate limits and budgets, the cache, breakers) starts
again from zero. SIGHUP is the signal an operator (or `docker kill -s HUP`, or systemd's
`ExecReload`) sends to the process they started, which with several workers is the supervisor;
so the supervisor here passes it on to each worker, where it runs the same live reload as a
file edit or `POST /admin/reload`. Everything else (SIGTERM and SIGINT drain, a dead worker
replaced) is uvicorn's.
"""

from __future__ import annotations

import inspect
import os
import signal
from typing import Any

import uvicorn
from uvicorn.supervisors import Multiprocess


class ReloadingSupervisor(Multiprocess):
    def handle_hup(self) -> None:
        for process in self.processes:
            pid = process.pid
            if pid is not None:
                try:
                    os.kill(pid, signal.SIGHUP)
                except ProcessLookupError:
                    pass  # died meanwhile: the supervisor replaces it


def run_workers(app: str, **options: Any) -> None:
    """What `uvicorn.run(app, **options)` does when `workers` > 1, with the supervisor above."""
    config = uvicorn.Config(app, **options)
    server = uvicorn.Server(config)
    sockets = [config.bind_socket()]
    # Older uvicorn versions take the workers' target; newer ones build it themselves.
    takes_target = "target" in inspect.signature(Multiprocess.__init__).parameters
    extra: dict[str, Any] = {"target": server.run} if takes_target else {}
    try:
        ReloadingSupervisor(config, sockets=sockets, **extra).run()
    except KeyboardInterrupt:
        pass
