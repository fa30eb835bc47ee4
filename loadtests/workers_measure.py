"""One measurement of loadtests/workers.py: a warm-up and a measured load on one target (the mock
called directly or a gateway), the CPU each process used meanwhile, and for a multi-worker
gateway how its requests and connections fell on the workers."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Proc
from load_common import CHAT_PATH, Load
from loadgen import LoadResult
from worker_spread import Spread, connections_per_pid, cpu_per_pid, requests_per_pid, spread_between


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children: the load generator's runs (wrk, or the
    Python generator), each waited for before the load returns."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Measurement:
    target: str
    result: LoadResult
    cores: dict[str, float]  # CPU seconds / wall seconds of each process during the load
    cpu_us_per_request: float  # the target's CPU time per request (robust on a shared machine)
    spread: Spread | None  # the workers' shares (2-worker gateway only)

    def describe(self) -> str:
        r = self.result
        cores = ", ".join(f"{name} {n:.2f}" for name, n in self.cores.items())
        text = (
            f"  {self.target:<11} {r.ok_rps:>8,.0f} req/s  p50 {r.p50_ms:6.2f} ms  "
            f"p99 {r.p99_ms:6.2f} ms  errors {r.errors}  CPU/req {self.cpu_us_per_request:.0f} us"
            f"  cores used: {cores}"
        )
        if self.spread is not None:
            text += f"\n              workers: {self.spread.describe()}"
        return text

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "target": self.target,
            "result": self.result.as_dict(),
            "cores_used": self.cores,
            "cpu_us_per_request": self.cpu_us_per_request,
        }
        if self.spread is not None:
            out["workers"] = {
                str(pid): {
                    "requests": n,
                    "connections": self.spread.connections.get(pid, 0),
                    "cpu_s": self.spread.cpu_s.get(pid, 0.0),
                }
                for pid, n in self.spread.requests.items()
            }
        return out


def measure_target(
    load: Load,
    target: str,
    server: Proc,
    mock: Proc,
    body: bytes,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    metrics_dir: Path | None,
) -> Measurement:
    """`metrics_dir`: the gateway's Prometheus multiprocess directory, to count per worker."""
    url = server.url + CHAT_PATH
    if warmup_s > 0:
        load.run(url, [body], concurrency, warmup_s)
    connections: dict[int, int] = {}
    started = time.monotonic()

    def sample_connections() -> bool:
        # Once, a second in: wrk has opened every connection by then and holds them to the end.
        if not connections and time.monotonic() - started > min(1.0, duration_s / 2):
            connections.update(connections_per_pid(server))
        return False

    requests_before = requests_per_pid(metrics_dir) if metrics_dir else {}
    cpu_before = cpu_per_pid(server)
    mock_before = mock.cpu_seconds()
    server_before = server.cpu_seconds()
    load_before = children_cpu_seconds()
    result = load.run(url, [body], concurrency, duration_s, tick=sample_connections)
    wall = time.monotonic() - started
    server_cpu = server.cpu_seconds() - server_before
    cores = {"load generator": (children_cpu_seconds() - load_before) / wall}
    cores["mock"] = (mock.cpu_seconds() - mock_before) / wall
    if server is not mock:
        cores["gateway"] = server_cpu / wall
    spread = None
    if metrics_dir is not None:
        spread = spread_between(
            requests_before,
            requests_per_pid(metrics_dir),
            connections,
            cpu_before,
            cpu_per_pid(server),
        )
    cpu_us = server_cpu * 1e6 / max(1, result.requests)
    return Measurement(target, result, cores, cpu_us, spread)
