"""The measurements of overhead.py: each (mode, concurrency) cell against the mock provider and
through the gateway, the memory soak, and the gateway's start-up time."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import Proc, metric_total, start_gateway
from load_common import BODIES, CHAT_PATH, MB, PATHS, Load, measure, progress, say
from loadgen import LoadResult


@dataclass
class Cell:
    mode: str
    concurrency: int
    direct: LoadResult
    gateway: LoadResult
    gateway_cpu_us: float  # gateway CPU time (user + sys) per request through it

    def as_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "concurrency": self.concurrency,
            "direct": self.direct.as_dict(),
            "gateway": self.gateway.as_dict(),
            "gateway_cpu_us_per_request": self.gateway_cpu_us,
            "added_p50_ms": self.gateway.p50_ms - self.direct.p50_ms,
            "added_p99_ms": self.gateway.p99_ms - self.direct.p99_ms,
        }


def measure_startup(config: Path, workers: int, cpus: set[int] | None, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = start_gateway(config, workers, cpus)
        times.append(started.startup_s)
        started.proc.stop()
    return times


def timed_run(args: argparse.Namespace, load: Load, mock: Proc, gateway: Proc) -> dict[str, Any]:
    duration = 3.0 if args.quick else args.duration
    cells: list[Cell] = []
    for mode in args.modes:
        for concurrency in args.concurrency:
            results = {}
            cpu_us = 0.0
            for target, server in (("direct", mock), ("gateway", gateway)):
                path = PATHS.get(mode, CHAT_PATH)
                r, cpu = measure(
                    load,
                    server.url,
                    BODIES[mode],
                    concurrency,
                    duration,
                    args.warmup,
                    gateway,
                    path,
                )
                results[target] = r
                if target == "gateway":
                    cpu_us = cpu
                say(
                    f"  {progress(mode, concurrency, target, r)}  "
                    f"(gateway RSS {gateway.rss_bytes() / MB:.1f} MB)"
                )
            cells.append(Cell(mode, concurrency, results["direct"], results["gateway"], cpu_us))
    return {"cells": cells, "duration_s": duration}


def soak_run(args: argparse.Namespace, load: Load, gateway: Proc) -> dict[str, Any]:
    gw_url, gw_rss = gateway.url, gateway.rss_bytes
    total: int = args.soak
    concurrency = args.soak_concurrency
    bodies = [BODIES["chat"], BODIES["stream"]]
    url = gw_url + CHAT_PATH
    rss_ready = gw_rss()
    say(
        f"soak: RSS at ready {rss_ready / MB:.1f} MB; warming up with {args.soak_warmup:,} requests"
    )
    if args.soak_warmup:
        base = metric_total(gw_url, "gateway_requests_total")
        warm = args.soak_warmup
        load.run(
            url,
            bodies,
            concurrency,
            3600,
            limit=warm,
            tick=lambda: metric_total(gw_url, "gateway_requests_total") - base >= warm,
        )
    time.sleep(0.5)  # let the warm-up's last requests finish
    baseline = metric_total(gw_url, "gateway_requests_total")
    samples: list[dict[str, Any]] = []
    peak = {"rss": 0}

    def sample(pct: int, done: float) -> None:
        rss = gw_rss()
        samples.append({"pct": pct, "requests": int(done), "rss_mb": rss / MB})
        say(f"  {pct:>3}%  {int(done):>9,} requests  RSS {rss / MB:7.1f} MB")

    next_pct = 10

    def tick() -> bool:
        nonlocal next_pct
        done = metric_total(gw_url, "gateway_requests_total") - baseline
        peak["rss"] = max(peak["rss"], gw_rss())
        while next_pct < 100 and done >= total * next_pct / 100:
            sample(next_pct, done)
            next_pct += 10
        return done >= total

    sample(0, 0)
    cpu_before = gateway.cpu_seconds()
    started = time.monotonic()
    result = load.run(url, bodies, concurrency, 3600, limit=total, tick=tick)
    elapsed = time.monotonic() - started
    cpu_used = gateway.cpu_seconds() - cpu_before
    time.sleep(0.5)  # let the last records and metrics settle
    done = metric_total(gw_url, "gateway_requests_total") - baseline
    sample(100, done)
    start_mb, end_mb = samples[0]["rss_mb"], samples[-1]["rss_mb"]
    peak_mb = max(peak["rss"] / MB, *(s["rss_mb"] for s in samples))
    growth = (end_mb - start_mb) / start_mb * 100 if start_mb else 0.0
    return {
        "requests": total,
        "completed": result.requests,
        "concurrency": concurrency,
        "errors": result.errors,
        "elapsed_s": elapsed,
        "rps": result.requests / elapsed if elapsed else 0.0,
        "ok_rps": max(0, result.requests - result.errors) / elapsed if elapsed else 0.0,
        "gateway_cpu_us_per_request": cpu_used * 1e6 / max(1, result.requests),
        "p50_ms": result.p50_ms,
        "p99_ms": result.p99_ms,
        "rss_ready_mb": rss_ready / MB,
        "samples": samples,
        "start_mb": start_mb,
        "end_mb": end_mb,
        "peak_mb": peak_mb,
        "growth_pct": growth,
        "growth_from_ready_pct": (end_mb - rss_ready / MB) / (rss_ready / MB) * 100
        if rss_ready
        else 0.0,
        "gateway_counted": int(done),
    }
