"""Which CPUs the load tests' processes may run on (`--pin`), and what they were allowed.

With `--pin` the gateway gets one core per worker and the mock provider and the load generator
share the cores left (each on its own when there are enough). When the cores cannot hold the
gateway's workers plus one core for the others, nothing is pinned: pinning N workers onto fewer
than N cores, or the load generator onto a gateway core, would measure the pinning, not the
gateway. Children inherit their parent's affinity, so what the harness sets around a spawn is
what that process (and every uvicorn worker it forks) is allowed.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass


def available_cpus() -> list[int]:
    """The CPUs this process may run on (the machine's, unless a container or taskset narrows
    them), in order."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def allowed_cpus(pid: int) -> str:
    """The CPUs process `pid` may run on, as text ('0-1', '0', '?' when it cannot be read)."""
    with contextlib.suppress(OSError, AttributeError):
        return cpu_list(os.sched_getaffinity(pid))
    return "?"


def cpu_list(cpus: set[int] | list[int]) -> str:
    """{0, 1, 2, 5} -> '0-2,5'."""
    ordered = sorted(cpus)
    parts: list[str] = []
    start = prev = ordered[0] if ordered else -1
    for cpu in [*ordered[1:], None]:
        if cpu is not None and cpu == prev + 1:
            prev = cpu
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if cpu is not None:
            start = prev = cpu
    return ",".join(parts) if ordered else ""


@dataclass(frozen=True)
class CpuPlan:
    gateway: set[int] | None  # None: not pinned (the parent's affinity)
    mock: set[int] | None
    load: set[int] | None
    note: str  # one line for the report

    @property
    def pinned(self) -> bool:
        return self.gateway is not None


def plan_cpus(workers: int, pin: bool) -> CpuPlan:
    """One core per gateway worker, the rest for the mock provider and the load generator."""
    cpus = available_cpus()
    if not pin:
        return CpuPlan(None, None, None, f"not pinned: every process may use CPUs {cpu_list(cpus)}")
    if len(cpus) < workers + 1:
        return CpuPlan(
            None,
            None,
            None,
            f"not pinned: {len(cpus)} CPUs cannot hold {workers} gateway worker(s) plus a core "
            f"for the mock provider and the load generator (needs {workers + 1})",
        )
    gateway, rest = set(cpus[:workers]), cpus[workers:]
    if len(rest) >= 2:
        mock, load = {rest[0]}, set(rest[1:])
    else:
        mock = load = set(rest)
    return CpuPlan(
        gateway,
        mock,
        load,
        f"pinned: gateway ({workers} worker(s)) on CPUs {cpu_list(gateway)}, mock provider on "
        f"{cpu_list(mock)}, load generator on {cpu_list(load)}",
    )
