"""What key limits cost per request, in CPU: the default pipeline vs. the same request with key
limits (rpm + tpm + max_concurrent that never bind) in memory and on a real Redis.

    python loadtests/limits_cost.py [--rounds 5] [--requests 2000] [--concurrency 1]
                                    [--mode chat|stream] [--profile VARIANT]
                                    [--opcodes [--top N]] [--instructions]

Runs the real app in process (ASGI calls, the in-process mock provider, no sockets but Redis's)
in one event loop (uvloop, as `gateway serve` runs): one app per variant, `default` (no policy),
`limits` (`loadtests/features_variants.py`'s LIMITS_POLICY, memory state) and `limits+redis`
(the same on a throwaway redis-server, `[state] client = "auto"`). Each round runs `--requests`
requests on every variant in turn (interleaved, so a busy neighbour on the machine hits all of
them alike), `--concurrency` at a time, and reads the process's CPU time (`time.process_time`:
this process only, not redis-server's) per request. Prints per variant the median over the
rounds, the spread (min-max), and the difference from `default` paired within each round.

On a loaded gateway throughput is roughly inverse to CPU per request, so a variant's added CPU
per request over `default` is the throughput it loses: +10 % CPU is about -9 % req/s.
`--profile VARIANT` then runs that variant once more under cProfile and prints the top entries.
`--opcodes` instead counts the interpreter opcodes of `--requests` requests per variant, by
function (`opcodes.py`: counted, so the machine's load does not move it; Redis waits up to 30 s
for a reply there, as tracing slows the loop), and prints the `--top` differences from `default`.
`--instructions` counts machine instructions under valgrind.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import io
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import opcodes
from asgi_call import post, write_inprocess_config
from features_variants import LIMITS_POLICY
from harness import GATEWAY_KEY, MODEL, UNDER_VALGRIND, instructions_counted, start_redis
from load_common import BODIES
from opcodes import OpcodeCounter

from gateway.app import GatewayApp, create_app
from gateway.config import load_config
from gateway.providers import _mock_wire

HEADERS = [
    (b"authorization", f"Bearer {GATEWAY_KEY}".encode()),
    (b"content-type", b"application/json"),
]


def write_config(
    directory: Path, policy: str, redis_url: str | None, redis_timeout_ms: int = 250
) -> Path:
    """The loadtests' gateway config (harness.write_config) on the in-process mock provider."""
    directory.mkdir(parents=True, exist_ok=True)
    state = (
        f'[state]\nbackend = "redis"\nredis_url = "{redis_url}"\ntimeout_ms = {redis_timeout_ms}\n'
        if redis_url
        else ""
    )
    keys = f"""
[[keys]]
id = "loadtest"
team = "perf"
key_sha256 = "{hashlib.sha256(GATEWAY_KEY.encode()).hexdigest()}"
"""
    head = f'[server]\nhost = "127.0.0.1"\n{state}\n'
    config = write_inprocess_config(directory, MODEL, keys, head)
    if policy:
        (directory / "policies").mkdir(exist_ok=True)
        (directory / "policies" / "default.toml").write_text(policy)
    return config


class Lifespan:
    """Drives an ASGI app's lifespan (startup on `start`, shutdown on `stop`)."""

    def __init__(self, app: GatewayApp) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.state: dict[str, Any] = {}  # what the app yields, copied into each request's scope

    async def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(
            self.app({"type": "lifespan", "state": self.state}, self.inbox.get, self.outbox.put)  # type: ignore[arg-type]
        )
        await self.inbox.put({"type": "lifespan.startup"})
        assert (await self.outbox.get())["type"] == "lifespan.startup.complete"

    async def stop(self) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.outbox.get()
        assert self.task is not None
        await self.task


@dataclass
class Variant:
    name: str
    app: GatewayApp
    lifespan: Lifespan
    cpu_us: list[float]


async def call(app: GatewayApp, body: bytes, state: dict[str, Any]) -> int:
    return await post(app, "/v1/chat/completions", body, HEADERS, state)


