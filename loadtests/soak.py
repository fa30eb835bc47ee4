"""Soak with the production features on: key limits that never bind, the exact cache and the PII
guardrail (patterns engine), one worker, concurrency 64 (issue 22's last target).

    python loadtests/soak.py [--requests 1000000] [--window 100000] [--warmup 30000]
                             [--concurrency 64] [--wrk-threads 1] [--pin] [--json PATH]

Starts `gateway mock-provider` (0 ms) and `gateway serve --workers 1` with a key policy holding
`[limits]` (rpm 1e8, tpm 1e11, max_concurrent 1e5: never refuse), `[cache] mode = "exact"` and a
PII guardrail (redact the input). It sends `--warmup` requests (which fill the cache: half the
requests are misses with a unique prompt, each stored, and the in-memory cache keeps 10,000
entries, so the default 30,000 leave it full: from then on it evicts one entry per miss and its
size stays put), samples the gateway's RSS, then sends `--requests` in windows of `--window`,
each an exact number of requests all answered before the next window starts
(loadtests/soak_load.py: the mix and how wrk stops). After each window it prints the window's
p50 / p99 / p99.9 latency and req/s as wrk measured them, the gateway's CPU time per request, its
RSS and how much it grew in the window, the cache's hits and misses, its entries and its bytes
(the gateway's `gateway_cache_entries` / `gateway_cache_bytes`). A warm-up too short
to fill the cache is said, and the RSS verdict then says the cache was still filling.

At the end it stops the gateway (which writes every queued record), counts the request log's
records (rotated files included) and prints the targets with PASS or MISS
(loadtests/soak_report.py says how each is decided):
- RSS growth from after the warm-up to after the last window <= 5 %;
- the last window's p99 stable against the first's;
- records written = requests sent, and no 5xx (nor 429: the limits must never bind).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cpus import plan_cpus
from features_variants import CACHE_POLICY, LIMITS_POLICY, PII_POLICY
from harness import Proc, metric_samples, start_gateway, start_mock_provider, write_config
from load_common import CHAT_PATH, MB, check_answers, cpu_note, say, write_report
from loadgen import have_wrk
from machine import cpu_pressure, machine_info
from soak_load import KINDS, run_window, soak_bodies
from soak_report import count_records, say_summary, soak_targets

from gateway.state import MemoryState

POLICY = LIMITS_POLICY + CACHE_POLICY + PII_POLICY
# The in-memory cache's entry cap (gateway/state/memory.py); its byte cap (64 MiB) is not
# reached: the soak's entries average ~3.7 KB (a chat ~0.8 KB, a stream ~6.6 KB).
CACHE_MAX_ENTRIES = MemoryState().cache.max_entries
# Enough rotated request logs (100 MB each) to keep every record of a 1M-request soak.
LOG_BACKUPS = 100


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=1_000_000, help="measured requests")
    parser.add_argument("--window", type=int, default=100_000, help="requests per window")
    parser.add_argument("--warmup", type=int, default=30_000, help="requests before the first RSS")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument(
        "--pin", action="store_true", help="gateway on CPU 0; mock provider and wrk on CPU 1"
    )
    parser.add_argument(
        "--stable-factor",
        type=float,
        default=1.25,
        help="the last window's p99 may be this times the first's, plus the run's noise",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    if not have_wrk():
        parser.error("the soak needs wrk (apt-get install -y wrk)")
    if args.window <= 0 or args.requests < 3 * args.window:
        parser.error("--requests must hold at least 3 windows (the noise needs 2 before the last)")
    if args.requests % args.window:
        parser.error("--requests must be a multiple of --window")
    return args


def counters(url: str) -> dict[str, float]:
    """The gateway's own counts that say the features were on."""
    cache = metric_samples(url, "gateway_cache_events_total")
    return {
        "requests": sum(metric_samples(url, "gateway_requests_total").values()),
        "cache_hits": sum(v for k, v in cache.items() if '"hit"' in k),
        "cache_misses": sum(v for k, v in cache.items() if '"miss"' in k),
        "guardrail_actions": sum(metric_samples(url, "gateway_guardrail_actions_total").values()),
        "rate_limited": sum(metric_samples(url, "gateway_ratelimit_rejections_total").values()),
        "cache_entries": sum(metric_samples(url, "gateway_cache_entries").values()),
        "cache_bytes": sum(metric_samples(url, "gateway_cache_bytes").values()),
    }


