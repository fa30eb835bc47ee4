"""Gateway overhead: requests/s and latency direct to the mock provider vs. through the gateway.

    python loadtests/overhead.py [--duration S | --quick] [--generator wrk|python] [--pin]
                                 [--json PATH] [--soak N]

Starts `gateway mock-provider` (0 ms latency) and `gateway serve --workers 1` (default pipeline:
auth, routing, request record, metrics) on loopback, each in its own process, then for
concurrency 1 and 64 and for non-streaming and streaming (20-chunk SSE) chat completions it runs
the same load against the mock provider directly and through the gateway, back to back, and
prints requests/s, p50/p99 latency (to the last byte) and the latency the gateway adds, the
gateway's RSS before and after, its start-up time, and each target from DESIGN.md with PASS or
MISS. A miss is reported, never turned into a failing exit status.

`--soak N` instead sends N requests (alternating chat and stream) at concurrency 64 through the
gateway and prints its RSS at the start, every 10 % and the end.

See docs/performance.md for the figures of the latest run and how to read them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    GATEWAY_KEY,
    MODEL,
    Proc,
    cpu_affinity,
    cpu_pressure,
    machine_info,
    metric_total,
    request_log_summary,
    start_gateway,
    start_mock_provider,
    write_config,
)
from loadgen import LoadResult, have_wrk, run_python, run_wrk

MB = 1024 * 1024
CHAT_PATH = "/v1/chat/completions"
PROMPT = [{"role": "user", "content": "Tell me something about load testing."}]
BODIES = {
    "chat": json.dumps({"model": MODEL, "messages": PROMPT}).encode(),
    "stream": json.dumps({"model": MODEL, "messages": PROMPT, "stream": True}).encode(),
}
HEADERS = {"Content-Type": "application/json", "Authorization": f"Bearer {GATEWAY_KEY}"}

# Targets from /work/shared/DESIGN.md, "Performance targets".
TARGET_ADDED_P50_MS = 0.4
TARGET_CHAT_RPS = 2500.0
TARGET_STREAM_RPS = 1500.0
TARGET_RSS_MB = 120.0
TARGET_GROWTH_PCT = 5.0
TARGET_STARTUP_S = 2.0


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


def say(text: str = "") -> None:
    print(text, flush=True)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


class Load:
    """Runs one load against a URL with the chosen generator and settings."""

    def __init__(self, generator: str, wrk_threads: int, cpus: set[int] | None) -> None:
        self.generator = generator
        self.wrk_threads = wrk_threads
        self.cpus = cpus

    def run(
        self,
        url: str,
        bodies: Sequence[bytes],
        concurrency: int,
        duration_s: float,
        limit: int | None = None,
        tick: Callable[[], bool] | None = None,
    ) -> LoadResult:
        """`limit`: stop after that many requests (then `tick` must return True once they are
        done, so wrk can be told to stop); `tick` is called every 0.1 s while the load runs."""
        with cpu_affinity(self.cpus):
            if self.generator == "wrk":
                threads = 1 if concurrency == 1 else self.wrk_threads
                return run_wrk(
                    url, bodies, HEADERS, concurrency, duration_s, threads, limit, tick=tick
                )
            return run_python(
                url, bodies, HEADERS, concurrency, duration_s, limit_total=limit, tick=tick
            )


def complete_answer(mode: str, status: int, text: str) -> bool:
    """A 200 and a whole answer: a chat completion with content, or a stream of at least 20
    content chunks ending in `data: [DONE]`."""
    if status != 200:
        return False
    if mode == "chat":
        try:
            return bool(json.loads(text)["choices"][0]["message"]["content"])
        except (ValueError, LookupError, TypeError):
            return False
    chunks = [
        line for line in text.splitlines() if line.startswith("data: ") and "[DONE]" not in line
    ]
    return "data: [DONE]" in text and len(chunks) >= 20


def post(client: httpx.Client, base_url: str, body: bytes) -> httpx.Response:
    """POST one chat request and read the whole answer (the whole stream for SSE)."""
    with client.stream("POST", base_url + CHAT_PATH, content=body) as response:
        response.read()
    return response


def check_answers(base_url: str, label: str, bodies: dict[str, bytes] = BODIES) -> None:
    """One chat and one stream before measuring: a 200 and a complete answer, or stop here."""
    with httpx.Client(timeout=10.0, headers=HEADERS) as client:
        for mode in ("chat", "stream"):
            response = post(client, base_url, bodies[mode])
            if not complete_answer(mode, response.status_code, response.text):
                raise SystemExit(
                    f"{label}: {mode} request failed: {response.status_code} {response.text[:500]}"
                )


def fmt_ms(value: float) -> str:
    return f"{value:.3f}"


def fmt_signed(value: float) -> str:
    return f"{value:+.3f}"


def align(rows: list[list[str]], left: int = 1) -> str:
    """Rows of cells as aligned columns, the first row a header underlined with dashes; the first
    `left` columns are left-aligned, the others right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        cols = [
            row[i].ljust(widths[i]) if i < left else row[i].rjust(widths[i])
            for i in range(len(row))
        ]
        lines.append("  ".join(cols).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def render_table(cells: list[Cell]) -> str:
    header = [
        "mode",
        "c",
        "direct req/s",
        "gateway req/s",
        "gw/direct",
        "direct p50",
        "gateway p50",
        "added p50",
        "direct p99",
        "gateway p99",
        "added p99",
        "gw CPU/req",
        "errors d/g",
    ]
    rows = [header]
    for cell in cells:
        d, g = cell.direct, cell.gateway
        rows.append(
            [
                cell.mode,
                str(cell.concurrency),
                f"{d.ok_rps:,.0f}",
                f"{g.ok_rps:,.0f}",
                f"{g.ok_rps / d.ok_rps:.2f}" if d.ok_rps else "-",
                fmt_ms(d.p50_ms),
                fmt_ms(g.p50_ms),
                fmt_signed(g.p50_ms - d.p50_ms),
                fmt_ms(d.p99_ms),
                fmt_ms(g.p99_ms),
                fmt_signed(g.p99_ms - d.p99_ms),
                f"{cell.gateway_cpu_us:,.0f} us",
                f"{d.errors}/{g.errors}",
            ]
        )
    return align(rows) + (
        "\n(latencies in ms, to the last byte of the response; req/s = successful responses / s;"
        " gw CPU/req = gateway process CPU time / requests through it)"
    )


def render_targets(targets: list[dict[str, Any]]) -> str:
    width = max(len(t["name"]) for t in targets)
    return "\n".join(
        f"{t['name'].ljust(width)}  {t['target']:>12}  {t['measured']:>14}  {t['result']}"
        for t in targets
    )


def cell_for(cells: list[Cell], mode: str, concurrency: int) -> Cell | None:
    return next((c for c in cells if c.mode == mode and c.concurrency == concurrency), None)


def build_targets(
    cells: list[Cell], rss_after_mb: float, startup_s: float, workers: int
) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    for mode in ("chat", "stream"):
        cell = cell_for(cells, mode, 1)
        if cell:
            added = cell.gateway.p50_ms - cell.direct.p50_ms
            name = f"added p50, {mode}, c=1" + (" (headline)" if mode == "chat" else "")
            targets.append(
                {
                    "name": name,
                    "target": f"<= {TARGET_ADDED_P50_MS} ms",
                    "measured": f"{added:.3f} ms",
                    "value": added,
                    "result": verdict(added <= TARGET_ADDED_P50_MS),
                }
            )
    for mode, goal, unit in (
        ("chat", TARGET_CHAT_RPS, "chat req/s"),
        ("stream", TARGET_STREAM_RPS, "streams/s"),
    ):
        cell = cell_for(cells, mode, 64)
        if cell:
            rps = cell.gateway.ok_rps
            targets.append(
                {
                    "name": f"{unit}, c=64, {workers} worker{'s' if workers > 1 else ''}",
                    "target": f">= {goal:,.0f}",
                    "measured": f"{rps:,.0f}",
                    "value": rps,
                    "result": verdict(rps >= goal),
                }
            )
    targets.append(
        {
            "name": "gateway RSS after the run",
            "target": f"<= {TARGET_RSS_MB:.0f} MB",
            "measured": f"{rss_after_mb:.1f} MB",
            "value": rss_after_mb,
            "result": verdict(rss_after_mb <= TARGET_RSS_MB),
        }
    )
    targets.append(
        {
            "name": "start-up (spawn -> /readyz 200)",
            "target": f"<= {TARGET_STARTUP_S:.0f} s",
            "measured": f"{startup_s:.2f} s",
            "value": startup_s,
            "result": verdict(startup_s <= TARGET_STARTUP_S),
        }
    )
    return targets


def cpu_note(pin: bool) -> str:
    cpus = os.cpu_count() or 0
    if pin:
        return (
            f"{cpus} CPUs, pinned: gateway on CPU 0; mock provider and load generator on CPU 1. "
            "The gateway has one core to itself; the upstream and the client share the other."
        )
    return (
        f"{cpus} CPUs shared (unpinned) by the load generator, the mock provider and the gateway: "
        "the figures understate the gateway's own ceiling, "
        "since at c=64 all three compete for the cores."
    )


def measure_startup(config: Path, workers: int, cpus: set[int] | None, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = start_gateway(config, workers, cpus)
        times.append(started.startup_s)
        started.proc.stop()
    return times


def measure(
    load: Load,
    base_url: str,
    body: bytes,
    concurrency: int,
    duration_s: float,
    warmup_s: float,
    watched: Proc,
) -> tuple[LoadResult, float]:
    """One measurement: `warmup_s` of unmeasured load, then `duration_s` of measured load on
    base_url's chat endpoint; returns the result and the CPU time `watched` (the gateway) spent
    per request meanwhile, in microseconds."""
    url = base_url + CHAT_PATH
    if warmup_s > 0:
        load.run(url, [body], concurrency, warmup_s)
    cpu_before = watched.cpu_seconds()
    result = load.run(url, [body], concurrency, duration_s)
    cpu_us = (watched.cpu_seconds() - cpu_before) * 1e6 / max(1, result.requests)
    return result, cpu_us


def progress(mode: str, concurrency: int, target: str, r: LoadResult, width: int = 7) -> str:
    """The line printed after each measurement."""
    return (
        f"{mode:<6} c={concurrency:<3} {target:<{width}} {r.ok_rps:>9,.0f} req/s  "
        f"p50 {r.p50_ms:.3f} ms  p99 {r.p99_ms:.3f} ms  errors {r.errors}"
    )


def timed_run(args: argparse.Namespace, load: Load, mock: Proc, gateway: Proc) -> dict[str, Any]:
    duration = 3.0 if args.quick else args.duration
    cells: list[Cell] = []
    for mode in args.modes:
        for concurrency in args.concurrency:
            results = {}
            cpu_us = 0.0
            for target, server in (("direct", mock), ("gateway", gateway)):
                r, cpu = measure(
                    load, server.url, BODIES[mode], concurrency, duration, args.warmup, gateway
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


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_load_arguments(parser)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--startup-runs", type=int, default=3, help="extra gateway starts timed at the end"
    )
    parser.add_argument(
        "--soak", type=int, default=0, metavar="N", help="memory soak: N requests, no timed cells"
    )
    parser.add_argument("--soak-concurrency", type=int, default=64)
    parser.add_argument(
        "--soak-warmup", type=int, default=2000, help="requests before the soak's first sample"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    check_load_arguments(parser, args)
    return args


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every timed load test takes (overhead.py and features.py)."""
    parser.add_argument(
        "--duration", type=float, default=10.0, help="seconds per measurement (default 10)"
    )
    parser.add_argument("--quick", action="store_true", help="3 s per measurement")
    parser.add_argument(
        "--warmup", type=float, default=1.0, help="seconds of unmeasured load before each one"
    )
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument(
        "--wrk-threads", type=int, default=1, help="wrk threads at c>1 (c=1 always uses 1)"
    )
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 64]
    )
    parser.add_argument("--modes", type=lambda s: s.split(","), default=["chat", "stream"])
    parser.add_argument(
        "--pin", action="store_true", help="gateway on CPU 0; mock and load generator on CPU 1"
    )


def check_load_arguments(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Resolve `--generator auto` and refuse what this machine cannot do."""
    if args.generator == "auto":
        args.generator = "wrk" if have_wrk() else "python"
    elif args.generator == "wrk" and not have_wrk():
        parser.error("wrk is not installed (apt-get install -y wrk)")
    if args.pin and (os.cpu_count() or 1) < 2:
        parser.error("--pin needs at least 2 CPUs")
    unknown = [mode for mode in args.modes if mode not in BODIES]
    if unknown:
        parser.error(f"--modes takes {', '.join(BODIES)} (got {', '.join(unknown)})")


def nagle_hint(cells: list[Cell]) -> str | None:
    """A c=1 p50 stuck near 40 ms while the direct call takes well under that is the signature of
    Nagle's algorithm meeting delayed ACKs: an accepted socket without TCP_NODELAY."""
    for cell in cells:
        if (
            cell.concurrency == 1
            and 38.0 <= cell.gateway.p50_ms <= 60.0
            and cell.direct.p50_ms < 10.0
        ):
            return (
                "note: the gateway's c=1 p50 sits near 40 ms: "
                "the signature of a Nagle/delayed-ACK stall "
                "(TCP_NODELAY missing on the gateway's accepted sockets); "
                "see docs/performance-history.md."
            )
    return None


def say_header(
    title: str, today: dt.datetime, machine: dict[str, Any], args: argparse.Namespace
) -> None:
    """The first lines of a run: what, when, on which machine, with which load generator."""
    say(f"llm-gateway {title}  {today:%Y-%m-%d %H:%M %Z}")
    say(
        f"machine: {machine['nproc']} CPUs, {machine['cpu_model']}, {machine['memory_gb']} GB, "
        f"Linux {machine['kernel']}, Python {machine['python']}"
    )
    gen_desc = (
        f"wrk ({machine['wrk']}), -t1 at c=1, -t{args.wrk_threads} otherwise"
        if args.generator == "wrk"
        else "python (asyncio + httpx, one connection per virtual user)"
    )
    say(f"load generator: {gen_desc}; gateway --workers {getattr(args, 'workers', 1)}")
    say(cpu_note(args.pin))


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    today = dt.datetime.now().astimezone()
    gw_cpus = {0} if args.pin else None
    other_cpus = {1} if args.pin else None
    load = Load(args.generator, args.wrk_threads, other_cpus)
    say_header("overhead", today, machine, args)
    pressure_before = cpu_pressure()
    say(f"before: {pressure_before}")
    report: dict[str, Any] = {
        "date": today.isoformat(timespec="seconds"),
        "machine": machine,
        "settings": {
            "generator": args.generator,
            "wrk_threads": args.wrk_threads,
            "workers": args.workers,
            "pin": args.pin,
            "warmup_s": args.warmup,
        },
        "pressure_before": pressure_before,
    }
    with tempfile.TemporaryDirectory(prefix="llm-gateway-loadtest-") as tmp:
        mock = start_mock_provider(other_cpus)
        try:
            config = write_config(Path(tmp), mock.url)
            started = start_gateway(config, args.workers, gw_cpus)
            gateway = started.proc
            try:
                check_answers(mock.url, "mock provider")
                check_answers(gateway.url, "gateway")
                rss_before = gateway.rss_bytes()
                say(
                    f"gateway pid {gateway.pid} at {gateway.url}: "
                    f"ready {started.startup_s:.2f} s after spawn "
                    f"('listening' after {started.listening_s:.2f} s), RSS {rss_before / MB:.1f} MB"
                )
                report["startup_s"] = started.startup_s
                if args.soak:
                    report["soak"] = soak_run(args, load, gateway)
                else:
                    say(
                        f"measuring ({3.0 if args.quick else args.duration:g} s each, "
                        f"{args.warmup:g} s warm-up)"
                    )
                    timed = timed_run(args, load, mock, gateway)
                    rss_after = gateway.rss_bytes()
                    report["cells"] = [c.as_dict() for c in timed["cells"]]
                    report["duration_s"] = timed["duration_s"]
                    report["rss"] = {
                        "before_mb": rss_before / MB,
                        "after_mb": rss_after / MB,
                        "growth_mb": (rss_after - rss_before) / MB,
                        "growth_pct": (rss_after - rss_before) / rss_before * 100
                        if rss_before
                        else 0.0,
                    }
            finally:
                gateway.stop()
            report["pressure_after"] = cpu_pressure()
            report["request_log"] = request_log_summary(Path(tmp) / "logs" / "requests.jsonl")
            if args.startup_runs:
                report["startup_runs_s"] = measure_startup(
                    config, args.workers, gw_cpus, args.startup_runs
                )
        finally:
            mock.stop()

    startups = [report["startup_s"], *report.get("startup_runs_s", [])]
    startup_median = statistics.median(startups)
    report["startup_median_s"] = startup_median
    log_total = sum(report["request_log"].values())
    log_desc = ", ".join(f"{key}: {count:,}" for key, count in report["request_log"].items())
    say()
    say(f"after: {report['pressure_after']}")
    say(
        f"start-up (spawn -> /readyz 200): {', '.join(f'{s:.2f}' for s in startups)} s; "
        f"median {startup_median:.2f} s"
    )
    say(f"request log: {log_total:,} records ({log_desc})")
    if args.soak:
        soak = report["soak"]
        say(
            f"soak: {soak['completed']:,} requests (chat and stream alternating) "
            f"at c={soak['concurrency']} in {soak['elapsed_s']:.1f} s "
            f"({soak['ok_rps']:,.0f} ok req/s, p50 {soak['p50_ms']:.2f} ms, "
            f"p99 {soak['p99_ms']:.2f} ms), errors {soak['errors']:,}; "
            f"gateway counted {soak['gateway_counted']:,}; "
            f"gateway CPU {soak['gateway_cpu_us_per_request']:,.0f} us/request"
        )
        say(
            f"soak RSS: ready {soak['rss_ready_mb']:.1f} MB, "
            f"start (after warm-up) {soak['start_mb']:.1f} MB, "
            f"end {soak['end_mb']:.1f} MB, peak {soak['peak_mb']:.1f} MB; "
            f"growth {soak['growth_pct']:+.1f}% "
            f"(from ready {soak['growth_from_ready_pct']:+.1f}%)"
        )
        targets = [
            {
                "name": "soak RSS growth (start -> end)",
                "target": f"< {TARGET_GROWTH_PCT:.0f} %",
                "measured": f"{soak['growth_pct']:+.1f} %",
                "value": soak["growth_pct"],
                "result": verdict(soak["growth_pct"] < TARGET_GROWTH_PCT),
            },
            {
                "name": "soak peak RSS",
                "target": f"<= {TARGET_RSS_MB:.0f} MB",
                "measured": f"{soak['peak_mb']:.1f} MB",
                "value": soak["peak_mb"],
                "result": verdict(soak["peak_mb"] <= TARGET_RSS_MB),
            },
            {
                "name": "start-up (spawn -> /readyz 200), median",
                "target": f"<= {TARGET_STARTUP_S:.0f} s",
                "measured": f"{startup_median:.2f} s",
                "value": startup_median,
                "result": verdict(startup_median <= TARGET_STARTUP_S),
            },
        ]
        if soak["errors"]:
            say(
                f"warning: {soak['errors']:,} soak requests failed "
                "(see the request log summary above)"
            )
    else:
        cells = [
            Cell(
                c["mode"],
                c["concurrency"],
                LoadResult(**c["direct"]),
                LoadResult(**c["gateway"]),
                c["gateway_cpu_us_per_request"],
            )
            for c in report["cells"]
        ]
        say(render_table(cells))
        rss = report["rss"]
        say(
            f"gateway RSS: before {rss['before_mb']:.1f} MB, after {rss['after_mb']:.1f} MB, "
            f"growth {rss['growth_mb']:+.1f} MB ({rss['growth_pct']:+.1f}%)"
        )
        if any(c.direct.errors or c.gateway.errors for c in cells):
            say(
                "warning: some requests failed; "
                "req/s counts successful responses only (request log above)"
            )
        hint = nagle_hint(cells)
        if hint:
            say(hint)
        targets = build_targets(cells, rss["after_mb"], startup_median, args.workers)
    say()
    say("targets (DESIGN.md, 'Performance targets'; a MISS is reported, not fatal):")
    say(render_targets(targets))
    say(cpu_note(args.pin))
    report["targets"] = targets
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2) + "\n")
        say(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
