"""The config a worker process starts on.

With `--workers N` uvicorn replaces a worker that dies by a new process, which loads the config
file as it is then. If the file holds an edit the running workers refused, loading it fails:
the new worker used to die with a traceback, be started again half a second later, fail again,
and so on until the file was fixed, one traceback a try. Now a worker that finds other workers
serving logs the file's problems once, as `file:line: message`, and starts when the file loads
(it looks every 300 ms), serving what the others will have reloaded by then; SIGTERM or SIGINT
meanwhile ends it at once. A worker with no other worker serving (the server's start) fails as
before: the command checked the file just before, so a problem then is one to see at once.
"""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path
from types import FrameType

from gateway.config import ConfigError, load_config
from gateway.config.types import GatewayConfig
from gateway.reload import RUN_DIR_ENV, live_workers

log = logging.getLogger("gateway.worker")
RETRY_S = 0.3


def load_worker_config(path: Path) -> GatewayConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        if not _other_workers_serve():
            raise
        for problem in exc.problems:
            log.error(
                "worker %d cannot start on the config (the other workers serve on; it starts "
                "when the file is fixed): %s",
                os.getpid(),
                problem,
            )
    previous = {sig: signal.signal(sig, _leave) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            time.sleep(RETRY_S)
            try:
                config = load_config(path)
            except ConfigError:
                continue
            log.warning("worker %d starts on config version %s", os.getpid(), config.version)
            return config
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _leave(sig: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _other_workers_serve() -> bool:
    """Whether another live worker has published the config version it serves."""
    run_dir = os.environ.get(RUN_DIR_ENV)
    if not run_dir:
        return False
    return any(int(data["pid"]) != os.getpid() for data in live_workers(Path(run_dir)))
