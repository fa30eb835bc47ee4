"""How a multi-worker gateway's load falls on its workers: requests counted per worker pid, the
client connections each worker holds, and the CPU each used (loadtests/workers.py).

With `--workers N` every worker writes its Prometheus values to its own file in
`PROMETHEUS_MULTIPROC_DIR` (`counter_<pid>.db`); the harness names that directory, so the
requests each worker served are read from the file of its pid. The connections are the
established TCP sockets on the gateway's port held by each worker (psutil).
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path

import psutil
from cpus import allowed_cpus
from harness import Proc
from prometheus_client.mmap_dict import MmapedDict

REQUESTS_SAMPLE = "gateway_requests_total"


def requests_per_pid(metrics_dir: Path) -> dict[int, float]:
    """gateway_requests_total as each worker counted it so far, by pid."""
    counts: dict[int, float] = {}
    for path in metrics_dir.glob("counter_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        with contextlib.suppress(OSError, ValueError):
            # prometheus_client leaves this reader of its files unannotated.
            values = MmapedDict.read_all_values_from_file(str(path))  # type: ignore[no-untyped-call]
            for key, value, _timestamp, _pos in values:
                if json.loads(key)[1] == REQUESTS_SAMPLE:
                    counts[pid] = counts.get(pid, 0.0) + value
    return counts


def workers_of(gateway: Proc) -> list[psutil.Process]:
    """The processes that serve requests: the uvicorn workers, or the gateway itself alone."""
    with contextlib.suppress(psutil.Error):
        parent = psutil.Process(gateway.pid)
        # uvicorn's supervisor also starts multiprocessing's resource tracker: a worker is a
        # child that holds a socket on the gateway's port (the listening one, inherited).
        port = int(gateway.url.rsplit(":", 1)[1])
        workers = [c for c in parent.children() if _holds_port(c, port)]
        return workers or [parent]
    return []


def _holds_port(process: psutil.Process, port: int) -> bool:
    with contextlib.suppress(psutil.Error):
        return any(c.laddr and c.laddr.port == port for c in process.net_connections("tcp"))
    return False


def connections_per_pid(gateway: Proc) -> dict[int, int]:
    """Established client connections held by each worker."""
    port = int(gateway.url.rsplit(":", 1)[1])
    counts: dict[int, int] = {}
    for worker in workers_of(gateway):
        with contextlib.suppress(psutil.Error):
            counts[worker.pid] = sum(
                1
                for c in worker.net_connections("tcp")
                if c.laddr and c.laddr.port == port and c.status == psutil.CONN_ESTABLISHED
            )
    return counts


def cpu_per_pid(gateway: Proc) -> dict[int, float]:
    """User + system CPU seconds of each worker so far."""
    out: dict[int, float] = {}
    for worker in workers_of(gateway):
        with contextlib.suppress(psutil.Error):
            times = worker.cpu_times()
            out[worker.pid] = float(times.user + times.system)
    return out


def affinity_per_pid(gateway: Proc) -> dict[int, str]:
    """The CPUs each worker may run on."""
    return {w.pid: allowed_cpus(w.pid) for w in workers_of(gateway)}


@dataclass
class Spread:
    """One measurement's share of each worker: requests, connections, CPU seconds."""

    requests: dict[int, float]
    connections: dict[int, int]
    cpu_s: dict[int, float]

    def describe(self) -> str:
        total = sum(self.requests.values()) or 1.0
        return "; ".join(
            f"pid {pid}: {n:,.0f} requests ({n / total:.0%}), "
            f"{self.connections.get(pid, 0)} connections, {self.cpu_s.get(pid, 0.0):.1f} s CPU"
            for pid, n in sorted(self.requests.items())
        )

    def imbalance(self) -> float:
        """The busiest worker's share of the requests over an even share (1.0 = even)."""
        total = sum(self.requests.values())
        if not total or not self.requests:
            return 1.0
        return max(self.requests.values()) / (total / len(self.requests))


def spread_between(
    before: dict[int, float],
    after: dict[int, float],
    connections: dict[int, int],
    cpu_before: dict[int, float],
    cpu_after: dict[int, float],
) -> Spread:
    requests = {pid: n - before.get(pid, 0.0) for pid, n in after.items()}
    cpu = {pid: s - cpu_before.get(pid, 0.0) for pid, s in cpu_after.items()}
    return Spread(requests, connections, cpu)
