"""The end of an overhead.py run: the table of cells, the soak's summary, and the targets from
DESIGN.md checked against the report (PASS / MISS, never a failing exit status)."""

from __future__ import annotations

import argparse
import statistics
from typing import Any

from load_common import align, cpu_note, fmt_ms, fmt_signed, render_targets, say, verdict
from loadgen import LoadResult
from overhead_runs import Cell

# Targets from /work/shared/DESIGN.md, "Performance targets".
TARGET_ADDED_P50_MS = 0.4
# The Responses section: its added p50 at c=1 against chat's (issue 16).
RESPONSES_SLACK_MS = 0.1
TARGET_CHAT_RPS = 2500.0
TARGET_STREAM_RPS = 1500.0
TARGET_RSS_MB = 120.0
TARGET_GROWTH_PCT = 5.0
TARGET_STARTUP_S = 2.0


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
    targets += responses_targets(cells)
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


def responses_targets(cells: list[Cell]) -> list[dict[str, Any]]:
    """The Responses section: its added p50 at c=1 within RESPONSES_SLACK_MS of chat's (JSON
    against chat, its stream against chat's stream)."""
    targets: list[dict[str, Any]] = []
    for mode, like in (("responses", "chat"), ("responses-stream", "stream")):
        cell, base = cell_for(cells, mode, 1), cell_for(cells, like, 1)
        if cell is None or base is None:
            continue
        added = cell.gateway.p50_ms - cell.direct.p50_ms
        base_added = base.gateway.p50_ms - base.direct.p50_ms
        targets.append(
            {
                "name": f"added p50, {mode}, c=1, vs {like}'s",
                "target": f"<= {like}'s + {RESPONSES_SLACK_MS} ms",
                "measured": f"{added:.3f} ms ({added - base_added:+.3f})",
                "value": added - base_added,
                "result": verdict(added - base_added <= RESPONSES_SLACK_MS),
            }
        )
    return targets


def soak_targets(soak: dict[str, Any], startup_median: float) -> list[dict[str, Any]]:
    """The targets a soak is checked against: RSS growth and peak, and the start-up time."""
    return [
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


def cells_from(report: dict[str, Any]) -> list[Cell]:
    """The report's `cells` back as Cell objects."""
    return [
        Cell(
            c["mode"],
            c["concurrency"],
            LoadResult(**c["direct"]),
            LoadResult(**c["gateway"]),
            c["gateway_cpu_us_per_request"],
        )
        for c in report["cells"]
    ]


def startup_times(report: dict[str, Any]) -> list[float]:
    """Every timed start of the gateway: the one measured, then the extra `--startup-runs`."""
    return [report["startup_s"], *report.get("startup_runs_s", [])]


def targets_for(report: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """The report's targets: the soak's, or those of the timed cells."""
    startup_median: float = report["startup_median_s"]
    if args.soak:
        return soak_targets(report["soak"], startup_median)
    return build_targets(
        cells_from(report), report["rss"]["after_mb"], startup_median, args.workers
    )


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


def say_soak(soak: dict[str, Any]) -> None:
    """The soak's summary lines."""
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
    if soak["errors"]:
        say(f"warning: {soak['errors']:,} soak requests failed (see the request log summary above)")


def say_cells(report: dict[str, Any]) -> None:
    """The table of timed cells, the RSS line, and warnings about failures or a Nagle stall."""
    cells = cells_from(report)
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


def say_results(report: dict[str, Any], args: argparse.Namespace) -> None:
    """Print the summary after the run from the report (its `startup_median_s` and `targets`
    already filled in)."""
    startups = startup_times(report)
    log_total = sum(report["request_log"].values())
    log_desc = ", ".join(f"{key}: {count:,}" for key, count in report["request_log"].items())
    say()
    say(f"after: {report['pressure_after']}")
    say(
        f"start-up (spawn -> /readyz 200): {', '.join(f'{s:.2f}' for s in startups)} s; "
        f"median {report['startup_median_s']:.2f} s"
    )
    say(f"request log: {log_total:,} records ({log_desc})")
    if args.soak:
        say_soak(report["soak"])
    else:
        say_cells(report)
    say()
    say("targets (DESIGN.md, 'Performance targets'; a MISS is reported, not fatal):")
    say(render_targets(report["targets"]))
    say(cpu_note(args.pin, getattr(args, "cpu_plan", None)))


def median_startup(report: dict[str, Any]) -> float:
    """The median of every timed start of the gateway."""
    return statistics.median(startup_times(report))
