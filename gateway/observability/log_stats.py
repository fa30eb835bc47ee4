"""`gateway stats`: spend, tokens, requests, errors and latency percentiles from the request log.

Groups by any of model, key, team (and deployment, provider, endpoint, status, prompt,
prompt_version, user, session, key_secret, and `tag:NAME` for a request tag); prints an aligned
table, or JSON with `--json`. A request is an error when its status is >= 400 or it has an
`error_type` (a stream that broke after its first byte keeps status 200). Latency percentiles
use every request of the group, errors included, interpolating linearly.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.observability.drift import drift, windows
from gateway.observability.log_reader import (
    EARLIEST_TS,
    Record,
    RecordFilter,
    UsageError,
    kept_log,
    latest_ts,
    parse_span,
    parse_time,
)
from gateway.observability.percentile import percentile
from gateway.observability.record_json import document_json

GROUP_FIELDS = {
    "model": "model",
    "key": "key_id",
    "team": "team",
    "deployment": "deployment",
    "provider": "provider",
    "endpoint": "endpoint",
    "status": "status",
    "prompt": "prompt_id",
    "prompt_version": "prompt_version",
    "user": "user",
    "session": "session_id",
    "key_secret": "key_secret",
}
# `--by tag:NAME` groups by the value of the request's tag NAME.
TAG_PREFIX = "tag:"
NONE_LABEL = "(none)"


def is_error(record: Record) -> bool:
    """Whether a record is an error: status >= 400, or an `error_type` (a stream that broke
    after its first byte keeps status 200)."""
    status = record.get("status")
    return bool(record.get("error_type")) or (isinstance(status, int) and status >= 400)


@dataclass
class GroupStats:
    requests: int = 0
    errors: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    spend_usd: float = 0.0
    latencies: list[float] = field(default_factory=list)
    ttfts: list[float] = field(default_factory=list)

    def add(self, record: Record) -> None:
        self.requests += 1
        if is_error(record):
            self.errors += 1
        self.prompt_tokens += int(record.get("prompt_tokens") or 0)
        self.completion_tokens += int(record.get("completion_tokens") or 0)
        self.spend_usd += float(record.get("cost_usd") or 0.0)
        if isinstance(record.get("latency_ms"), (int, float)):
            self.latencies.append(float(record["latency_ms"]))
        if isinstance(record.get("ttft_ms"), (int, float)):
            self.ttfts.append(float(record["ttft_ms"]))

    def as_dict(self) -> dict[str, Any]:
        def ms(q: float, values: Sequence[float]) -> float | None:
            value = percentile(values, q)
            return None if value is None else round(value, 3)

        return {
            "requests": self.requests,
            "errors": self.errors,
            "error_rate": round(self.errors / self.requests, 6) if self.requests else 0.0,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "tokens": self.prompt_tokens + self.completion_tokens,
            "spend_usd": round(self.spend_usd, 10),
            "latency_p50_ms": ms(50, self.latencies),
            "latency_p95_ms": ms(95, self.latencies),
            "latency_p99_ms": ms(99, self.latencies),
            "ttft_p50_ms": ms(50, self.ttfts),
        }


def parse_by(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [
        n for n in names if n not in GROUP_FIELDS and not (n.startswith(TAG_PREFIX) and n[4:])
    ]
    if not names or unknown:
        raise UsageError(
            f"--by takes a comma list of: {', '.join(GROUP_FIELDS)}, tag:NAME (got {text!r})"
        )
    return names


def group_value(record: Record, name: str) -> Any:
    """The value `record` has for the grouping `name` (a field, or `tag:NAME`)."""
    if name.startswith(TAG_PREFIX):
        tags = record.get("tags")
        return tags.get(name[len(TAG_PREFIX) :]) if isinstance(tags, dict) else None
    return record.get(GROUP_FIELDS[name])


def aggregate(
    records: Iterable[Record], by: Sequence[str]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(one row per group, biggest spend first; the total) over `records`."""
    groups: dict[tuple[str, ...], GroupStats] = {}
    total = GroupStats()
    for record in records:
        key = tuple(_label(group_value(record, name)) for name in by)
        groups.setdefault(key, GroupStats()).add(record)
        total.add(record)
    rows = [{**dict(zip(by, key)), **stats.as_dict()} for key, stats in groups.items()]
    rows.sort(key=lambda r: (-r["spend_usd"], -r["requests"], [str(r[n]) for n in by]))
    return rows, total.as_dict()


