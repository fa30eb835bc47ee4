"""The directory prometheus-client's multiprocess mode shares between workers.

Every worker writes its values to memory-mapped files named `<kind>_<pid>.db` there, and a
scrape of any worker sums them. Two things keep the sum true over a server's life:

- at start, the files of an earlier run are deleted (only the library's `*.db` files: the
  directory may be one the operator named in `PROMETHEUS_MULTIPROC_DIR`, with other files in it,
  a symlink or a mount point, so it is emptied, never removed and made again);
- at each scrape, the files of a worker that has died (killed, out of memory: uvicorn then
  starts another in its place) are settled (`multiproc_scrape.py`): its live gauges are
  forgotten, as the library asks (`mark_process_dead`), else its last
  `gateway_inflight_requests` stays in the sum for the rest of the server's life; its counters
  and histograms are folded into one file per kind: what it served was served.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"

# A process's files: `counter_<pid>.db`, `histogram_<pid>.db`, `gauge_<mode>_<pid>.db`.
_PROCESS_FILE = re.compile(r"[a-z]+(?:_[a-z]+)?_(\d+)\.db")


def prepare_metrics_directory(workers: int) -> str | None:
    """Empty the directory named in the environment, or with several workers and none named,
    make one and name it. The directory made (the caller removes it when the server stops),
    else None."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        if workers <= 1:
            return None
        directory = tempfile.mkdtemp(prefix="llm-gateway-metrics-")
        os.environ[MULTIPROC_ENV] = directory
        return directory
    os.makedirs(directory, exist_ok=True)
    # With the files a fold left half done (multiproc_scrape.py): they hold old values too.
    for pattern in ("*.db", "*.fold", "*_dead-*.tmp"):
        for path in Path(directory).glob(pattern):
            path.unlink(missing_ok=True)
    return None


def dead_workers(directory: str) -> set[int]:
    """The processes that left files in `directory` and no longer run (the caller settles
    them, `multiproc_scrape.py`; this module stays free of the library, so the CLI does not
    import it before the workers start)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return set()
    pids = {int(m.group(1)) for name in names if (m := _PROCESS_FILE.fullmatch(name))}
    return {pid for pid in pids if pid != os.getpid() and not _alive(pid)}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: not ours to judge
    return True
