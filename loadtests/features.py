"""Feature costs under load: the exact cache, limits on Redis, and routing over 2 deployments.

    python loadtests/features.py [--duration S | --quick] [--rounds N]
                                 [--sections cache,redis,routing,pii] [--strategy least_busy]
                                 [--generator wrk|python] [--pin] [--provider-key]
                                 [--json PATH]

Starts one `gateway mock-provider` (0 ms), a throwaway `redis-server` on loopback (no
persistence; `tests/redis_server.py`) and one `gateway serve --workers 1` per variant below, each
with its own config, all at once; then, for chat and streaming chat at concurrency 1 and 64, runs
the same closed-loop load (loadgen.py, as overhead.py does) against the mock directly and against
each variant, back to back:

    gateway        the default pipeline (auth, routing, request record, metrics), memory state,
                   one deployment: the reference every feature is compared with
    cache          + a policy with `[cache] mode = "exact"`; the same request every time, so every
                   request but the first is a hit (`x-gateway-cache: hit`), no upstream call
    limits         + a policy with `[limits] rpm, tpm, max_concurrent` (too high to ever refuse),
                   memory state
    limits+redis   the same policy, `[state] backend = "redis"` (client "auto": the RESP client)
    limits+redis-py  the same through redis-py (`[state] client = "redis-py"`), side by side
    redis          no policy, `[state] backend = "redis"` (what Redis costs without limits)
    2x <strategy>  the model with 2 deployments (two provider entries for the same mock) and
                   `strategy = "<strategy>"` (default least_busy)
    pii-off        no policy, but the bodies carry a ~200-token prompt with PII (an email, a
                   phone number, an IP address, dates: loadtests/guardrails.py's)
    pii            the same prompt, a policy with one PII guardrail (patterns engine, redact)

The mock needs no key, so no variant's provider has one, unless `--provider-key`: then every
variant's has (`api_key_env`), as in production, and every answer is scrubbed for it
(docs/operations.md, "Secrets").

It prints each measurement as it goes, then per section a table of the variant beside its
baseline and the direct call (medians over `--rounds`), the checks (PASS / MISS, never a failing
exit status), and what the gateways counted (cache hits, refusals, state errors, Redis commands
and redis-server CPU per request, the share of each deployment) as evidence that the feature was
really on. Last, issue 22's table: added p50 at c = 1 and chat req/s at c = 64 per variant with
PASS / MISS per target and the run's noise (loadtests/features_summary.py). Figures:
docs/performance.md (current), docs/performance-history.md ("Feature costs").
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from features_report import build_checks, cells_as_json, say_results
from features_rounds import figure, run_rounds
from features_targets import (
    Counters,
    Target,
    check_targets,
    redis_round_trip_us,
    start_variant,
)
from features_variants import CACHE_POLICY, LIMITS_POLICY, comparisons_for, variants_for
from harness import request_log_summary, start_mock_provider, start_redis
from load_common import (
    MB,
    Load,
    add_load_arguments,
    check_load_arguments,
    say,
    say_header,
    write_report,
)
from machine import cpu_pressure, machine_info


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_load_arguments(parser)
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every cell this many times, interleaved; tables show the medians",
    )
    parser.add_argument(
        "--sections",
        type=lambda s: s.split(","),
        default=["cache", "redis", "routing", "pii"],
        help="which comparisons: cache, redis, routing, pii (default all)",
    )
    parser.add_argument(
        "--strategy",
        type=lambda s: s.split(","),
        default=["least_busy"],
        help="routing strategies of the 2-deployment model (comma list; default least_busy)",
    )
    parser.add_argument(
        "--provider-key",
        action="store_true",
        help="give every variant's provider a key, as a production config has (the gateway "
        "then scrubs every answer for it; the mock ignores it)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    check_load_arguments(parser, args)
    unknown = [s for s in args.sections if s not in ("cache", "redis", "routing", "pii")]
    if unknown:
        parser.error(f"--sections takes cache, redis, routing, pii (got {', '.join(unknown)})")
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    machine = machine_info()
    today = dt.datetime.now().astimezone()
    gw_cpus = {0} if args.pin else None
    other_cpus = {1} if args.pin else None
    load = Load(args.generator, args.wrk_threads, other_cpus)
    say_header("feature costs", today, machine, args)
    say(f"provider key: {'configured (--provider-key)' if args.provider_key else 'none'}")
    pressure_before = cpu_pressure()
    say(f"before: {pressure_before}")
    variants = variants_for(args.sections, args.strategy)
    comparisons = comparisons_for(args.sections, args.strategy)
    report: dict[str, Any] = {
        "date": today.isoformat(timespec="seconds"),
        "machine": machine,
        "settings": {
            "generator": args.generator,
            "wrk_threads": args.wrk_threads,
            "pin": args.pin,
            "warmup_s": args.warmup,
            "duration_s": 3.0 if args.quick else args.duration,
            "rounds": args.rounds,
            "provider_key": args.provider_key,
            "policies": {"cache": CACHE_POLICY, "limits": LIMITS_POLICY},
        },
        "variants": [asdict(v) for v in variants],
        "pressure_before": pressure_before,
    }
    redis_server = None
    gateways: list[Target] = []
    with tempfile.TemporaryDirectory(prefix="llm-gateway-features-") as tmp:
        mock = start_mock_provider(other_cpus)
        try:
            if any(v.redis for v in variants):
                redis_server = start_redis(other_cpus)
                say(f"redis-server pid {redis_server.process.pid} at {redis_server.url}")
            redis_url = redis_server.url if redis_server is not None else None
            for variant in variants:
                target = start_variant(
                    variant, Path(tmp), mock.url, redis_url, gw_cpus, args.provider_key
                )
                gateways.append(target)
                say(
                    f"{variant.name:<14} gateway pid {target.proc.pid} at {target.proc.url}: "
                    f"ready in {target.startup_s:.2f} s, "
                    f"RSS {target.proc.rss_bytes() / MB:.1f} MB"
                )
            check_targets(mock.url, gateways)
            if redis_server is not None:  # now that every gateway is up and idle
                report["redis_ping_us_before"] = redis_round_trip_us(redis_server.port)
                say(
                    "redis PING round trip (loopback, p50): "
                    f"{report['redis_ping_us_before']:.0f} us"
                )
            counters = Counters(
                redis_url, redis_server.process.pid if redis_server is not None else None
            )
            say(
                f"measuring ({3.0 if args.quick else args.duration:g} s each, "
                f"{args.warmup:g} s warm-up, {args.rounds} round{'s' if args.rounds > 1 else ''})"
            )
            targets = [Target("direct", mock), *gateways]
            samples = run_rounds(args, load, targets, counters)
            report["rss_after_mb"] = {t.name: t.proc.rss_bytes() / MB for t in gateways}
            if redis_server is not None:
                report["redis_ping_us_after"] = redis_round_trip_us(redis_server.port)
            report["startup_s"] = {t.name: t.startup_s for t in gateways}
        finally:
            for target in gateways:
                target.proc.stop()
            if redis_server is not None:
                redis_server.stop()
            mock.stop()
        report["pressure_after"] = cpu_pressure()
        report["request_log"] = {
            t.name: request_log_summary(t.log) for t in gateways if t.log is not None
        }

    figures = {key: figure(s) for key, s in samples.items()}
    report["cells"] = cells_as_json(figures)
    report["checks"] = build_checks(comparisons, figures, args)
    say_results(report, figures, comparisons, variants, args)
    if args.json:
        write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