def _label(value: Any) -> str:
    return NONE_LABEL if value is None or value == "" else str(value)


_COLUMNS = (
    ("requests", "requests", "{:d}"),
    ("errors", "errors", "{:d}"),
    ("error_rate", "error%", "pct"),
    ("prompt_tokens", "prompt_tok", "{:d}"),
    ("completion_tokens", "compl_tok", "{:d}"),
    ("spend_usd", "spend_usd", "{:.6f}"),
    ("latency_p50_ms", "p50_ms", "{:.1f}"),
    ("latency_p95_ms", "p95_ms", "{:.1f}"),
    ("latency_p99_ms", "p99_ms", "{:.1f}"),
)


def _printable(text: str) -> str:
    """A group value as the table shows it: control characters (a newline, a terminal escape
    sent in a request's `metadata` or `user`) written as escapes, never sent to the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _cell(value: Any, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "pct":
        return f"{value * 100:.1f}%"
    return fmt.format(value)


def render_table(rows: Sequence[dict[str, Any]], total: dict[str, Any], by: Sequence[str]) -> str:
    header = [*by, *(title for _, title, _ in _COLUMNS)]
    body = [
        [*(_printable(str(r[n])) for n in by), *(_cell(r[k], f) for k, _, f in _COLUMNS)]
        for r in rows
    ]
    total_row = ["TOTAL", *([""] * (len(by) - 1)), *(_cell(total[k], f) for k, _, f in _COLUMNS)]
    table = [header, *body, total_row]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        text = [
            c.ljust(widths[i]) if i < len(by) else c.rjust(widths[i]) for i, c in enumerate(cells)
        ]
        return "  ".join(text).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in body), rule, line(total_row)])


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def run_drift(args: argparse.Namespace) -> int:
    """`gateway stats --drift`: exit 0 when nothing is flagged, 1 when something is, 2 on a
    usage error (`gateway.observability.drift`)."""
    try:
        window_s, baseline_s = parse_span(args.window), parse_span(args.baseline)
        reader = kept_log(Path(args.log))
        until = parse_time(args.until) if args.until else None
        end = until if until is not None else latest_ts(reader)
        spans = windows(end, window_s, baseline_s)
        if spans.baseline[0] < EARLIEST_TS:  # the dates printed for it would be before year 1
            raise UsageError(f"the baseline before --until {args.until} would start before year 1")
        reports = drift(kept_log(Path(args.log), spans.baseline[0]), spans)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    flagged = [r for r in reports if r["flags"]]
    if args.json:
        document = {
            "log": args.log,
            "baseline": [_iso(spans.baseline[0]), _iso(spans.baseline[1])],
            "window": [_iso(spans.window[0]), _iso(spans.window[1])],
            "flagged": len(flagged),
            "groups": reports,
        }
        sys.stdout.write(document_json(document).decode() + "\n")
    else:
        print(
            f"window {_iso(spans.window[0])} .. {_iso(spans.window[1])} against the "
            f"baseline {_iso(spans.baseline[0])} .. {_iso(spans.baseline[1])}"
        )
        for report in reports:
            status = "DRIFT " + ", ".join(report["flags"]) if report["flags"] else "ok"
            print(f"  {report['model']} {report['prompt_version']}: {status}")
    return 1 if flagged else 0


def run(args: argparse.Namespace) -> int:
    """Run `gateway stats` with parsed flags; returns the exit code."""
    if getattr(args, "drift", False):
        return run_drift(args)
    try:
        by = parse_by(args.by)
        since = parse_time(args.since) if args.since else None
        until = parse_time(args.until) if args.until else None
        reader = kept_log(Path(args.log), since)
        record_filter = RecordFilter(since=since, until=until)
        rows, total = aggregate(filter(record_filter.matches, reader), by)  # streamed
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        document = {
            "log": args.log,
            "since": _iso(since),
            "until": _iso(until),
            "by": list(by),
            "records": total["requests"],
            "bad_lines": reader.bad_lines,
            "groups": rows,
            "total": total,
        }
        sys.stdout.write(document_json(document).decode() + "\n")
        return 0
    span = f"{_iso(since) or 'start of log'} .. {_iso(until) or 'now'}"
    print(f"{total['requests']} requests in {args.log} ({span}), by {', '.join(by)}")
    if reader.bad_lines:
        print(f"({reader.bad_lines} unreadable line(s) skipped)")
    print(render_table(rows, total, by))
    return 0
