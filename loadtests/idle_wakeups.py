"""How much of the added p50 at c = 1 is the machine's CPUs waking from idle.

    python loadtests/idle_wakeups.py [--rounds 3] [--duration 4] [--redis]

At c = 1 the gateway's CPU sleeps between a request's steps: it sends the request upstream and
waits, it answers and waits for the next request. On a virtual machine a CPU that goes idle may
be handed back to the hypervisor, and waking it costs far more than on bare metal. This
measures that share: the mock provider (0 ms) and one default gateway (`gateway serve --workers
1`), pinned as `features.py --pin` pins them (gateway on CPU 0; mock and wrk on CPU 1), get
wrk at c = 1 for chat and streaming chat, directly and through the gateway, once as they are
("idle") and once with a busy loop at the `SCHED_IDLE` priority on each of the two CPUs
("awake"): it runs only when nothing else wants the CPU, so the CPU never idles, and it gives
way to the gateway, the mock or wrk as soon as they have work. The two states alternate
within each round (the order reversed every other round). Prints per mode and state the
medians over the rounds of the direct p50, the gateway's p50 and the added p50 (the
gateway's minus the direct call's), and how much the awake CPUs take off the added p50.
`--redis` adds two gateways on a throwaway redis-server (CPU 1): Redis state without limits,
and with features.py's key limits (client `auto`), and prints the limits' stage (the second's
p50 minus the first's) in both states.

A large difference says a c = 1 target missed on this machine is its wake-ups, not the
gateway's work: docs/performance.md, twenty-first round. The busy loops burn both CPUs while
they run; this is a diagnosis, never a way to serve.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from features_variants import FEATURE_BODIES, LIMITS_POLICY
from harness import (
    Proc,
    cpu_affinity,
    start_gateway,
    start_mock_provider,
    start_redis,
    write_config,
)
from load_common import CHAT_PATH, HEADERS
from loadgen import run_wrk

GATEWAY_CPU = {0}
OTHERS_CPU = {1}  # the mock and wrk
MODES = ("chat", "stream")
STATES = ("idle", "awake")
DIRECT = "direct"


@contextmanager
def awake_cpus(cpus: set[int]) -> Iterator[None]:
    """A busy loop at `SCHED_IDLE` on each of `cpus` while the block runs."""
    loops = []
    try:
        for cpu in sorted(cpus):
            loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
            loops.append(loop)
            os.sched_setaffinity(loop.pid, {cpu})
            os.sched_setscheduler(loop.pid, os.SCHED_IDLE, os.sched_param(0))
        yield
    finally:
        for loop in loops:
            loop.kill()
            loop.wait()


def p50_ms(url: str, mode: str, duration_s: float) -> float:
    """wrk's p50 at c = 1 (after a 0.5 s warm-up), from CPU 1."""
    body = [FEATURE_BODIES[mode]]
    with cpu_affinity(OTHERS_CPU):  # wrk inherits it
        run_wrk(url + CHAT_PATH, body, HEADERS, 1, 0.5)
        result = run_wrk(url + CHAT_PATH, body, HEADERS, 1, duration_s)
    if result.errors:
        raise RuntimeError(f"{result.errors} errors from {url}")
    return result.p50_ms


def measure_round(
    targets: dict[str, Proc], state: str, duration_s: float
) -> dict[tuple[str, str], float]:
    """(mode, target name) -> p50 in ms, in one state; "direct" is the mock."""
    out = {}
    for mode in MODES:
        for name, proc in targets.items():
            out[mode, name] = p50_ms(proc.url, mode, duration_s)
            added = out[mode, name] - out[mode, DIRECT]
            print(
                f"  {state:<5}  {mode:<6}  {name:<12}  p50 {out[mode, name]:.3f} ms"
                + ("" if name == DIRECT else f"  added {added:+.3f} ms"),
                flush=True,
            )
    return out


def start_gateways(mock: Proc, redis_url: str | None) -> dict[str, Proc]:
    variants: dict[str, tuple[str, str | None]] = {"default": ("", None)}
    variants = {"default": ("", None)}
    if redis_url is not None:
        variants |= {"redis": ("", redis_url), "limits+redis": (LIMITS_POLICY, redis_url)}
    gateways = {}
    for name, (policy, url) in variants.items():
        directory = Path(tempfile.mkdtemp(prefix=f"idle-wakeups-{name.replace('+', '-')}-"))
        config = write_config(directory, mock.url, policy=policy, redis_url=url)
        gateways[name] = start_gateway(config, 1, cpus=GATEWAY_CPU).proc
    return gateways


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument(
        "--redis", action="store_true", help="also Redis state without and with key limits"
    )
    args = parser.parse_args()
    samples: dict[tuple[str, str, str], list[float]] = {}
    mock = start_mock_provider(OTHERS_CPU)
    redis = start_redis(OTHERS_CPU) if args.redis else None
    gateways: dict[str, Proc] = {}
    try:
        gateways = start_gateways(mock, redis.url if redis is not None else None)
        targets = {DIRECT: mock, **gateways}
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}", flush=True)
            for state in STATES if number % 2 == 0 else STATES[::-1]:
                if state == "awake":
                    with awake_cpus(GATEWAY_CPU | OTHERS_CPU):
                        figures = measure_round(targets, state, args.duration)
                else:
                    figures = measure_round(targets, state, args.duration)
                for (mode, name), value in figures.items():
                    samples.setdefault((state, mode, name), []).append(value)
    finally:
        for proc in gateways.values():
            proc.stop()
        if redis is not None:
            redis.stop()
        mock.stop()
    report(samples, list(gateways), args.rounds)
    return 0


def report(samples: dict[tuple[str, str, str], list[float]], names: list[str], rounds: int) -> None:
    """Per mode, state and gateway the medians of the p50 and the added p50 (paired within
    each round), what awake CPUs take off it, and the Redis limits stage (`limits+redis` over
    `redis`)."""
    print(f"\nmedians over {rounds} rounds (p50 at c = 1, ms):")
    for mode in MODES:
        added: dict[tuple[str, str], float] = {}
        for state in STATES:
            direct = statistics.median(samples[state, mode, DIRECT])
            print(f"  {mode:<6} {state:<5}  direct        {direct:.3f}")
            for name in names:
                pairs = zip(samples[state, mode, name], samples[state, mode, DIRECT])
                added[state, name] = statistics.median(g - d for g, d in pairs)
                through = statistics.median(samples[state, mode, name])
                print(
                    f"  {mode:<6} {state:<5}  {name:<12}  {through:.3f}  "
                    f"added {added[state, name]:+.3f}"
                )
        for name in names:
            saved = added["idle", name] - added["awake", name]
            print(f"  {mode:<6} {name:<12}  awake CPUs take {saved:.3f} ms off the added p50")
        if "limits+redis" in names:
            for state in STATES:
                pairs = zip(samples[state, mode, "limits+redis"], samples[state, mode, "redis"])
                stage = statistics.median(a - b for a, b in pairs)
                print(
                    f"  {mode:<6} {state:<5}  Redis limits stage (vs Redis without): {stage:+.3f}"
                )


if __name__ == "__main__":
    sys.exit(main())
