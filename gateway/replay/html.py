"""report.html: one self-contained page (inline CSS and SVG, no script, no external asset).

Every string that came from a request, an answer or the command line is HTML-escaped; the
word diffs mark removed words with <del> and added words with <ins>.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from html import escape
from typing import Any

from gateway.replay.charts import Series, histogram_svg

OLD_COLOR, NEW_COLOR = "#8c8c8c", "#2f6fdf"
MAX_DIFF_ROWS = 1000
MAX_DIFF_TOKENS = 3000
_DIFF_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;
color:#1d1d1f;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#555;margin-bottom:12px}
table{border-collapse:collapse}
th,td{padding:4px 10px;border-bottom:1px solid #e3e3e3;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f4f5f7}
.pass{color:#137333;font-weight:600}.fail{color:#c5221f;font-weight:600}
.charts{display:flex;flex-wrap:wrap;gap:16px}
.chart{width:560px;max-width:100%;border:1px solid #e3e3e3;border-radius:6px}
.chart-title{font-weight:600;font-size:13px}.tick,.legend{font-size:11px;fill:#444}
.axis{stroke:#888}.grid{stroke:#eee}
details{border-bottom:1px solid #eee;padding:4px 0}summary{cursor:pointer}
.diff{white-space:pre-wrap;font:12px/1.4 ui-monospace,Menlo,Consolas,monospace;
background:#fafafa;padding:8px;border-radius:4px}
del{background:#ffd7d5;text-decoration:line-through}ins{background:#ccf2d1;text-decoration:none}
.err{color:#c5221f}.small{color:#666;font-size:12px}
"""


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def word_diff(old: str, new: str) -> str:
    """Escaped HTML of a word-level diff from `old` to `new`."""
    a, b = _DIFF_TOKEN.findall(old), _DIFF_TOKEN.findall(new)
    note = ""
    if len(a) > MAX_DIFF_TOKENS or len(b) > MAX_DIFF_TOKENS:
        a, b = a[:MAX_DIFF_TOKENS], b[:MAX_DIFF_TOKENS]
        note = f"\n[diff cut after {MAX_DIFF_TOKENS} tokens]"
    parts: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(escape("".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(f"<del>{escape(''.join(a[i1:i2]))}</del>")
        if j2 > j1:
            parts.append(f"<ins>{escape(''.join(b[j1:j2]))}</ins>")
    return "".join(parts) + escape(note)


def _summary_table(summary: dict[str, Any]) -> str:
    compare = [
        ("latency p50 (ms)", "latency_p50_old", "latency_p50_new", "latency_ratio"),
        ("latency p95 (ms)", "latency_p95_old", "latency_p95_new", None),
        ("prompt tokens", "prompt_tokens_old", "prompt_tokens_new", None),
        ("completion tokens", "completion_tokens_old", "completion_tokens_new", None),
        ("tokens", "tokens_old", "tokens_new", "tokens_ratio"),
        ("cost (USD)", "cost_old", "cost_new", "cost_ratio"),
        ("JSON valid (of JSON requests)", "json_valid_rate_old", "json_valid_rate", None),
    ]
    rows = []
    for label, old, new, ratio in compare:
        is_rate = "rate" in old
        shown = _pct if is_rate else _fmt
        rows.append(
            f"<tr><td>{escape(label)}</td><td>{shown(summary.get(old))}</td>"
            f"<td>{shown(summary.get(new))}</td>"
            f"<td>{_fmt(summary.get(ratio)) if ratio else ''}</td></tr>"
        )
    quality = [
        ("requests replayed", _fmt(summary["count"])),
        ("errors", f"{summary['error_count']} ({_pct(summary['error_rate'])})"),
        ("exact match", _pct(summary["exact_match_rate"])),
        ("similarity mean (token F1)", _fmt(summary["similarity_mean"])),
        (
            "similarity p50 / min",
            f"{_fmt(summary['similarity_p50'])} / {_fmt(summary['similarity_min'])}",
        ),
        ("JSON valid (new)", f"{_pct(summary['json_valid_rate'])} of {summary['json_count']}"),
        (
            "tool-call agreement",
            f"{_pct(summary['tool_agreement_rate'])} of {summary['tool_count']}",
        ),
        ("judge mean (1-10)", f"{_fmt(summary['judge_mean'])} of {summary['judge_count']}"),
        (
            "skipped: no request body / other endpoint",
            f"{summary['skipped_no_body']} / {summary['skipped_endpoint']}",
        ),
    ]
    quality_rows = "".join(f"<tr><td>{escape(k)}</td><td>{v}</td></tr>" for k, v in quality)
    return (
        '<div class="charts"><table><thead><tr><th>answers</th><th></th></tr></thead>'
        f"<tbody>{quality_rows}</tbody></table>"
        "<table><thead><tr><th></th><th>old</th><th>new</th><th>new/old</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def _gate_block(gate: dict[str, Any] | None) -> str:
    if not gate:
        return ""
    verdict = (
        '<span class="pass">PASSED</span>' if gate["passed"] else '<span class="fail">FAILED</span>'
    )
    lines = "".join(f"<li>{escape(line)}</li>" for line in gate["details"])
    return (
        f"<h2>Gate {verdict}</h2><p><code>{escape(gate['expression'])}</code></p><ul>{lines}</ul>"
    )


def _charts(rows: Sequence[dict[str, Any]]) -> str:
    ok = [r for r in rows if r["error"] is None]
    lat = [
        Series(
            "old", OLD_COLOR, [r["latency_ms_old"] for r in ok if r["latency_ms_old"] is not None]
        ),
        Series(
            "new", NEW_COLOR, [r["latency_ms_new"] for r in ok if r["latency_ms_new"] is not None]
        ),
    ]
    cost = [
        Series(
            "old", OLD_COLOR, [r["cost_usd_old"] * 1e6 for r in ok if r["cost_usd_old"] is not None]
        ),
        Series(
            "new", NEW_COLOR, [r["cost_usd_new"] * 1e6 for r in ok if r["cost_usd_new"] is not None]
        ),
    ]
    tokens = [
        Series("old", OLD_COLOR, [r["prompt_tokens_old"] + r["completion_tokens_old"] for r in ok]),
        Series("new", NEW_COLOR, [r["prompt_tokens_new"] + r["completion_tokens_new"] for r in ok]),
    ]
    sims = [Series("new vs old", NEW_COLOR, [r["similarity"] for r in rows])]
    return (
        '<div class="charts">'
        + "".join(
            (
                histogram_svg("Latency per request (ms)", lat),
                histogram_svg("Cost per request (micro-USD)", cost),
                histogram_svg("Tokens per request", tokens, fmt=lambda v: f"{v:.0f}"),
                histogram_svg(
                    "Similarity (token F1)",
                    sims,
                    bins=10,
                    domain=(0.0, 1.0),
                    fmt=lambda v: f"{v:.1f}",
                ),
            )
        )
        + "</div>"
    )


def _request_rows(rows: Sequence[dict[str, Any]]) -> str:
    parts = []
    # Worst first: failed requests, then by similarity, so a reviewer starts where it matters.
    ordered = sorted(rows, key=lambda r: (r["error"] is None, r["exact_match"], r["similarity"]))
    for row in ordered[:MAX_DIFF_ROWS]:
        flags = [
            f"similarity {_fmt(row['similarity'], 3)}",
            "exact" if row["exact_match"] else "differs",
        ]
        if row["json_asked"]:
            flags.append(f"JSON valid: {_fmt(row['json_valid_new'])}")
        if row["tools_asked"]:
            flags.append(f"tools agree: {_fmt(row['tool_agreement'])}")
        flags.append(f"latency {_fmt(row['latency_ms_old'])} → {_fmt(row['latency_ms_new'])} ms")
        flags.append(f"cost {_fmt(row['cost_usd_old'])} → {_fmt(row['cost_usd_new'])} USD")
        if row["judge_score"] is not None:
            flags.append(f"judge {_fmt(row['judge_score'])}")
        error = f' <span class="err">{escape(row["error"])}</span>' if row["error"] else ""
        judge = (
            f'<p class="small">judge: {escape(row["judge_reason"])}</p>'
            if row["judge_reason"]
            else ""
        )
        parts.append(
            f"<details><summary><code>{escape(str(row['id']))}</code> {escape(row['endpoint'])} "
            f"{escape(str(row['model_old']))} → {escape(row['model_new'])}: "
            f"{escape(' · '.join(flags))}{error}</summary>"
            f'{judge}<div class="diff">{word_diff(row["answer_old"], row["answer_new"])}'
            "</div></details>"
        )
    if len(rows) > MAX_DIFF_ROWS:
        parts.append(f'<p class="small">{len(rows) - MAX_DIFF_ROWS} more rows in report.json.</p>')
    return "".join(parts)


def render_html(report: dict[str, Any]) -> str:
    """The whole page for a report as `build_report` returns it (plus an optional `gate`)."""
    summary = report["summary"]
    rows = report["rows"]
    old_models = sorted({str(r["model_old"]) for r in rows}) or ["logged"]
    shown_old = ", ".join(old_models[:3]) + (
        f" (+{len(old_models) - 3})" if len(old_models) > 3 else ""
    )
    title = f"Replay: {shown_old} → {report['model']}"
    meta = (
        f"{escape(str(report.get('created')))} · "
        f"log <code>{escape(str(report.get('log')))}</code> · "
        f"target {escape(str(report.get('target')))}"
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><div class="meta">{meta}</div>'
        f"{_gate_block(report.get('gate'))}"
        f"<h2>Summary</h2>{_summary_table(summary)}"
        f"<h2>Distributions, old vs new</h2>{_charts(rows)}"
        f"<h2>Requests ({len(rows)})</h2>"
        '<p class="small">Worst first. '
        "Word diff of each answer: <del>logged</del> <ins>new</ins>.</p>"
        f"{_request_rows(rows)}"
        "</body></html>\n"
    )
