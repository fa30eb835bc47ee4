"""Does `--workers 2` scale? One worker vs two, interleaved in one run (issue 22: ">= 1.8x at
N = 2 when the machine has the cores").

    python loadtests/workers.py [--rounds 3] [--duration S | --quick] [--pin] [--json PATH]

Starts the mock provider (0 ms) and two gateways on the default pipeline, one with
`--workers 1` and one with `--workers 2`, and measures chat at c = 64 (`--concurrency`) on the
mock called directly, then on each gateway, in every round (the gateways' order alternating
between rounds). It prints:
- the cores: how many the machine has, which this run may use, and which each process was
  allowed (os.sched_getaffinity: the mock, each gateway and each of its workers, and wrk, which
  inherits the load generator's); with `--pin` both gateways get one core per worker of the
  2-worker gateway, the mock and wrk the cores left (loadtests/cpus.py), and nothing is pinned
  when there are too few;
- each measurement's req/s, p50 / p99 and the target's CPU time per request (what the workers'
  shared metrics files and the second process cost shows there, whatever the machine's load),
  and the CPU each process used meanwhile, as cores
  (CPU seconds / wall seconds): the gateway, the mock, the load generator (wrk's CPU time, as a
  child of this process);
- how the 2-worker gateway's load fell on its workers: requests per worker pid (each worker's own
  counter file in the Prometheus multiprocess directory) and the connections each held;
- the medians over the rounds, the ratio 2 workers / 1 worker (and each round's), and the noise:
  the spread of the direct call's req/s over the rounds ((max - min) / median).

`--multiprocess-metrics` adds a third gateway: one worker with its metrics kept in the
Prometheus multiprocess files as `--workers N` keeps them (PROMETHEUS_MULTIPROC_DIR set), so its
CPU per request beside the plain worker's is what that mode costs each request.

The target is meaningful only when the gateway's two workers, the mock and wrk each have a core:
on fewer than 4 usable cores the ratio is printed but not judged.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpus import allowed_cpus, available_cpus, cpu_list, plan_cpus
from harness import Proc, start_gateway, start_mock_provider, write_config
from load_common import (
    BODIES,
    Load,
    add_load_arguments,
    check_answers,
    check_load_arguments,
    say,
    write_report,
)
from machine import cpu_pressure, machine_info
from worker_spread import affinity_per_pid
from workers_measure import Measurement, measure_target

TARGET_RATIO = 1.8
ONE_MP = "1 worker mp"  # metrics in the multiprocess files
CORES_NEEDED = 4  # two gateway workers, the mock provider, wrk: one core each


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_load_arguments(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--multiprocess-metrics",
        action="store_true",
        help="also a 1-worker gateway with the metrics in files, as --workers N keeps them",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.set_defaults(concurrency=[64], modes=["chat"])
    args = parser.parse_args(argv)
    check_load_arguments(parser, args)
    return args


def say_cores(plan_note: str, procs: dict[str, Proc], load_cpus: set[int] | None) -> None:
    usable = available_cpus()
    say(f"cores: {len(usable)} usable (CPUs {cpu_list(usable)}); {plan_note}")
    for name, proc in procs.items():
        workers = affinity_per_pid(proc)
        each = "".join(
            f"; worker pid {pid}: {cpus}" for pid, cpus in workers.items() if pid != proc.pid
        )
        say(f"  {name} (pid {proc.pid}) allowed CPUs {allowed_cpus(proc.pid)}{each}")
    wrk = cpu_list(load_cpus) if load_cpus else cpu_list(usable)
    say(f"  load generator (inherits this process's affinity) allowed CPUs {wrk}")
    if len(usable) < CORES_NEEDED:
        say(
            f"  too few cores for the target: 2 gateway workers + wrk + the mock provider need "
            f"{CORES_NEEDED}, this run has {len(usable)}; the ratio below measures how the "
            "processes share these cores, not how the gateway scales"
        )


def summarise(rounds: list[list[Measurement]]) -> dict[str, Any]:
    by_target: dict[str, list[Measurement]] = {}
    for measurements in rounds:
        for m in measurements:
            by_target.setdefault(m.target, []).append(m)
    medians = {
        target: {
            "ok_rps": statistics.median(m.result.ok_rps for m in ms),
            "p50_ms": statistics.median(m.result.p50_ms for m in ms),
            "p99_ms": statistics.median(m.result.p99_ms for m in ms),
            "cpu_us_per_request": statistics.median(m.cpu_us_per_request for m in ms),
        }
        for target, ms in by_target.items()
    }
    direct = [m.result.ok_rps for m in by_target["direct"]]
    paired = [
        two.result.ok_rps / one.result.ok_rps
        for one, two in zip(by_target["1 worker"], by_target["2 workers"], strict=True)
        if one.result.ok_rps
    ]
    one_rps = medians["1 worker"]["ok_rps"]
    return {
        "medians": medians,
        "ratio": medians["2 workers"]["ok_rps"] / one_rps if one_rps else 0.0,
        "ratios_per_round": paired,
        "noise": (max(direct) - min(direct)) / statistics.median(direct) if direct else 0.0,
        "imbalance": [m.spread.imbalance() for m in by_target["2 workers"] if m.spread],
    }


def say_summary(summary: dict[str, Any], cores: int) -> None:
    say()
    for target, m in summary["medians"].items():
        say(
            f"{target:<11} median {m['ok_rps']:>8,.0f} req/s  p50 {m['p50_ms']:.2f} ms  "
            f"p99 {m['p99_ms']:.2f} ms  CPU/req {m['cpu_us_per_request']:.0f} us"
        )
    rounds = ", ".join(f"{r:.2f}x" for r in summary["ratios_per_round"])
    say(
        f"2 workers / 1 worker: {summary['ratio']:.2f}x (rounds: {rounds}); noise (direct "
        f"req/s spread): {summary['noise']:.0%}"
    )
    say(
        "busiest worker's share of the 2-worker gateway's requests over an even share: "
        + ", ".join(f"{x:.2f}" for x in summary["imbalance"])
        + " (1.00 = even, 2.00 = one worker served everything)"
    )
    if cores < CORES_NEEDED:
        say(
            f">= {TARGET_RATIO}x at N = 2: NOT JUDGED ({cores} usable cores, the target needs "
            f"{CORES_NEEDED})"
        )
    else:
        ok = summary["ratio"] >= TARGET_RATIO
        say(f">= {TARGET_RATIO}x at N = 2: {'PASS' if ok else 'MISS'} ({summary['ratio']:.2f}x)")


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    today = dt.datetime.now().astimezone()
    machine = machine_info()
    plan = plan_cpus(2, args.pin)
    load = Load(args.generator, args.wrk_threads, plan.load)
    duration = 3.0 if args.quick else args.duration
    concurrency = args.concurrency[0]
    say(f"llm-gateway workers  {today:%Y-%m-%d %H:%M %Z}")
    say(
        f"machine: {machine['nproc']} CPUs, {machine['cpu_model']}; {args.generator} "
        f"-t{args.wrk_threads} c={concurrency}, chat, {duration:g} s per measurement "
        f"after {args.warmup:g} s warm-up, {args.rounds} rounds"
    )
    say(f"before: {cpu_pressure()}")
    rounds: list[list[Measurement]] = []
    with tempfile.TemporaryDirectory(prefix="llm-gateway-workers-") as tmp:
        metrics_dir = Path(tmp) / "metrics"
        mock = start_mock_provider(plan.mock)
        gateways: dict[str, Proc] = {}
        try:
            config = write_config(Path(tmp), mock.url)
            gateways["1 worker"] = start_gateway(config, 1, plan.gateway).proc
            env = {"PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
            gateways["2 workers"] = start_gateway(config, 2, plan.gateway, env).proc
            if args.multiprocess_metrics:
                (Path(tmp) / "metrics-1").mkdir()  # the CLI makes it only for N > 1
                env = {"PROMETHEUS_MULTIPROC_DIR": str(Path(tmp) / "metrics-1")}
                gateways[ONE_MP] = start_gateway(config, 1, plan.gateway, env).proc
            for name, gateway in gateways.items():
                check_answers(gateway.url, name)
            say_cores(plan.note, {"mock provider": mock, **gateways}, plan.load)
            for number in range(args.rounds):
                order = list(gateways)[:: 1 if number % 2 == 0 else -1]
                say(f"round {number + 1}:")
                measurements = []
                for target in ["direct", *order]:
                    server = mock if target == "direct" else gateways[target]
                    m = measure_target(
                        load,
                        target,
                        server,
                        mock,
                        BODIES["chat"],
                        concurrency,
                        duration,
                        args.warmup,
                        metrics_dir if target == "2 workers" else None,
                    )
                    say(m.describe())
                    measurements.append(m)
                rounds.append(measurements)
        finally:
            for gateway in gateways.values():
                gateway.stop()
            mock.stop()
    summary = summarise(rounds)
    say_summary(summary, len(available_cpus()))
    say(f"after: {cpu_pressure()}")
    if args.json:
        report = {
            "date": today.isoformat(timespec="seconds"),
            "machine": machine,
            "cpus": plan.note,
            "rounds": [[m.as_dict() for m in ms] for ms in rounds],
            "summary": summary,
        }
        write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
