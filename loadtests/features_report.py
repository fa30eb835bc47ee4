"""The end of a features.py run: the medians per cell as JSON, each comparison's table, the
checks against DESIGN.md's targets (PASS / MISS) and the routing tolerance (reported only)."""

from __future__ import annotations

import argparse
import statistics
from dataclasses import asdict
from typing import Any

from features_rounds import Figure
from features_summary import issue_table
from features_variants import Comparison, Variant
from load_common import align, cpu_note, fmt_ms, fmt_signed, render_targets, say, verdict

# Targets: DESIGN.md ("Performance targets"): added p50 <= 0.4 ms, Redis limits +0.2 ms.
TARGET_REDIS_ADDED_P50_MS = 0.6
TARGET_REDIS_STAGE_P50_MS = 0.2
ROUTING_TOLERANCE = 0.10  # issue 3: 2 deployments within 10 % of one (reported, not a target)


def cells_as_json(figures: dict[tuple[str, str, int], Figure]) -> list[dict[str, Any]]:
    """The report's `cells`: per (target, mode, concurrency) the medians and every sample."""
    return [
        {
            "target": name,
            "mode": mode,
            "concurrency": c,
            "median": {k: v for k, v in asdict(f).items() if k != "samples"},
            "samples": [
                {"result": s.result.as_dict(), "cpu_us_per_request": s.cpu_us, "counted": s.counted}
                for s in f.samples
            ],
        }
        for (name, mode, c), f in figures.items()
    ]


def render_comparison(
    comparison: Comparison, figures: dict[tuple[str, str, int], Figure], args: argparse.Namespace
) -> str:
    v, b = comparison.variant, comparison.baseline
    header = [
        "mode",
        "c",
        "direct req/s",
        f"{b} req/s",
        f"{v} req/s",
        f"{v}/{b}",
        "direct p50",
        f"{b} p50",
        f"{v} p50",
        "added p50",
        f"{v}-{b} p50",
        f"{b} p99",
        f"{v} p99",
        f"{b} CPU/req",
        f"{v} CPU/req",
        "errors d/b/v",
    ]
    rows = [header]
    for mode in args.modes:
        for concurrency in args.concurrency:
            d = figures[("direct", mode, concurrency)]
            base = figures[(b, mode, concurrency)]
            var = figures[(v, mode, concurrency)]
            rows.append(
                [
                    mode,
                    str(concurrency),
                    f"{d.rps:,.0f}",
                    f"{base.rps:,.0f}",
                    f"{var.rps:,.0f}",
                    f"{var.rps / base.rps:.2f}" if base.rps else "-",
                    fmt_ms(d.p50_ms),
                    fmt_ms(base.p50_ms),
                    fmt_ms(var.p50_ms),
                    fmt_signed(var.p50_ms - d.p50_ms),
                    fmt_signed(var.p50_ms - base.p50_ms),
                    fmt_ms(base.p99_ms),
                    fmt_ms(var.p99_ms),
                    f"{base.cpu_us:,.0f} us",
                    f"{var.cpu_us:,.0f} us",
                    f"{d.errors}/{base.errors}/{var.errors}",
                ]
            )
    return f"[{comparison.section}] {comparison.title}\n" + align(rows)


def per_request(figure: Figure, counter: str, scale: float = 1.0) -> float | None:
    """The median over the rounds of one counter per request through the gateway."""
    values = [
        s.counted[counter] * scale / s.counted["requests"]
        for s in figure.samples
        if counter in s.counted and s.counted.get("requests")
    ]
    return statistics.median(values) if values else None


def report_only(name: str, target: str, measured: str, value: float, ok: bool) -> dict[str, Any]:
    result = "within" if ok else "OUTSIDE (report only)"
    return {"name": name, "target": target, "measured": measured, "value": value, "result": result}


