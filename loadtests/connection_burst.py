"""A burst of new connections to a busy worker: how long their first answers wait.

    python loadtests/connection_burst.py [--runs 5] [--duration 2] [--concurrency 64]
                                         [--pii] [--pin] [--close] [--workers 1]
                                         [--rounds 3] [--tree DIR ...]

Starts the mock provider (0 ms) and one gateway (`--workers`, default 1) per source tree
(`--tree`, default this checkout; give two for before / after: each gateway runs its tree's
`gateway` package), then, in each round and for each tree (the order alternating between
rounds), runs wrk `--runs` times back to back at `--concurrency`. wrk opens all its connections
at once and exits with its last requests in flight, so every run after the first brings a burst
of new connections to a worker still busy with the previous run's requests, and the first run
brings one to an idle worker.
`--pii` sends the ~200-token PII prompt to a key with the PII guardrail (a busier worker, as in
features.py's `pii` variant); `--pin` puts the gateway on CPU 0, the mock and wrk on CPU 1.
`--close` sends `Connection: close`: every request on a new connection (clients without
keep-alive), so the worker accepts connections all the time, not only in bursts.

Prints each run's req/s, p50, p99 and max (wrk's, to the last byte), then per tree the medians
over the rounds of: the first run's p99 and max, the later runs' p99 and max (their median per
round), and the later runs' p50, whose spread over the rounds (the largest of any tree) is the
run's noise.
Why: uvloop accepts one connection per turn of its loop, so on a busy worker the k-th connection
of a burst waited k turns (gateway/http/accept.py); docs/performance.md has the figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from features_variants import PII_BODIES, PII_POLICY, body_for
from harness import (
    GATEWAY_KEY,
    REPO,
    cpu_affinity,
    start_gateway,
    start_mock_provider,
    write_config,
)
from load_common import CHAT_PATH, spread
from loadgen import LoadResult, run_wrk


def burst_runs(url: str, body: bytes, args: argparse.Namespace) -> list[LoadResult]:
    """`args.runs` wrk runs back to back (each opens `args.concurrency` new connections)."""
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": "application/json"}
    if args.close:
        headers["Connection"] = "close"
    cpus = {1} if args.pin else None
    results = []
    with cpu_affinity(cpus):  # wrk inherits it
        for _ in range(args.runs):
            results.append(
                run_wrk(url + CHAT_PATH, [body], headers, args.concurrency, args.duration)
            )
    return results


def summary(rounds: list[list[LoadResult]]) -> dict[str, float]:
    """Medians over the rounds: the first run's p99 / max, the later runs' p99 / max / p50."""

    def later(result: list[LoadResult], field: str) -> float:
        return float(statistics.median(float(getattr(r, field)) for r in result[1:]))

    return {
        "first_p99_ms": statistics.median(r[0].p99_ms for r in rounds),
        "first_max_ms": statistics.median(r[0].max_ms for r in rounds),
        "later_p99_ms": statistics.median(later(r, "p99_ms") for r in rounds),
        "later_max_ms": statistics.median(later(r, "max_ms") for r in rounds),
        "later_p50_ms": statistics.median(later(r, "p50_ms") for r in rounds),
        "later_rps": statistics.median(later(r, "rps") for r in rounds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--duration", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pii", action="store_true")
    parser.add_argument("--pin", action="store_true")
    parser.add_argument("--close", action="store_true")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--tree", action="append", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.runs < 2:
        parser.error("--runs must be at least 2 (the first run meets an idle worker)")
    trees: list[Path] = args.tree or [REPO]
    body = PII_BODIES["chat"] if args.pii else body_for("gateway", "chat")
    mock = start_mock_provider({1} if args.pin else None)
    gateways = {}
    try:
        for number, tree in enumerate(trees):
            directory = Path(tempfile.mkdtemp(prefix=f"burst-{number}-"))
            config = write_config(directory, mock.url, policy=PII_POLICY if args.pii else "")
            env = {"PYTHONPATH": str(tree.resolve())}
            gateways[tree] = start_gateway(
                config, args.workers, cpus={0} if args.pin else None, env=env
            )
        results: dict[Path, list[list[LoadResult]]] = {tree: [] for tree in trees}
        for number in range(args.rounds):
            order = trees if number % 2 == 0 else trees[::-1]
            for tree in order:
                runs = burst_runs(gateways[tree].proc.url, body, args)
                results[tree].append(runs)
                cells = "  ".join(
                    f"{r.rps:,.0f}/s p50 {r.p50_ms:.1f} p99 {r.p99_ms:.1f} max {r.max_ms:.1f}"
                    for r in runs
                )
                print(f"round {number + 1} {tree}: {cells}", flush=True)
    finally:
        for started in gateways.values():
            started.proc.stop()
        mock.stop()
    noise = max(
        spread([statistics.median(r.p50_ms for r in runs[1:]) for runs in results[tree]])
        for tree in trees
    )
    report: dict[str, Any] = {"noise_p50": noise, "trees": {}}
    print(f"\nmedians over {args.rounds} rounds (ms; 'later' = runs 2..{args.runs}, each a burst")
    print("of new connections to a busy worker; noise = spread of the later runs' p50 over the")
    print("rounds, the largest of any tree):")
    for tree in trees:
        figures = summary(results[tree])
        report["trees"][str(tree)] = figures
        print(
            f"  {tree}: first run p99 {figures['first_p99_ms']:.1f} max "
            f"{figures['first_max_ms']:.1f} | later runs p99 {figures['later_p99_ms']:.1f} max "
            f"{figures['later_max_ms']:.1f} p50 {figures['later_p50_ms']:.1f} "
            f"({figures['later_rps']:,.0f} req/s)"
        )
    print(f"  noise (later runs' p50): {noise:.1%}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