async def batch(variant: Variant, body: bytes, requests: int, concurrency: int) -> None:
    # The in-process mock's provider, as each request sends to it, is cached by value, and every
    # variant's is equal: the variants after the first would find the first's entry and compare
    # the two configs whole on each request (~120 bytecodes; a served gateway, with one config
    # and a real upstream, never does). Cleared, the batch's first request caches its own.
    _mock_wire.cache_clear()
    left = requests

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            status = await call(variant.app, body, variant.lifespan.state)
            assert status == 200, status

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def run(args: argparse.Namespace) -> None:
    server = start_redis()
    root = Path(tempfile.mkdtemp(prefix="limits-cost-"))
    body = BODIES[args.mode]
    specs = [("default", "", None), ("limits", LIMITS_POLICY, None)]
    specs.append(("limits+redis", LIMITS_POLICY, server.url))
    if args.redis_baseline:
        specs.append(("redis", "", server.url))
    variants = []
    try:
        for name, policy, redis_url in specs:
            if args.variants and name not in args.variants.split(",") and name != "default":
                continue
            if args.only and name != args.only:
                continue
            # Traced (--opcodes) a turn of the loop runs ~30x slower: Redis must wait longer.
            timeout_ms = 30_000 if args.opcodes else 250
            config = write_config(root / name.replace("+", "-"), policy, redis_url, timeout_ms)
            app = create_app(load_config(config), watch_config=False)
            variant = Variant(name, app, Lifespan(app), [])
            await variant.lifespan.start()
            await batch(variant, body, args.warmup, args.concurrency)
            variants.append(variant)
        if args.only:  # one variant, no report: for an instruction count of the whole run
            await batch(variants[0], body, args.requests, args.concurrency)
            return
        if args.opcodes:
            counted: dict[str, dict[str, float]] = {}
            for variant in variants:
                await asyncio.sleep(0.05)  # the previous variant's background writes end
                with OpcodeCounter() as counter:
                    await batch(variant, body, args.requests, args.concurrency)
                    await asyncio.sleep(0.05)  # and this one's, counted with it
                counted[variant.name] = {f: n / args.requests for f, n in counter.counts.items()}
            opcodes.report(counted, args.top)
            return
        for _ in range(args.rounds):
            for variant in variants:
                await asyncio.sleep(0.05)  # the previous variant's background writes end
                started = time.process_time()
                await batch(variant, body, args.requests, args.concurrency)
                variant.cpu_us.append((time.process_time() - started) / args.requests * 1e6)
        report(variants, args)
        if args.profile:
            await profile(next(v for v in variants if v.name == args.profile), body, args)
    finally:
        for variant in variants:
            await variant.lifespan.stop()
        server.stop()


def report(variants: Sequence[Variant], args: argparse.Namespace) -> None:
    base = variants[0].cpu_us
    print(
        f"CPU per request (time.process_time, this process), {args.mode}, c={args.concurrency}, "
        f"{args.rounds} interleaved rounds x {args.requests} requests:"
    )
    for variant in variants:
        cpu = variant.cpu_us
        line = (
            f"  {variant.name:<14} median {statistics.median(cpu):6.1f} us "
            f"(spread {min(cpu):.1f}-{max(cpu):.1f})"
        )
        if variant is not variants[0]:
            added = [v - b for v, b in zip(cpu, base, strict=True)]
            median_added = statistics.median(added)
            ratio = median_added / statistics.median(base) * 100
            line += (
                f"   added {median_added:+6.1f} us ({ratio:+.1f} %, paired spread "
                f"{min(added):+.1f} to {max(added):+.1f})"
            )
        print(line, flush=True)


async def profile(variant: Variant, body: bytes, args: argparse.Namespace) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    await batch(variant, body, args.requests, args.concurrency)
    profiler.disable()
    if args.dump:
        profiler.dump_stats(args.dump)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(args.sort).print_stats(args.top)
    print(f"cProfile of {variant.name}, {args.requests} requests, sorted by {args.sort}:")
    print(out.getvalue())


def instructions(variant: str, requests: int, args: argparse.Namespace) -> int:
    """Instructions (valgrind's `I refs`) of one `--only` run: machine load does not move it."""
    command = [
        *UNDER_VALGRIND,
        __file__,
        "--only",
        variant,
        "--requests",
        str(requests),
        "--warmup",
        str(args.warmup),
        "--mode",
        args.mode,
        "--concurrency",
        str(args.concurrency),
    ]
    return instructions_counted(
        subprocess.run(command, capture_output=True, text=True, check=True).stderr
    )


def count_instructions(args: argparse.Namespace) -> None:
    """Instructions per request of each variant: the difference of two runs that differ only in
    their number of requests (start-up and warm-up cancel out)."""
    names = ["default", "limits", "limits+redis"]
    if args.variants:
        names = ["default", *args.variants.split(",")]
    few, many = args.requests // 4, args.requests
    per_request = {}
    for name in names:
        per_request[name] = (instructions(name, many, args) - instructions(name, few, args)) / (
            many - few
        )
    print(
        f"instructions per request (valgrind, {few} vs {many} requests), {args.mode}, "
        f"c={args.concurrency}:"
    )
    base = per_request["default"]
    for name, count in per_request.items():
        added = (
            ""
            if name == "default"
            else f"   added {count - base:+,.0f} ({(count / base - 1) * 100:+.1f} %)"
        )
        print(f"  {name:<14} {count:,.0f}{added}", flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000, help="per variant and round")
    parser.add_argument("--warmup", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--mode", choices=("chat", "stream"), default="chat")
    parser.add_argument("--redis-baseline", action="store_true", help="also Redis, no limits")
    parser.add_argument("--variants", help="run only these (comma-separated) beside default")
    parser.add_argument("--only", help="set up this variant alone and run --requests once")
    parser.add_argument("--profile", help="profile this variant after the rounds")
    parser.add_argument("--sort", default="tottime", help="cProfile sort key")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--dump", help="write the profile's stats to this file (pstats)")
    parser.add_argument(
        "--opcodes",
        action="store_true",
        help="count interpreter opcodes per request by function instead (opcodes.py)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="count instructions per request under valgrind instead (slow, but load-proof)",
    )
    args = parser.parse_args(argv)
    if args.instructions:
        count_instructions(args)
        return 0
    try:
        import uvloop
    except ImportError:
        asyncio.run(run(args))
    else:
        uvloop.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
