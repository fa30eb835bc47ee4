"""`gateway stats --drift`: has the traffic of the last window moved away from the baseline?

Per model and prompt version, the window (the last `--window`, default 1 day, ending at
`--until` or the log's last record) is compared with the baseline (the `--baseline` before it,
default 7 days):
- the Population Stability Index of prompt tokens, output tokens, latency and TTFT: ten bins
  at the baseline's deciles (plus one for each decile value holding a tenth of the baseline),
  `PSI = sum((w - b) * ln(w / b))` over the bins' shares (an empty bin counts as 0.0001); of
  the finish reasons, over their categories;
- the error rate and the refusal rate (finish reason `content_filter` / `refusal`, or a
  guardrail or content-policy refusal), in percentage points;
- cost per request and per session (`x-gateway-session-id`), as a relative change.

A PSI above 0.2 or a cost change above 30 % is flagged. A metric needs `MIN_SAMPLES` values on
each side; with fewer it is reported as null, never flagged.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass
from typing import Any

from gateway.observability.log_reader import Record

PSI_FLAG = 0.2
COST_FLAG = 0.30
MIN_SAMPLES = 20
BINS = 10
_EMPTY = 1e-4
NUMERIC = {
    "prompt_tokens": "prompt_tokens",
    "output_tokens": "completion_tokens",
    "latency_ms": "latency_ms",
    "ttft_ms": "ttft_ms",
}
REFUSALS = frozenset({"content_filter", "refusal"})
REFUSAL_ERRORS = frozenset({"content_policy_violation", "guardrail_blocked"})


@dataclass(frozen=True)
class Windows:
    baseline: tuple[float, float]
    window: tuple[float, float]


def windows(end: float, window_s: float, baseline_s: float) -> Windows:
    return Windows((end - window_s - baseline_s, end - window_s), (end - window_s, end))


def psi(baseline: Sequence[float], window: Sequence[float]) -> float | None:
    """PSI of a numeric metric, binned at the baseline's deciles; None with too few values."""
    if len(baseline) < MIN_SAMPLES or len(window) < MIN_SAMPLES:
        return None
    ordered = sorted(baseline)
    edges = sorted({ordered[len(ordered) * i // BINS] for i in range(1, BINS)})
    # An edge holding at least a decile of the baseline by itself (a fixed prompt's token
    # count, a `max_tokens` cap) is a bin of its own: else the values above it share its bin,
    # and a baseline all at one value could never see the window move up.
    held = Counter(ordered)
    points = {edge for edge in edges if held[edge] * BINS >= len(ordered)}
    return _psi(_shares(ordered, edges, points), _shares(window, edges, points))


def category_psi(baseline: Sequence[str], window: Sequence[str]) -> float | None:
    if len(baseline) < MIN_SAMPLES or len(window) < MIN_SAMPLES:
        return None
    names = sorted(set(baseline) | set(window))
    old, new = Counter(baseline), Counter(window)
    return _psi([old[n] / len(baseline) for n in names], [new[n] / len(window) for n in names])


def _shares(values: Iterable[float], edges: list[float], points: Set[float]) -> list[float]:
    """Each bin's share of `values`: between the edges (an edge's value counting with the bin
    above it), then one bin per edge in `points` for the values equal to it."""
    point_bins = {edge: len(edges) + 1 + i for i, edge in enumerate(sorted(points))}
    counts = [0] * (len(edges) + 1 + len(points))
    total = 0
    for value in values:
        point = point_bins.get(value)
        counts[bisect.bisect_right(edges, value) if point is None else point] += 1
        total += 1
    return [count / total for count in counts]


def _psi(expected: Sequence[float], actual: Sequence[float]) -> float:
    total = 0.0
    for e, a in zip(expected, actual, strict=True):
        e, a = max(e, _EMPTY), max(a, _EMPTY)
        total += (a - e) * math.log(a / e)
    return round(total, 4)


def _numbers(records: Sequence[Record], field: str) -> list[float]:
    return [
        float(r[field])
        for r in records
        if isinstance(r.get(field), int | float) and not isinstance(r.get(field), bool)
    ]


def _rate(records: Sequence[Record], test: Callable[[Record], bool]) -> float | None:
    return round(sum(1 for r in records if test(r)) / len(records), 4) if records else None


def _is_error(record: Record) -> bool:
    return (record.get("status") or 0) >= 400 or bool(record.get("error_type"))


def _is_refusal(record: Record) -> bool:
    return record.get("finish_reason") in REFUSALS or record.get("error_type") in REFUSAL_ERRORS


def _cost_per_request(records: Sequence[Record]) -> float | None:
    costs = _numbers(records, "cost_usd")
    return sum(costs) / len(records) if records else None


def _cost_per_session(records: Sequence[Record]) -> float | None:
    sessions: dict[str, float] = {}
    for record in records:
        session = record.get("session_id")
        if isinstance(session, str):
            sessions[session] = sessions.get(session, 0.0) + float(record.get("cost_usd") or 0)
    return sum(sessions.values()) / len(sessions) if sessions else None


def _change(old: float | None, new: float | None) -> float | None:
    if old is None or new is None or old == 0:
        return None
    return round(new / old - 1, 4)


def compare(baseline: Sequence[Record], window: Sequence[Record]) -> dict[str, Any]:
    """One group's drift report: every metric, and the names of those flagged."""
    report: dict[str, Any] = {"baseline_requests": len(baseline), "window_requests": len(window)}
    flags: list[str] = []
    for name, field in NUMERIC.items():
        value = psi(_numbers(baseline, field), _numbers(window, field))
        report[f"psi_{name}"] = value
        if value is not None and value > PSI_FLAG:
            flags.append(f"psi_{name}")
    reasons = category_psi(
        [str(r.get("finish_reason")) for r in baseline],
        [str(r.get("finish_reason")) for r in window],
    )
    report["psi_finish_reason"] = reasons
    if reasons is not None and reasons > PSI_FLAG:
        flags.append("psi_finish_reason")
    for name, test in (("error_rate", _is_error), ("refusal_rate", _is_refusal)):
        old, new = _rate(baseline, test), _rate(window, test)
        report[name] = {"baseline": old, "window": new}
        if old is not None and new is not None:
            report[name]["change_pp"] = round((new - old) * 100, 2)
    for name, measure in (
        ("cost_per_request", _cost_per_request),
        ("cost_per_session", _cost_per_session),
    ):
        old, new = measure(baseline), measure(window)
        change = _change(old, new)
        report[name] = {"baseline": old, "window": new, "change": change}
        if change is not None and abs(change) > COST_FLAG:
            flags.append(name)
    report["flags"] = flags
    return report


def drift(records: Iterable[Record], spans: Windows) -> list[dict[str, Any]]:
    """One report per (model, prompt version) seen in the window, flagged ones first."""
    groups: dict[tuple[str, str], tuple[list[Record], list[Record]]] = {}
    for record in records:
        ts = record.get("ts")
        if not isinstance(ts, int | float):
            continue
        side = (
            0
            if spans.baseline[0] <= ts < spans.baseline[1]
            else 1
            if spans.window[0] <= ts <= spans.window[1]
            else None
        )
        if side is None:
            continue
        key = (str(record.get("model")), _version(record))
        groups.setdefault(key, ([], []))[side].append(record)
    reports = [
        {"model": model, "prompt_version": version, **compare(old, new)}
        for (model, version), (old, new) in sorted(groups.items())
        if new
    ]
    reports.sort(key=lambda r: not r["flags"])
    return reports


def _version(record: Record) -> str:
    prompt = record.get("prompt_id")
    return f"{prompt}@{record.get('prompt_version')}" if prompt else "(none)"
