"""Gateway overhead: requests/s and latency direct to the mock provider vs. through the gateway.

    python loadtests/overhead.py [--duration S | --quick] [--generator wrk|python] [--pin]
                                 [--json PATH] [--soak N] [--transport auto|httpx|http1]
                                 [--proxy]

Starts `gateway mock-provider` (0 ms latency) and `gateway serve --workers 1` (default pipeline:
auth, routing, request record, metrics) on loopback, each in its own process, then for
concurrency 1 and 64 and for non-streaming and streaming (20-chunk SSE) chat completions, and the
same two through the Responses API (`POST /v1/responses`, passed through: the Responses
section; `--modes chat,stream` leaves it out), it runs the same load against the mock provider
directly and through the gateway, back to back, and
prints requests/s, p50/p99 latency (to the last byte) and the latency the gateway adds, the
gateway's RSS before and after, its start-up time, and each target from DESIGN.md with PASS or
MISS. A miss is reported, never turned into a failing exit status.

`--transport httpx` measures the same cells with the provider on the httpx upstream client
instead of the default (`auto`, which is the hand-written `http1` client for this loopback
provider), so the reference transport's cost is known; run both, interleaved, to compare.
`--proxy` puts an HTTP proxy (loadtests/forward_proxy.py, on the mock's CPUs) between the gateway
and the provider, set as the provider's `proxy`: `auto` then still picks `http1` (an `http://`
proxy); `--transport httpx` gives the reference's cost through the same proxy.

`--soak N` instead sends N requests (alternating chat and stream) at concurrency 64 through the
gateway and prints its RSS at the start, every 10 % and the end.

See docs/performance.md for the figures of the latest run and how to read them.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpus import plan_cpus
from forward_proxy import running_proxy
from harness import request_log_summary, start_gateway, start_mock_provider, write_config
from load_common import (
    MB,
    Load,
    add_load_arguments,
    check_answers,
    check_load_arguments,
    say,
    say_header,
    write_report,
)
from machine import cpu_pressure, machine_info
from otlp_sink import running_sink
from overhead_report import median_startup, say_results, targets_for
from overhead_runs import measure_startup, soak_run, timed_run


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
    parser.add_argument(
        "--transport",
        choices=("auto", "httpx", "http1"),
        default="auto",
        help="the provider's upstream client (docs/configuration.md, network options)",
    )
    parser.add_argument(
        "--proxy",
        action="store_true",
        help="the provider reached through an HTTP proxy (loadtests/forward_proxy.py)",
    )
    parser.add_argument(
        "--tracing",
        action="store_true",
        help="[tracing] on, exporting every request's spans to a local OTLP sink",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.set_defaults(modes=["chat", "stream", "responses", "responses-stream"])
    args = parser.parse_args(argv)
    check_load_arguments(parser, args)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    today = dt.datetime.now().astimezone()
    cpus = plan_cpus(args.workers, args.pin)
    args.pin = cpus.pinned  # --pin on too few cores for the workers pins nothing (cpus.py)
    args.cpu_plan = cpus.note if args.workers > 1 else None
    gw_cpus = cpus.gateway
    load = Load(args.generator, args.wrk_threads, cpus.load)
    say_header("overhead", today, machine, args)
    say(f"CPUs: {cpus.note}")
    pressure_before = cpu_pressure()
    say(f"before: {pressure_before}")
    say(f"upstream transport: {args.transport}{' through a proxy' if args.proxy else ''}")
    report: dict[str, Any] = {
        "date": today.isoformat(timespec="seconds"),
        "machine": machine,
        "settings": {
            "generator": args.generator,
            "wrk_threads": args.wrk_threads,
            "workers": args.workers,
            "pin": args.pin,
            "cpus": cpus.note,
            "warmup_s": args.warmup,
            "transport": args.transport,
            "proxy": args.proxy,
            "tracing": args.tracing,
        },
        "pressure_before": pressure_before,
    }
    with (
        tempfile.TemporaryDirectory(prefix="llm-gateway-loadtest-") as tmp,
        contextlib.ExitStack() as stack,
    ):
        mock = start_mock_provider(cpus.mock)
        try:
            sink = stack.enter_context(running_sink()) if args.tracing else None
            proxy = stack.enter_context(running_proxy(cpus.mock)) if args.proxy else None
            config = write_config(
                Path(tmp), mock.url, transport=args.transport, proxy=proxy, tracing_endpoint=sink
            )
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

    report["startup_median_s"] = median_startup(report)
    report["targets"] = targets_for(report, args)
    say_results(report, args)
    if args.json:
        write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
