"""The replay report: one row per replayed request, a summary over them, report.json on disk.

Every summary field is a number or null (null when nothing measured it: no JSON requests, no
logged cost...), so a `--gate` can name any of them. docs/replay.md describes each field.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gateway.observability.log_reader import UsageError
from gateway.observability.percentile import percentile
from gateway.observability.record_json import document_json

REPORT_VERSION = 1


@dataclass
class Row:
    id: str | None
    ts: float | None
    endpoint: str
    model_old: str | None
    model_new: str
    deployment_old: str | None = None
    deployment_new: str | None = None
    status_old: int | None = None
    status_new: int | None = None
    error: str | None = None
    exact_match: bool = False
    similarity: float = 0.0
    json_asked: bool = False
    json_valid_old: bool | None = None
    json_valid_new: bool | None = None
    tools_asked: bool = False
    tool_agreement: bool | None = None
    latency_ms_old: float | None = None
    latency_ms_new: float | None = None
    prompt_tokens_old: int = 0
    completion_tokens_old: int = 0
    prompt_tokens_new: int = 0
    completion_tokens_new: int = 0
    cost_usd_old: float | None = None
    cost_usd_new: float | None = None
    judge_score: float | None = None
    judge_reason: str | None = None
    answer_old: str = ""
    answer_new: str = ""

    @property
    def ok(self) -> bool:
        return self.error is None


# Summary fields a gate may name, in report order.
SUMMARY_FIELDS = (
    "count",
    "ok_count",
    "error_count",
    "error_rate",
    "exact_match_rate",
    "similarity_mean",
    "similarity_p50",
    "similarity_min",
    "json_count",
    "json_valid_rate",
    "json_valid_rate_old",
    "tool_count",
    "tool_agreement_rate",
    "latency_p50_old",
    "latency_p50_new",
    "latency_p95_old",
    "latency_p95_new",
    "latency_ratio",
    "prompt_tokens_old",
    "prompt_tokens_new",
    "completion_tokens_old",
    "completion_tokens_new",
    "tokens_old",
    "tokens_new",
    "tokens_ratio",
    "cost_old",
    "cost_new",
    "cost_ratio",
    "judge_count",
    "judge_mean",
    "skipped_no_body",
    "skipped_endpoint",
)


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _rate(flags: Iterable[bool | None]) -> tuple[int, float | None]:
    known = [f for f in flags if f is not None]
    return len(known), (sum(1 for f in known if f) / len(known) if known else None)


def ratio(new: float | None, old: float | None) -> float | None:
    """new / old; 1.0 when both are zero, None when it cannot be told (old is 0 or missing)."""
    if new is None or old is None:
        return None
    if old == 0:
        return 1.0 if new == 0 else None
    return new / old


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def summarize(
    rows: Sequence[Row], skipped_no_body: int = 0, skipped_endpoint: int = 0
) -> dict[str, Any]:
    """The summary of a replay. Answer scores count every row (a failed request scores 0);
    latency, tokens and cost compare only rows where the new request succeeded."""
    ok = [r for r in rows if r.ok]
    json_count, json_valid_rate = _rate(r.json_valid_new for r in rows if r.json_asked)
    _, json_valid_rate_old = _rate(r.json_valid_old for r in rows if r.json_asked)
    tool_count, tool_rate = _rate(r.tool_agreement for r in rows if r.tools_asked)
    similarities = [r.similarity for r in rows]
    # Paired: the rows with both latencies (a logged cache hit has no model latency).
    timed = [r for r in ok if r.latency_ms_old is not None and r.latency_ms_new is not None]
    lat_old = [r.latency_ms_old for r in timed if r.latency_ms_old is not None]
    lat_new = [r.latency_ms_new for r in timed if r.latency_ms_new is not None]
    p50_old, p50_new = percentile(lat_old, 50), percentile(lat_new, 50)
    costed = [r for r in ok if r.cost_usd_old is not None and r.cost_usd_new is not None]
    cost_old = sum(r.cost_usd_old or 0.0 for r in costed) if costed else None
    cost_new = sum(r.cost_usd_new or 0.0 for r in costed) if costed else None
    tokens_old = sum(r.prompt_tokens_old + r.completion_tokens_old for r in ok)
    tokens_new = sum(r.prompt_tokens_new + r.completion_tokens_new for r in ok)
    judged = [r.judge_score for r in rows if r.judge_score is not None]
    summary: dict[str, Any] = {
        "count": len(rows),
        "ok_count": len(ok),
        "error_count": len(rows) - len(ok),
        "error_rate": _round((len(rows) - len(ok)) / len(rows)) if rows else None,
        "exact_match_rate": _round(sum(r.exact_match for r in rows) / len(rows)) if rows else None,
        "similarity_mean": _round(_mean(similarities)),
        "similarity_p50": _round(percentile(similarities, 50)),
        "similarity_min": _round(min(similarities)) if similarities else None,
        "json_count": json_count,
        "json_valid_rate": _round(json_valid_rate),
        "json_valid_rate_old": _round(json_valid_rate_old),
        "tool_count": tool_count,
        "tool_agreement_rate": _round(tool_rate),
        "latency_p50_old": _round(p50_old, 3),
        "latency_p50_new": _round(p50_new, 3),
        "latency_p95_old": _round(percentile(lat_old, 95), 3),
        "latency_p95_new": _round(percentile(lat_new, 95), 3),
        "latency_ratio": _round(ratio(p50_new, p50_old)),
        "prompt_tokens_old": sum(r.prompt_tokens_old for r in ok),
        "prompt_tokens_new": sum(r.prompt_tokens_new for r in ok),
        "completion_tokens_old": sum(r.completion_tokens_old for r in ok),
        "completion_tokens_new": sum(r.completion_tokens_new for r in ok),
        "tokens_old": tokens_old,
        "tokens_new": tokens_new,
        # No request succeeded: nothing was measured, and 0 / 0 tokens is no "same as before".
        "tokens_ratio": _round(ratio(tokens_new, tokens_old)) if ok else None,
        "cost_old": _round(cost_old, 10),
        "cost_new": _round(cost_new, 10),
        "cost_ratio": _round(ratio(cost_new, cost_old)),
        "judge_count": len(judged),
        "judge_mean": _round(_mean(judged)),
        "skipped_no_body": skipped_no_body,
        "skipped_endpoint": skipped_endpoint,
    }
    assert tuple(summary) == SUMMARY_FIELDS
    return summary


def build_report(
    meta: dict[str, Any], summary: dict[str, Any], rows: Sequence[Row]
) -> dict[str, Any]:
    return {
        "version": REPORT_VERSION,
        **meta,
        "summary": summary,
        "rows": [asdict(r) for r in rows],
    }


def report_paths(text: str) -> tuple[Path, Path]:
    """The JSON report's path for `--report TEXT` and the HTML report's beside it (the same name
    with `.html` for its suffix; `.html` added to a name that has it already, so the HTML never
    overwrites the JSON), both checked before the first request is sent: UsageError when either
    could not be written, or would replace a directory, FIFO or device."""
    if not text or text.endswith(("/", os.sep)) or Path(text).name in ("", ".", ".."):
        raise UsageError(f"--report {text!r} names no file (give a path like eval/report.json)")
    path = Path(text)
    if path.suffix.lower() == ".html":
        html = path.with_name(path.name + ".html")
    else:
        html = path.with_suffix(".html")
    for target in (path, html):
        _check_writable(target)
    return path, html


def _check_writable(path: Path) -> None:
    try:
        mode: int | None = os.stat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:  # a file where a directory should be, a symlink loop, ...
        raise UsageError(f"cannot write the report {path}: {exc.strerror}") from None
    if mode is not None and not stat.S_ISREG(mode):
        what = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise UsageError(f"cannot write the report {path}: it is {what}")
    # The directory it goes in is made when missing: its nearest existing ancestor must be one.
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise UsageError(f"cannot write the report {path}: {ancestor} is not a directory")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write the report {path}: {ancestor} is not writable")


def write_atomic(path: Path, data: bytes) -> None:
    """Write beside the target and rename, so a reader never sees half a report. Only a
    regular file is replaced: a FIFO or device at `path` raises UsageError, untouched."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        _check_writable(path)  # checked up front too; this catches a node made since
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def write_json(path: Path, report: dict[str, Any]) -> None:
    write_atomic(path, document_json(report) + b"\n")
