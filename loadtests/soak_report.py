"""The soak's verdicts and summary (loadtests/soak.py).

How each target is decided:
- RSS growth: (RSS after the last window - RSS after the warm-up) / RSS after the warm-up,
  <= 5 %. The warm-up fills the cache to its bound (10,000 entries; the verdict's text says
  when it did not), so what grows after it is not the cache filling up. The gateway's RSS is read
  between windows, when no request is in flight.
- p99 stable: the last window's p99 <= the first window's p99 x `--stable-factor` (1.25) + the
  run's noise, where the noise is twice the median change of p99 between consecutive windows
  before the last one (how much p99 moves from one window to the next on this machine during
  this run). A steady drift upwards shows in last vs first but hardly in the median step, and a
  jump in the last window is not part of its own noise; with few windows (a short run, 3 at
  least) the noise is a rough figure.
- Records: the request log's records (rotated files included) = every request sent (the two
  checks before the run, the warm-up and every window, as wrk counted the requests it wrote),
  and every window's requests all answered: no request lost, no record dropped.
- No 5xx and no 429: no record with a status >= 500, none refused by the limits (they are set
  never to bind), and no error seen by wrk (non-2xx, socket errors, timeouts).
- Features on: cache hits and misses and PII guardrail actions all counted by the gateway.
"""

from __future__ import annotations

import contextlib
import json
import statistics
from pathlib import Path
from typing import Any

from load_common import say, verdict

RSS_GROWTH_MAX_PCT = 5.0


def count_records(path: Path) -> dict[str, Any]:
    """The request log's records by status, over `path` and its rotated files (`path.1`, ...)."""
    files = sorted(path.parent.glob(path.name + "*"))
    by_status: dict[str, int] = {}
    total = 0
    unreadable = 0
    for name in files:
        with name.open("rb") as handle:
            for line in handle:
                total += 1
                try:
                    status = str(json.loads(line).get("status"))
                except ValueError:
                    unreadable += 1
                    continue
                by_status[status] = by_status.get(status, 0) + 1
    return {"files": len(files), "total": total, "unreadable": unreadable, "by_status": by_status}


def p99_noise(windows: list[dict[str, Any]]) -> float:
    """Twice the median change of p99 between consecutive windows, the last window left out (so
    a jump in the last window cannot widen its own bound)."""
    kept = windows[:-1]
    steps = [abs(b["p99_ms"] - a["p99_ms"]) for a, b in zip(kept, kept[1:], strict=False)]
    return 2 * statistics.median(steps) if steps else 0.0


def soak_targets(report: dict[str, Any], stable_factor: float) -> list[dict[str, Any]]:
    windows = report["windows"]
    first, last = windows[0], windows[-1]
    warm = report["rss_after_warmup_mb"]
    growth = (last["rss_mb"] - warm) / warm * 100 if warm else 0.0
    cache_full = report["cache_entries_after_warmup"] >= report["cache_max_entries"]
    noise = p99_noise(windows)
    bound = first["p99_ms"] * stable_factor + noise
    runs = [*([report["warmup"]] if report["warmup"] else []), *windows]
    sent = report["checks_sent"] + sum(w["sent"] for w in runs)
    records = report["records"]
    unanswered = sum(w["sent"] - w["answered"] for w in runs)
    statuses = records["by_status"]
    fivexx = sum(n for status, n in statuses.items() if status.isdigit() and int(status) >= 500)
    refused = statuses.get("429", 0)
    wrk_errors = sum(w["errors"] for w in runs)
    counters = report["counters"]
    features = [counters["cache_hits"], counters["cache_misses"], counters["guardrail_actions"]]
    return [
        {
            "name": "RSS growth after warm-up",
            "target": f"<= {RSS_GROWTH_MAX_PCT:g} %",
            "measured": f"{growth:+.1f} % ({warm:.1f} -> {last['rss_mb']:.1f} MB"
            + ("; cache full before" if cache_full else "; cache still filling")
            + ")",
            "result": verdict(growth <= RSS_GROWTH_MAX_PCT),
        },
        {
            "name": "p99 last vs first window",
            "target": f"<= {bound:.2f} ms",
            "measured": f"{first['p99_ms']:.2f} -> {last['p99_ms']:.2f} ms "
            f"(x{stable_factor:g} + noise {noise:.2f})",
            "result": verdict(last["p99_ms"] <= bound),
        },
        {
            "name": "records = requests sent",
            "target": f"{sent:,}",
            "measured": f"{records['total']:,} records, {unanswered} unanswered",
            "result": verdict(records["total"] == sent and unanswered == 0),
        },
        {
            "name": "no 5xx, no 429, no wrk error",
            "target": "0 / 0 / 0",
            "measured": f"{fivexx} / {refused} / {wrk_errors}",
            "result": verdict(fivexx == refused == wrk_errors == 0),
        },
        {
            "name": "cache hits / misses / PII actions",
            "target": "all > 0",
            "measured": " / ".join(f"{n:,.0f}" for n in features),
            "result": verdict(all(n > 0 for n in features)),
        },
    ]


def say_summary(report: dict[str, Any]) -> None:
    windows = report["windows"]
    say()
    say(
        f"RSS: {report['rss_ready_mb']:.1f} MB at ready, {report['rss_after_warmup_mb']:.1f} MB "
        f"after the warm-up, {windows[-1]['rss_mb']:.1f} MB at the end, "
        f"peak {report['rss_peak_mb']:.1f} MB"
    )
    say(
        "RSS growth per window: "
        + ", ".join(f"{w['rss_growth_mb']:+.1f}" for w in windows)
        + f" MB; cache {report['cache_entries_after_warmup']:,} entries after the warm-up "
        f"(cap {report['cache_max_entries']:,}), {windows[-1]['cache_entries']:,} at the end "
        f"({windows[-1]['cache_mb']:.1f} MB of keys and answers)"
    )
    p99s = [w["p99_ms"] for w in windows]
    cpus = [w["cpu_us_per_request"] for w in windows]
    say(
        f"p99 per window: min {min(p99s):.2f}, median {statistics.median(p99s):.2f}, "
        f"max {max(p99s):.2f} ms; gateway CPU/request: first {cpus[0]:.0f}, "
        f"last {cpus[-1]:.0f}, median {statistics.median(cpus):.0f} us"
    )
    records = report["records"]
    say(
        f"request log: {records['total']:,} records in {records['files']} file(s), by status "
        + ", ".join(f"{k}: {v:,}" for k, v in sorted(records["by_status"].items()))
        + (f"; {records['unreadable']} unreadable" if records["unreadable"] else "")
    )
    with contextlib.suppress(KeyError):
        say(f"after: {report['pressure_after']}")
    say()
    targets = report["targets"]
    width = max(len(t["name"]) for t in targets)
    for t in targets:
        say(f"{t['name'].ljust(width)}  {t['target']:>14}  {t['measured']:<44}  {t['result']}")
