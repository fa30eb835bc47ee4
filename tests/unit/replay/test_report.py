from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from gateway.observability.log_reader import UsageError
from gateway.replay.charts import Series, histogram_svg
from gateway.replay.gate import parse_gate
from gateway.replay.html import render_html, word_diff
from gateway.replay.report import (
    SUMMARY_FIELDS,
    Row,
    build_report,
    ratio,
    summarize,
    write_atomic,
    write_json,
)

BASE = Row(id="r", ts=1.0, endpoint="/v1/chat/completions", model_old="a", model_new="b")


def row(**fields: object) -> Row:
    return replace(BASE, **fields)  # type: ignore[arg-type]


ROWS = [
    row(
        exact_match=True,
        similarity=1.0,
        json_asked=True,
        json_valid_old=True,
        json_valid_new=True,
        latency_ms_old=100.0,
        latency_ms_new=50.0,
        prompt_tokens_old=10,
        completion_tokens_old=10,
        prompt_tokens_new=10,
        completion_tokens_new=20,
        cost_usd_old=0.001,
        cost_usd_new=0.003,
        judge_score=8.0,
    ),
    row(
        similarity=0.5,
        tools_asked=True,
        tool_agreement=True,
        latency_ms_old=200.0,
        latency_ms_new=150.0,
        prompt_tokens_old=5,
        completion_tokens_old=5,
        prompt_tokens_new=5,
        completion_tokens_new=5,
        cost_usd_old=0.001,
        cost_usd_new=0.001,
    ),
    row(
        error="HTTP 502: boom",
        json_asked=True,
        json_valid_old=True,
        json_valid_new=False,
        tools_asked=True,
        tool_agreement=False,
        latency_ms_old=300.0,
        latency_ms_new=10.0,
        cost_usd_old=0.5,
    ),
    row(
        tools_asked=True,
        tool_agreement=None,
        similarity=0.75,
        latency_ms_old=400.0,
        latency_ms_new=250.0,
    ),
]


def test_summary_numbers() -> None:
    s = summarize(ROWS, skipped_no_body=3, skipped_endpoint=1)
    assert tuple(s) == SUMMARY_FIELDS
    assert (s["count"], s["ok_count"], s["error_count"], s["error_rate"]) == (4, 3, 1, 0.25)
    assert s["exact_match_rate"] == 0.25
    assert s["similarity_mean"] == pytest.approx((1.0 + 0.5 + 0.0 + 0.75) / 4)
    assert s["similarity_min"] == 0.0
    assert (s["json_count"], s["json_valid_rate"], s["json_valid_rate_old"]) == (2, 0.5, 1.0)
    assert (s["tool_count"], s["tool_agreement_rate"]) == (
        2,
        0.5,
    )  # unknown (None) rows are not counted
    # Latency, tokens and cost: only requests that succeeded now.
    assert (s["latency_p50_old"], s["latency_p50_new"]) == (200.0, 150.0)
    assert s["latency_ratio"] == 0.75
    assert (s["tokens_old"], s["tokens_new"], s["tokens_ratio"]) == (
        30,
        40,
        pytest.approx(4 / 3, abs=1e-6),
    )
    assert (s["cost_old"], s["cost_new"], s["cost_ratio"]) == (0.002, 0.004, 2.0)
    assert (s["judge_count"], s["judge_mean"]) == (1, 8.0)
    assert (s["skipped_no_body"], s["skipped_endpoint"]) == (3, 1)


def test_empty_summary_is_all_unknown() -> None:
    s = summarize([])
    assert (
        s["count"] == 0
        and s["similarity_mean"] is None
        and s["cost_ratio"] is None
        and s["error_rate"] is None
    )


def test_a_replay_where_every_request_failed_passes_no_ratio_gate() -> None:
    """With every new request failed, the token sums over succeeded rows were 0 and 0, and
    `tokens_ratio` said 1.0: `--gate "tokens_ratio <= 1.2"` passed a replay that measured
    nothing."""
    s = summarize([row(error="HTTP 429: slow down"), row(error="HTTP 502: boom")])
    assert (s["ok_count"], s["tokens_ratio"], s["cost_ratio"], s["latency_ratio"]) == (
        0,
        None,
        None,
        None,
    )
    assert parse_gate("tokens_ratio <= 1.2", SUMMARY_FIELDS).evaluate(s)[0] is False


def test_ratio() -> None:
    assert ratio(2.0, 1.0) == 2.0 and ratio(0.0, 0.0) == 1.0
    assert ratio(1.0, 0.0) is None and ratio(None, 1.0) is None


def test_word_diff_escapes_and_marks_changes() -> None:
    diff = word_diff("a <b>bold</b> & old", "a <b>bold</b> & new")
    assert "<b>" not in diff and "&lt;b&gt;bold&lt;/b&gt; &amp; " in diff
    assert diff.endswith("<del>old</del><ins>new</ins>")
    assert word_diff("same", "same") == "same"


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.links += [v or "" for k, v in attrs if k in ("src", "href")]


def test_html_is_self_contained_and_escaped() -> None:
    rows = [
        replace(r, answer_old="<script>alert(1)</script>", answer_new="x & y", id="<id>")
        for r in ROWS
    ]
    report = build_report(
        {"created": "now", "log": "<log>", "model": "m<b>", "target": "t"}, summarize(rows), rows
    )
    report["gate"] = {"expression": "a < b", "passed": False, "details": ["a<b: FALSE (a = <1>)"]}
    html = render_html(report)
    assert "<script>" not in html and "&lt;script&gt;" in html and "m&lt;b&gt;" in html
    assert "a &lt; b" in html and "FAILED" in html
    parser = Tags()
    parser.feed(html)
    assert (
        parser.tags.count("svg") == 4
        and parser.tags.count("details") == 4
        and "style" in parser.tags
    )
    assert "script" not in parser.tags and not parser.links
    # Worst first: the failed row's summary comes before the exact match's.
    assert html.index("HTTP 502: boom") < html.index("· exact ·")


def test_histogram_svg() -> None:
    svg = histogram_svg(
        "Latency <ms>", [Series("old", "#888", [1, 2, 2, 3]), Series("new", "#00f", [2, 2, 2])]
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>") and "Latency &lt;ms&gt;" in svg
    assert svg.count("<rect") >= 2 + 3  # legend squares + bars
    assert "no data" in histogram_svg("x", [Series("old", "#888", [])])
    assert "<rect" in histogram_svg("one value", [Series("old", "#888", [5.0, 5.0])])


def test_report_writes_token_sums_past_64_bits(tmp_path: Path) -> None:
    """Each row's counts are below 2**53; a few thousand of them add up past orjson's range."""
    rows = [Row("req", 1.0, "/v1/chat/completions", "a", "b", prompt_tokens_new=2**53 - 1)] * 2050
    summary = summarize(rows)
    assert summary["prompt_tokens_new"] > 2**64
    write_json(tmp_path / "r.json", build_report({}, summary, rows))
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["prompt_tokens_new"] == 2050 * (2**53 - 1)


def test_write_atomic_replaces_only_a_regular_file(tmp_path: Path) -> None:
    """A FIFO made after the up-front check is still not renamed over (os.replace would)."""
    fifo = tmp_path / "r.json"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file"):
        write_atomic(fifo, b"{}")
    assert stat.S_ISFIFO(fifo.stat().st_mode) and os.listdir(tmp_path) == ["r.json"]
    write_atomic(tmp_path / "sub" / "ok.json", b"{}")
    write_atomic(tmp_path / "sub" / "ok.json", b"[]")
    assert (tmp_path / "sub" / "ok.json").read_bytes() == b"[]"
