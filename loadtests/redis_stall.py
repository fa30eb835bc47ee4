"""What a stalled Redis costs the requests under load (issue 17: "Redis SIGSTOP for 4 s under
load -> p99 of requests during the stall <= one timeout + 50 ms"). A load tool, not a test:
tests/e2e/test_redis_stall.py checks the bound on what the gateway measured for the state call;
this reports the whole requests on a machine as quiet as you can give it.

    python loadtests/redis_stall.py [--rounds 3] [--stall 4] [--timeout-ms 250]
        [--concurrency 24] [--clients resp,redis-py] [--password PW] [--generator auto]
        [--json PATH]

Per round and client: a fresh redis-server (with `--password`, behind `requirepass`), the mock
provider (0 ms) and one gateway (`[state] backend = "redis"`, `fail_open`, that client and
`timeout_ms`, a key policy with rpm, tpm and a concurrency cap). A closed-loop load (wrk, else
the Python generator) runs 1.5 s, then Redis is stopped (SIGSTOP) for `--stall` seconds, continued
(SIGCONT), and the load runs 1.5 s more. From the gateway's request log, over the requests in
flight at any moment of the stall (arrived before it and still waiting included), it reports:
the p50 / p99 / max of whole-request latency (the record's `latency_ms`: arrival to last byte,
as the gateway measured it), the p99 / max of the state call (`limits_ms`), how many requests
waited for Redis at all (`limits_ms` >= half a timeout: only those in flight when it stopped),
and the statuses. Then the medians over the rounds, each with its spread (min-max), against
`timeout + 50 ms`: the p99 (the issue's bound; with thousands of requests answered at once
during the stall it is theirs) and the max (the requests that waited for Redis). The clients
alternate their order between rounds. The machine's load is printed before and after each
round: on a shared machine the tail is the other jobs' too.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import start_gateway, start_mock_provider, start_redis, write_config
from load_common import BODIES, CHAT_PATH, Load, check_answers, say, write_report
from loadgen import have_wrk
from machine import cpu_pressure

POLICY = "[limits]\nrpm = 100000000\ntpm = 100000000000\nmax_concurrent = 100000\n"
WARM_S = 1.5
AFTER_S = 1.5
FIGURES = ("latency_p50", "latency_p99", "latency_max", "limits_p99", "limits_max", "waiters")


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def run_round(client: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """One stall under load through `client`; the figures of the requests during it."""
    server = start_redis()
    upstream = start_mock_provider()
    gateway = None
    try:
        url = server.url
        if args.password:
            with redis.Redis.from_url(url) as admin:
                admin.config_set("requirepass", args.password)
            url = f"redis://:{args.password}@127.0.0.1:{server.port}/0"
        config = write_config(workdir, upstream.url, policy=POLICY, redis_url=url)
        text = config.read_text().replace('client = "auto"\n', f'client = "{client}"\n', 1)
        config.write_text(text.replace("[state]\n", f"[state]\ntimeout_ms = {args.timeout_ms}\n"))
        gateway = start_gateway(config).proc
        check_answers(gateway.url, client)
        marks: dict[str, float] = {}
        began = time.monotonic()
        stall_s: float = args.stall
        duration_s = WARM_S + stall_s + AFTER_S

        def tick() -> bool:
            """SIGSTOP after the warm-up, SIGCONT after the stall; True (stop) once done."""
            elapsed = time.monotonic() - began
            if "stopped" not in marks and elapsed >= WARM_S:
                marks["stopped"] = time.time()
                os.kill(server.process.pid, signal.SIGSTOP)
            elif "resumed" not in marks and elapsed >= WARM_S + stall_s:
                os.kill(server.process.pid, signal.SIGCONT)
                marks["resumed"] = time.time()
            return elapsed >= duration_s

        pressure_before = cpu_pressure()
        load = Load(args.generator, 1, None)
        load.run(
            gateway.url + CHAT_PATH, [BODIES["chat"]], args.concurrency, duration_s, None, tick
        )
    finally:
        if server.process is not None:
            os.kill(server.process.pid, signal.SIGCONT)
        if gateway is not None:
            gateway.stop()  # writes every record
        upstream.stop()
        server.stop()
    records = [
        json.loads(line) for line in (workdir / "logs" / "requests.jsonl").read_text().splitlines()
    ]
    stopped, resumed = marks["stopped"], marks["resumed"]
    during = [
        r for r in records if r["ts"] <= resumed and r["ts"] + r["latency_ms"] / 1000 >= stopped
    ]
    latencies = sorted(float(r["latency_ms"]) for r in during)
    waits = sorted(float(r["limits_ms"]) for r in during)
    statuses: dict[str, int] = {}
    for record in during:
        statuses[str(record["status"])] = statuses.get(str(record["status"]), 0) + 1
    return {
        "client": client,
        "requests": len(during),
        "statuses": statuses,
        "latency_p50": _percentile(latencies, 0.5),
        "latency_p99": _percentile(latencies, 0.99),
        "latency_max": latencies[-1],
        "limits_p99": _percentile(waits, 0.99),
        "limits_max": waits[-1],
        "waiters": sum(1 for wait in waits if wait >= args.timeout_ms / 2),
        "stall_s": round(resumed - stopped, 3),
        "pressure_before": pressure_before,
        "pressure_after": cpu_pressure(),
    }


def summarize(rounds: list[dict[str, Any]], client: str) -> dict[str, Any]:
    """Per figure: the median over the rounds and their min and max."""
    mine = [r for r in rounds if r["client"] == client]
    return {
        name: {
            "median": statistics.median(r[name] for r in mine),
            "min": min(r[name] for r in mine),
            "max": max(r[name] for r in mine),
        }
        for name in FIGURES
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--stall", type=float, default=4.0, help="seconds Redis is stopped")
    parser.add_argument("--timeout-ms", type=int, default=250)
    parser.add_argument("--concurrency", type=int, default=24)
    parser.add_argument("--clients", type=lambda s: s.split(","), default=["resp", "redis-py"])
    parser.add_argument("--password", default="s3cret", help="requirepass ('' for none)")
    parser.add_argument("--generator", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args(argv)
    if args.generator == "auto":
        args.generator = "wrk" if have_wrk() else "python"
    bound = args.timeout_ms + 50
    say(
        f"Redis stall: SIGSTOP {args.stall:g} s under c={args.concurrency} ({args.generator}), "
        f"timeout_ms {args.timeout_ms}, password {'yes' if args.password else 'no'}; "
        f"bound: p99 <= {bound} ms"
    )
    rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="redis-stall-") as tmp:
        for n in range(args.rounds):
            order = args.clients if n % 2 == 0 else list(reversed(args.clients))
            for client in order:
                result = run_round(client, args, Path(tmp) / f"{n}-{client}")
                rounds.append(result)
                say(
                    f"round {n + 1} {client:<8} {result['requests']:>5} requests during the "
                    f"stall {result['statuses']}, latency p50 {result['latency_p50']:.1f} "
                    f"p99 {result['latency_p99']:.1f} max {result['latency_max']:.1f} ms; "
                    f"state call p99 {result['limits_p99']:.1f} max {result['limits_max']:.1f} "
                    f"ms, {result['waiters']} waited  ({result['pressure_before']})"
                )
    summary = {client: summarize(rounds, client) for client in args.clients}
    say(f"\nmedians of {args.rounds} rounds [min-max], bound {bound} ms:")
    for client, figures in summary.items():
        cells = [
            f"{name} {f['median']:.1f} [{f['min']:.1f}-{f['max']:.1f}]"
            for name, f in figures.items()
        ]
        p99 = "PASS" if figures["latency_p99"]["median"] <= bound else "MISS"
        # Stricter than the issue: the slowest request too (the waiters, fewer than 1 %).
        slowest = "PASS" if figures["latency_max"]["median"] <= bound else "MISS"
        say(f"{client:<8} {', '.join(cells)}  p99 {p99}, max {slowest}")
    if args.json is not None:
        write_report(args.json, {"bound_ms": bound, "rounds": rounds, "summary": summary})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