class Soak:
    """The windows of one run against one gateway, and what was measured after each."""

    def __init__(self, args: argparse.Namespace, gateway: Proc, cpus: set[int] | None) -> None:
        self.args = args
        self.gateway = gateway
        self.cpus = cpus
        self.peak_rss = 0
        self.last_rss_mb = gateway.rss_bytes() / MB  # the RSS after the previous window
        self.windows: list[dict[str, Any]] = []

    def _follow_rss(self) -> None:
        self.peak_rss = max(self.peak_rss, self.gateway.rss_bytes())

    def send(self, number: int, requests: int) -> dict[str, Any]:
        before = counters(self.gateway.url)
        cpu_before = self.gateway.cpu_seconds()
        window = run_window(
            self.gateway.url + CHAT_PATH,
            number,
            requests,
            self.args.concurrency,
            self.args.wrk_threads,
            self.cpus,
            tick=self._follow_rss,
        )
        cpu = self.gateway.cpu_seconds() - cpu_before
        after = counters(self.gateway.url)
        r = window.result
        rss_mb = self.gateway.rss_bytes() / MB
        growth_mb, self.last_rss_mb = rss_mb - self.last_rss_mb, rss_mb
        return {
            "window": number,
            "sent": window.sent,
            "answered": r.requests,
            "errors": r.errors,
            "rps": r.rps,
            "p50_ms": r.p50_ms,
            "p99_ms": r.p99_ms,
            "p999_ms": window.p999_ms,
            "max_ms": r.max_ms,
            "cpu_us_per_request": cpu * 1e6 / max(1, r.requests),
            "rss_mb": rss_mb,
            "rss_growth_mb": growth_mb,
            "cache_entries": int(after["cache_entries"]),
            "cache_mb": after["cache_bytes"] / MB,
            **{f"{k}_delta": after[k] - before[k] for k in after},
        }

    def run(self) -> dict[str, Any]:
        args = self.args
        rss_ready = self.last_rss_mb
        say(f"RSS at ready {rss_ready:.1f} MB; warm-up: {args.warmup:,} requests")
        warmup = self.send(0, args.warmup) if args.warmup else None
        rss_warm = self.last_rss_mb = self.gateway.rss_bytes() / MB
        cache_warm = int(counters(self.gateway.url)["cache_entries"])
        say(f"RSS after the warm-up {rss_warm:.1f} MB; cache {cache_warm:,} entries")
        if cache_warm < CACHE_MAX_ENTRIES:
            say(
                f"note: the warm-up left the cache short of its {CACHE_MAX_ENTRIES:,} entries: "
                "the RSS growth below includes the cache filling (--warmup >= "
                f"{2 * CACHE_MAX_ENTRIES:,} fills it)"
            )
        say(
            f"{'window':>6} {'requests':>10} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
            f"{'p99.9 ms':>8} {'CPU/req us':>10} {'RSS MB':>7} {'+MB':>5} {'hits':>7} "
            f"{'misses':>7} {'cache':>7} {'errors':>6}"
        )
        for number in range(1, args.requests // args.window + 1):
            w = self.send(number, args.window)
            self.windows.append(w)
            say(
                f"{number:>6} {number * args.window:>10,} {w['rps']:>7,.0f} {w['p50_ms']:>7.2f} "
                f"{w['p99_ms']:>7.2f} {w['p999_ms']:>8.2f} {w['cpu_us_per_request']:>10.0f} "
                f"{w['rss_mb']:>7.1f} {w['rss_growth_mb']:>+5.1f} {w['cache_hits_delta']:>7.0f} "
                f"{w['cache_misses_delta']:>7.0f} {w['cache_entries']:>7,} {w['errors']:>6}"
            )
        return {
            "rss_ready_mb": rss_ready,
            "rss_after_warmup_mb": rss_warm,
            "cache_entries_after_warmup": cache_warm,
            "cache_max_entries": CACHE_MAX_ENTRIES,
            "rss_peak_mb": max(self.peak_rss / MB, *(w["rss_mb"] for w in self.windows)),
            "warmup": warmup,
            "windows": self.windows,
            "counters": counters(self.gateway.url),
        }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    today = dt.datetime.now().astimezone()
    machine = machine_info()
    cpus = plan_cpus(1, args.pin)
    say(f"llm-gateway soak  {today:%Y-%m-%d %H:%M %Z}")
    say(
        f"machine: {machine['nproc']} CPUs, {machine['cpu_model']}, {machine['memory_gb']} GB; "
        f"wrk ({machine['wrk']}) -t{args.wrk_threads} -c{args.concurrency}; gateway --workers 1"
    )
    say(cpu_note(args.pin))
    say(f"CPUs: {cpus.note}")
    say(
        f"{args.requests:,} requests in windows of {args.window:,} after {args.warmup:,} warm-up "
        f"requests; mix per wrk thread: {', '.join(KINDS)} (PII prompt of ~200 tokens)"
    )
    report: dict[str, Any] = {
        "date": today.isoformat(timespec="seconds"),
        "machine": machine,
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "pressure_before": cpu_pressure(),
    }
    say(f"before: {report['pressure_before']}")
    bodies = soak_bodies()
    with tempfile.TemporaryDirectory(prefix="llm-gateway-soak-") as tmp:
        mock = start_mock_provider(cpus.mock)
        try:
            config = write_config(Path(tmp), mock.url, policy=POLICY, log_backups=LOG_BACKUPS)
            gateway = start_gateway(config, 1, cpus.gateway).proc
            try:
                check_answers(gateway.url, "gateway", bodies)  # 2 requests, recorded too
                report |= Soak(args, gateway, cpus.load).run()
            finally:
                gateway.stop()
            report["records"] = count_records(Path(tmp) / "logs" / "requests.jsonl")
        finally:
            mock.stop()
    report["pressure_after"] = cpu_pressure()
    report["checks_sent"] = 2
    report["targets"] = soak_targets(report, args.stable_factor)
    say_summary(report)
    if args.json:
        write_report(args.json, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