def build_checks(
    comparisons: list[Comparison],
    figures: dict[tuple[str, str, int], Figure],
    args: argparse.Namespace,
) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    cells = [(mode, c) for mode in args.modes for c in args.concurrency]
    for mode, c in cells:
        redis = figures.get(("limits+redis", mode, c))
        memory = figures.get(("limits", mode, c))
        direct = figures.get(("direct", mode, c))
        gateway = figures.get(("gateway", mode, c))
        if redis is None:
            continue
        if c == 1 and direct:
            added = redis.p50_ms - direct.p50_ms
            checks.append(
                {
                    "name": f"Redis limits: added p50 over direct, {mode}, c=1",
                    "target": f"<= {TARGET_REDIS_ADDED_P50_MS} ms",
                    "measured": f"{added:.3f} ms",
                    "value": added,
                    "result": verdict(added <= TARGET_REDIS_ADDED_P50_MS),
                }
            )
        if c == 1 and gateway:
            stage = redis.p50_ms - gateway.p50_ms
            checks.append(
                {
                    "name": f"Redis limits stage (vs. no limits), p50, {mode}, c=1",
                    "target": f"<= +{TARGET_REDIS_STAGE_P50_MS} ms",
                    "measured": f"{stage:+.3f} ms",
                    "value": stage,
                    "result": verdict(stage <= TARGET_REDIS_STAGE_P50_MS),
                }
            )
        if memory:
            extra_cpu = redis.cpu_us - memory.cpu_us
            server_us = per_request(redis, "redis cpu s", 1e6)
            checks.append(
                {
                    "name": f"Redis cost: gateway CPU/req vs. memory limits, {mode}, c={c}",
                    "target": "(report)",
                    "measured": f"{extra_cpu:+,.0f} us",
                    "value": extra_cpu,
                    "result": "" if server_us is None else f"+ redis-server {server_us:,.0f} us",
                }
            )
    for comparison in comparisons:
        if comparison.section != "routing":
            continue
        for mode, c in cells:
            var = figures.get((comparison.variant, mode, c))
            base = figures.get((comparison.baseline, mode, c))
            if not (var and base and base.rps and base.p50_ms and base.cpu_us):
                continue
            for what, change in (
                ("req/s", var.rps / base.rps - 1),
                ("p50", var.p50_ms / base.p50_ms - 1),
                ("CPU/req", var.cpu_us / base.cpu_us - 1),
            ):
                checks.append(
                    report_only(
                        f"{comparison.variant} vs. 1 deployment, {what}, {mode}, c={c}",
                        f"within {ROUTING_TOLERANCE:.0%}",
                        f"{change:+.1%}",
                        change,
                        abs(change) <= ROUTING_TOLERANCE,
                    )
                )
    return checks


def say_results(
    report: dict[str, Any],
    figures: dict[tuple[str, str, int], Figure],
    comparisons: list[Comparison],
    variants: list[Variant],
    args: argparse.Namespace,
) -> None:
    """Print the summary after the measurements: CPU pressure, Redis round trips, request logs,
    RSS, one table per comparison, and the report's `checks`."""
    say()
    say(f"after: {report['pressure_after']}")
    if "redis_ping_us_after" in report:
        say(
            "redis PING round trip (loopback, p50): "
            f"{report['redis_ping_us_before']:.0f} us before, "
            f"{report['redis_ping_us_after']:.0f} us after"
        )
    for name, counts in report["request_log"].items():
        say(f"request log {name}: " + ", ".join(f"{k}: {n:,}" for k, n in counts.items()))
    say(
        "gateway RSS after: "
        + ", ".join(f"{name} {mb:.1f} MB" for name, mb in report["rss_after_mb"].items())
    )
    for comparison in comparisons:
        say()
        say(render_comparison(comparison, figures, args))
    say(
        "(medians over the rounds; latencies in ms to the last byte; req/s = successful responses"
        " / s; added p50 = the variant's p50 - the direct call's; CPU/req = that gateway's CPU"
        " time / requests through it)"
    )
    say()
    say("issue 22's table (medians over the rounds):")
    for line in issue_table(figures):
        say(line)
    checks = report["checks"]
    if checks:
        say()
        say("checks (DESIGN.md targets are PASS / MISS; routing's 10 % is reported only):")
        say(render_targets(checks))
    say(cpu_note(args.pin))
    if any(v.redis for v in variants):
        say(
            "redis-server shares the cores too (CPU 1 with --pin); its CPU time per request is"
            " printed with each Redis measurement."
        )
