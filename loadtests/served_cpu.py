"""CPU per served request, gateway beside gateway: source trees and policies side by side.

    python loadtests/served_cpu.py --gateway NAME=TREE:VARIANT [--gateway ...]
                                   [--rounds 5] [--duration 4] [--mode chat|stream]
                                   [--concurrency 64]

Starts the mock provider (0 ms) and one `gateway serve --workers 1` per `--gateway`: NAME is a
label, TREE a source tree (its `gateway` package is the one run: a copy of this checkout with one
change is how a step's cost is isolated), VARIANT one of `default`, `limits`, `limits+redis`
(the limits on a throwaway redis-server, client `auto`), `limits+redis-py` (the same through
redis-py), `pii` (features_variants.py's policies; `pii` gets the PII prompt) or `keyed` (the
default with a provider key configured, as in production: the answers are then scrubbed for
it, and a stream watched for it written a few characters per event). The first
`--gateway` is the baseline. The gateways run on CPU 0, the mock, wrk and redis-server on CPU
1, so each gateway has a core of its own and its CPU time is its own work. In each round, every
gateway in turn (the order reversed every other round) gets a 0.5 s wrk warm-up and then
`--duration` s of wrk at `--concurrency` (default 64); the gateway's CPU time (user + system,
from /proc) over that run, divided by the requests wrk counted, is its CPU per request (and
redis-server's, for a gateway on Redis). At c = 1 the gateway waits between requests, so its
CPU per request also holds the event loop's wake-ups: compare c = 1 figures with each other,
not with c = 64's.

At c = 64 one worker is CPU-bound, so its throughput is about the inverse of its CPU per request,
and a step's CPU is what it costs in req/s; CPU per request moves less with the machine's load
than req/s does. Prints each run, then per gateway the medians over the rounds of req/s and CPU
per request, and the median of the round-by-round differences with the baseline. Run the same
tree twice (two NAMEs) to see the noise of a difference on this machine (docs/performance.md,
tenth round: 4-5 us on the 2-vCPU VM).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from features_variants import LIMITS_POLICY, PII_POLICY, body_for
from harness import (
    GATEWAY_KEY,
    PROVIDER_KEY,
    PROVIDER_KEY_ENV,
    GatewayStart,
    cpu_affinity,
    process_cpu_seconds,
    start_gateway,
    start_mock_provider,
    start_redis,
    write_config,
)
from load_common import CHAT_PATH, spread
from loadgen import run_wrk

POLICIES = {
    "default": "",
    "limits": LIMITS_POLICY,
    "limits+redis": LIMITS_POLICY,
    "limits+redis-py": LIMITS_POLICY,
    "pii": PII_POLICY,
    "keyed": "",
}
# The variant whose providers have a key (`api_key_env`: harness.PROVIDER_KEY).
KEYED = "keyed"
# The Redis client of each variant on Redis (`[state] client`).
REDIS_CLIENTS = {"limits+redis": "auto", "limits+redis-py": "redis-py"}
GATEWAY_CPU = {0}
OTHERS_CPU = {1}  # the mock, wrk and redis-server


@dataclass
class Served:
    name: str
    tree: Path
    variant: str
    started: GatewayStart | None = None
    rps: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)
    redis_us: list[float] = field(default_factory=list)  # redis-server's, for Redis variants


def parse_gateway(text: str) -> Served:
    name, _, rest = text.partition("=")
    tree, _, variant = rest.rpartition(":")
    if not name or not tree or variant not in POLICIES:
        raise argparse.ArgumentTypeError(f"NAME=TREE:VARIANT, VARIANT in {sorted(POLICIES)}")
    return Served(name, Path(tree).resolve(), variant)


def measure(
    served: Served, mode: str, duration_s: float, connections: int, redis_pid: int | None
) -> None:
    assert served.started is not None
    url, pid = served.started.proc.url + CHAT_PATH, served.started.proc.pid
    body = body_for("pii" if served.variant == "pii" else "gateway", mode)
    headers = {"Authorization": f"Bearer {GATEWAY_KEY}", "Content-Type": "application/json"}
    with cpu_affinity(OTHERS_CPU):  # wrk inherits it
        run_wrk(url, [body], headers, connections, 0.5)
        before = process_cpu_seconds(pid)
        redis_before = process_cpu_seconds(redis_pid) if redis_pid else 0.0
        result = run_wrk(url, [body], headers, connections, duration_s)
        used = process_cpu_seconds(pid) - before
        redis_used = process_cpu_seconds(redis_pid) - redis_before if redis_pid else 0.0
    requests = result.ok_rps * duration_s or float("nan")
    served.rps.append(result.ok_rps)
    served.cpu_us.append(used / requests * 1e6)
    line = f"  {served.name:<16} {result.ok_rps:8,.0f} req/s  CPU {served.cpu_us[-1]:6.1f} us/req"
    if redis_pid:
        served.redis_us.append(redis_used / requests * 1e6)
        line += f" (redis-server {served.redis_us[-1]:.1f})"
    print(f"{line}  p50 {result.p50_ms:.2f} ms  errors {result.errors}", flush=True)


def report(gateways: list[Served]) -> None:
    base = gateways[0]
    print(f"\nmedians over {len(base.rps)} rounds (differences paired round by round):")
    for served in gateways:
        line = (
            f"  {served.name:<16} {statistics.median(served.rps):8,.0f} req/s "
            f"(spread {spread(served.rps):.1%})  CPU {statistics.median(served.cpu_us):6.1f} us/req"
        )
        if served.redis_us:
            line += f" (redis-server {statistics.median(served.redis_us):.1f})"
        if served is not base:
            ratio = [a / b - 1 for a, b in zip(served.rps, base.rps, strict=True)]
            added = [a - b for a, b in zip(served.cpu_us, base.cpu_us, strict=True)]
            line += (
                f"  vs {base.name}: req/s {statistics.median(ratio):+.1%}, CPU "
                f"{statistics.median(added):+.1f} us "
                f"(rounds {min(added):+.1f} to {max(added):+.1f})"
            )
        print(line)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gateway", action="append", type=parse_gateway, required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=4.0)
    parser.add_argument("--mode", choices=("chat", "stream"), default="chat")
    parser.add_argument("--concurrency", type=int, default=64, help="wrk's connections")
    args = parser.parse_args(argv)
    gateways: list[Served] = args.gateway
    mock = start_mock_provider(OTHERS_CPU)
    redis: Any = None
    try:
        if any(served.variant in REDIS_CLIENTS for served in gateways):
            redis = start_redis(OTHERS_CPU)
        for number, served in enumerate(gateways):
            directory = Path(tempfile.mkdtemp(prefix=f"served-cpu-{number}-"))
            redis_url = redis.url if served.variant in REDIS_CLIENTS else None
            config = write_config(
                directory,
                mock.url,
                policy=POLICIES[served.variant],
                redis_url=redis_url,
                redis_client=REDIS_CLIENTS.get(served.variant, "auto"),
                provider_key_env=PROVIDER_KEY_ENV if served.variant == KEYED else None,
            )
            env = {"PYTHONPATH": str(served.tree), PROVIDER_KEY_ENV: PROVIDER_KEY}
            served.started = start_gateway(config, 1, cpus=GATEWAY_CPU, env=env)
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}", flush=True)
            for served in gateways if number % 2 == 0 else gateways[::-1]:
                redis_pid = redis.process.pid if served.variant in REDIS_CLIENTS else None
                measure(served, args.mode, args.duration, args.concurrency, redis_pid)
    finally:
        for served in gateways:
            if served.started is not None:
                served.started.proc.stop()
        mock.stop()
        if redis is not None:
            redis.stop()
    report(gateways)


if __name__ == "__main__":
    main()
