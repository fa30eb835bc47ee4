"""`gateway replay`: from parsed flags to a report and an exit code.

Exit codes: 0 done (and the gate, if any, passed); 1 the gate failed; 2 a usage error (bad flag
value, missing log or config, nothing to replay). Everything that can be checked (gate syntax,
times, config) is checked before the first request is sent.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import sys
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.config import ConfigError, GatewayConfig, load_config
from gateway.observability.log_reader import (
    Record,
    RecordFilter,
    UsageError,
    kept_log,
    parse_statuses,
    parse_time,
    record_at,
)
from gateway.replay import target as targets
from gateway.replay.answers import ENDPOINTS
from gateway.replay.gate import Gate, GateError, parse_gate
from gateway.replay.html import render_html
from gateway.replay.judge import DEFAULT_RUBRIC
from gateway.replay.progress import Progress
from gateway.replay.report import (
    SUMMARY_FIELDS,
    Row,
    build_report,
    report_paths,
    summarize,
    write_atomic,
    write_json,
)
from gateway.replay.runner import ReplayOptions, Runner

KEY_ENV = "GATEWAY_API_KEY"
CONFIG_ENV = "GATEWAY_CONFIG"
DEFAULT_CONFIG = "config.example.toml"


@dataclass
class Selection:
    records: list[Record]
    read: int
    bad_lines: int
    matched: int
    skipped_no_body: int
    skipped_endpoint: int


def _split(values: Sequence[str] | None) -> tuple[str, ...]:
    return tuple(v.strip() for value in values or () for v in value.split(",") if v.strip())


def record_filter(args: argparse.Namespace) -> RecordFilter:
    return RecordFilter(
        since=parse_time(args.since) if args.since else None,
        until=parse_time(args.until) if args.until else None,
        models=_split(args.filter_model),
        keys=_split(args.filter_key),
        statuses=parse_statuses(args.status) if args.status else (),
    )


def select(
    path: Path,
    rfilter: RecordFilter,
    *,
    sample: float | None,
    seed: int,
    limit: int | None,
    default_ok_only: bool = True,
    prompt: tuple[str, int] | None = None,
) -> Selection:
    """Filter, keep replayable records (a request body, a chat or messages endpoint), sample, limit.

    The log is read after its rotated files beside it, oldest first (`kept_log`, as `gateway
    stats` reads it; those last modified before `--since` left unopened): until 2026-12-06 only
    the file given, so right after a rotation a replay had almost nothing to send.

    Without a status filter only successful records are replayed (status 200, no error_type):
    they are the ones with an answer to compare with.
    """
    reader = kept_log(path, rfilter.since)
    ok_only = default_ok_only and not rfilter.statuses
    matched = no_body = wrong_endpoint = 0
    # Offsets, not records: a log of gigabytes of bodies is read whole, and only the records
    # chosen are kept (10 bytes for each one that could be: its file, its line's offset).
    files, offsets = array("H"), array("q")
    handles = reader.open_kept()
    try:
        for number, handle in enumerate(handles):
            for offset, r in reader.read(handle):
                if not _wanted(r, rfilter, ok_only, prompt):
                    continue
                matched += 1
                if not isinstance(r.get("request"), dict):
                    no_body += 1
                elif r.get("endpoint") not in ENDPOINTS:
                    wrong_endpoint += 1
                else:
                    files.append(number)
                    offsets.append(offset)
        chosen: Sequence[int] = range(len(offsets))
        if sample is not None and sample < 1.0:
            k = round(len(offsets) * sample)
            chosen = sorted(random.Random(seed).sample(range(len(offsets)), k))
        if limit is not None:
            chosen = chosen[:limit]
        records = [record_at(handles[files[i]], offsets[i]) for i in chosen]
    finally:
        for handle in handles:
            handle.close()
    return Selection(records, reader.seen, reader.bad_lines, matched, no_body, wrong_endpoint)


def _wanted(
    record: Record, rfilter: RecordFilter, ok_only: bool, prompt: tuple[str, int] | None
) -> bool:
    if not rfilter.matches(record):
        return False
    if ok_only and (record.get("status") != 200 or record.get("error_type")):
        return False
    # A prompt replay: the requests that used another version of the prompt.
    return prompt is None or (
        record.get("prompt_id") == prompt[0]
        and record.get("prompt_version") not in (None, prompt[1])
    )


def _config(args: argparse.Namespace, required: bool) -> GatewayConfig | None:
    text = args.config
    if text is None and required:
        text = os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG
    if text is None:
        return None
    path = Path(text)
    if not path.is_file():
        raise UsageError(f"config file {path} not found (pass --config PATH)")
    return load_config(path)


# Integer flags are echoed into the report: bounded like the counts in it (below 2**53).
MAX_CONCURRENCY = 10_000
MAX_TIMEOUT_S = 86_400
_MAX_INT = 2**53


def _validate(args: argparse.Namespace) -> Gate | None:
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        raise UsageError(f"--concurrency must be from 1 to {MAX_CONCURRENCY}")
    if args.limit is not None and not 1 <= args.limit < _MAX_INT:
        raise UsageError("--limit must be at least 1 and below 2**53")
    if not -_MAX_INT < args.seed < _MAX_INT:
        raise UsageError("--seed must be below 2**53 in size")
    if args.candidate is not None and not 1 <= args.candidate < _MAX_INT:
        raise UsageError("--candidate must be a version number (at least 1, below 2**53)")
    if not (math.isfinite(args.timeout) and 0 < args.timeout <= MAX_TIMEOUT_S):
        raise UsageError(f"--timeout must be a number of seconds above 0, at most {MAX_TIMEOUT_S}")
    if args.sample is not None and not 0 < args.sample <= 1:
        raise UsageError("--sample must be a fraction in (0, 1]")
    if (args.prompt is None) != (args.candidate is None):
        raise UsageError("--prompt and --candidate go together")
    if args.model is None and args.prompt is None:
        raise UsageError("--model is required (or --prompt ID --candidate VERSION)")
    return parse_gate(args.gate, SUMMARY_FIELDS) if args.gate else None


async def _replay(
    args: argparse.Namespace, config: GatewayConfig | None, key: str | None, selection: Selection
) -> tuple[list[Row], str]:
    options = ReplayOptions(
        model=args.model,
        concurrency=args.concurrency,
        judge_model=args.judge_model,
        rubric=args.rubric or DEFAULT_RUBRIC,
        prompt=_prompt(args),
    )
    if args.base_url:
        assert key is not None
        context = targets.remote(args.base_url, key, config, args.timeout, args.concurrency)
    else:
        assert config is not None
        context = targets.in_process(config, key, args.timeout)
    async with context as target:
        progress = Progress(len(selection.records))  # started once the gateway is ready
        rows = await Runner(target, options, progress).run(selection.records)
        return rows, target.describe


def _prompt(args: argparse.Namespace) -> tuple[str, int] | None:
    return None if args.prompt is None else (args.prompt, args.candidate)


def _candidate_hash(config: GatewayConfig | None, prompt: tuple[str, int]) -> str | None:
    """The content hash of the candidate the config's registry holds (what the report
    evaluated, and `gateway prompts promote` checks), or None when unknown."""
    found = config.prompts.get(prompt[0]) if config is not None else None
    version = found.versions.get(prompt[1]) if found is not None else None
    return version.hash if version is not None else None


def _check_candidate(config: GatewayConfig, prompt: tuple[str, int]) -> None:
    found = config.prompts.get(prompt[0])
    if found is None or prompt[1] not in found.versions:
        raise UsageError(f"--prompt {prompt[0]} has no version {prompt[1]} in {config.prompts_dir}")


def _print_summary(summary: dict[str, Any], model: str, where: str, log: Path) -> None:
    def pct(v: float | None) -> str:
        return "n/a" if v is None else f"{v * 100:.1f}%"

    def fixed(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    def num(v: float | None, digits: int = 4) -> str:
        return "n/a" if v is None else f"{v:.{digits}g}"

    print(f"replayed {summary['count']} requests from {log} against {model} ({where})")
    lines = [
        ("errors", f"{summary['error_count']} ({pct(summary['error_rate'])})"),
        ("exact match", pct(summary["exact_match_rate"])),
        ("similarity mean", f"{fixed(summary['similarity_mean'])} (token F1)"),
        ("JSON valid", f"{pct(summary['json_valid_rate'])} of {summary['json_count']}"),
        ("tool agreement", f"{pct(summary['tool_agreement_rate'])} of {summary['tool_count']}"),
        (
            "latency p50 (ms)",
            f"{num(summary['latency_p50_old'])} -> {num(summary['latency_p50_new'])}"
            f" (ratio {num(summary['latency_ratio'], 3)})",
        ),
        (
            "latency p95 (ms)",
            f"{num(summary['latency_p95_old'])} -> {num(summary['latency_p95_new'])}",
        ),
        ("tokens", f"{summary['tokens_old']} -> {summary['tokens_new']}"),
        (
            "cost (USD)",
            f"{num(summary['cost_old'])} -> {num(summary['cost_new'])}"
            f" (ratio {num(summary['cost_ratio'], 3)})",
        ),
    ]
    if summary["judge_count"]:
        lines.append(("judge mean", f"{num(summary['judge_mean'], 3)} of {summary['judge_count']}"))
    for label, value in lines:
        print(f"  {label:<18}{value}")


def run(args: argparse.Namespace) -> int:
    """Run `gateway replay` with parsed flags; returns the exit code."""
    log = Path(args.log)
    try:
        gate = _validate(args)
        rfilter = record_filter(args)
        key = args.key or os.environ.get(KEY_ENV)
        if args.base_url and not key:
            raise UsageError(f"--base-url needs a gateway key: pass --key or set ${KEY_ENV}")
        if args.base_url:
            targets.normalize_base_url(args.base_url)
        config = _config(args, required=not args.base_url)
        if config is not None and not args.base_url:
            for flag, name in (("--model", args.model), ("--judge-model", args.judge_model)):
                if name is not None and name not in config.models:
                    raise UsageError(f"{flag} {name!r} is not a model in {config.source}")
            if args.prompt is not None:
                _check_candidate(config, (args.prompt, args.candidate))
        json_path, html_path = report_paths(args.report)
        selection = select(
            log, rfilter, sample=args.sample, seed=args.seed, limit=args.limit, prompt=_prompt(args)
        )
    except (UsageError, GateError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if selection.skipped_no_body:
        print(
            f"skipped {selection.skipped_no_body} record(s) without a request body "
            "(log them with [logging] include_bodies = true)",
            file=sys.stderr,
        )
    if selection.skipped_endpoint:
        print(
            f"skipped {selection.skipped_endpoint} record(s) of other endpoints (embeddings, ...)",
            file=sys.stderr,
        )
    if not selection.records:
        print(
            f"error: nothing to replay: {selection.read} record(s) in {log}, "
            f"{selection.matched} matched the filters",
            file=sys.stderr,
        )
        return 2

    rows, where = asyncio.run(_replay(args, config, key, selection))
    summary = summarize(rows, selection.skipped_no_body, selection.skipped_endpoint)
    model = args.model or "(the logged models)"
    meta: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "log": str(log),
        "model": model,
        "target": where,
        "records_read": selection.read,
        "bad_lines": selection.bad_lines,
        "options": {
            "since": args.since,
            "until": args.until,
            "filter_model": list(rfilter.models),
            "filter_key": list(rfilter.keys),
            "status": args.status,
            "sample": args.sample,
            "seed": args.seed,
            "limit": args.limit,
            "concurrency": args.concurrency,
            "judge_model": args.judge_model,
        },
    }
    if args.prompt is not None:
        meta["prompt"] = {
            "id": args.prompt,
            "candidate": args.candidate,
            "hash": _candidate_hash(config, (args.prompt, args.candidate)),
        }
    report = build_report(meta, summary, rows)
    passed = True
    if gate is not None:
        passed, details = gate.evaluate(summary)
        report["gate"] = {"expression": gate.text, "passed": passed, "details": details}
    try:
        write_json(json_path, report)
        write_atomic(html_path, render_html(report).encode())
    except UsageError as exc:  # the path changed since it was checked
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write the report: {exc}", file=sys.stderr)
        return 2
    _print_summary(summary, model, where, log)
    print(f"report: {json_path}, {html_path}")
    if gate is not None:
        print(f"gate {'passed' if passed else 'FAILED'}: {gate.text}")
        for line in report["gate"]["details"]:
            print(f"  {line}")
    return 0 if passed else 1
