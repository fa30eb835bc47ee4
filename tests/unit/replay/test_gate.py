from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from gateway.replay.gate import GateError, parse_gate
from gateway.replay.report import SUMMARY_FIELDS

SUMMARY = {name: None for name in SUMMARY_FIELDS} | {
    "similarity_mean": 0.95,
    "cost_ratio": 1.1,
    "exact_match_rate": 0.5,
    "error_count": 0,
    "latency_ratio": 2.0,
}


def passes(text: str, values: Mapping[str, object] = SUMMARY) -> bool:
    return parse_gate(text, SUMMARY_FIELDS).evaluate(values)[0]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("similarity_mean>=0.9 and cost_ratio<=1.2", True),
        ("similarity_mean >= 0.96 and cost_ratio <= 1.2", False),
        ("similarity_mean >= 0.96 or cost_ratio <= 1.2", True),
        ("not similarity_mean < 0.9", True),
        ("not (similarity_mean >= 0.9 and cost_ratio <= 1.2)", False),
        ("(exact_match_rate == 0.5) and error_count = 0", True),
        ("error_count != 0", False),
        ("0.9 <= similarity_mean < 1", True),
        ("0.96 <= similarity_mean < 1", False),
        ("latency_ratio > -1", True),
        ("cost_ratio < 1e3", True),
        ("similarity_mean >= .9 AND cost_ratio <= 1.2", True),
        ("similarity_mean>=0.9or cost_ratio>5", True),
    ],
)
def test_gate_logic(text: str, expected: bool) -> None:
    assert passes(text) is expected


def test_sixty_four_levels_of_nesting_are_fine() -> None:
    text = "not " * 32 + "(" * 32 + "error_rate < 1" + ")" * 32
    assert parse_gate(text, SUMMARY_FIELDS).evaluate({"error_rate": 0.5})[0] is True


def test_and_binds_tighter_than_or() -> None:
    # false or (true and true) -> true; (false or true) and false would differ below.
    assert passes("error_count > 1 or similarity_mean > 0.9 and cost_ratio < 2")
    assert not passes("(error_count > 1 or similarity_mean > 0.9) and cost_ratio > 2")


def test_unknown_values_fail_and_stay_unknown_under_not() -> None:
    assert not passes("judge_mean >= 7")
    assert not passes("not judge_mean >= 7")
    assert passes("judge_mean >= 7 or similarity_mean > 0.9")  # true or unknown = true
    assert not passes("judge_mean >= 7 and similarity_mean > 0.9")  # unknown and true = unknown
    passed, lines = parse_gate("judge_mean >= 7", SUMMARY_FIELDS).evaluate(SUMMARY)
    assert not passed and lines == ["judge_mean>=7: UNKNOWN (judge_mean = unknown)"]


def test_explains_each_comparison() -> None:
    passed, lines = parse_gate(
        "similarity_mean>=0.99 and cost_ratio<=1.2", SUMMARY_FIELDS
    ).evaluate(SUMMARY)
    assert not passed
    assert lines == [
        "similarity_mean>=0.99: FALSE (similarity_mean = 0.95)",
        "cost_ratio<=1.2: true (cost_ratio = 1.1)",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("similarity_mean >=", "ends too early"),
        ("similarity_mean", "expected a comparison"),
        ("similarity >= 0.9", "did you mean similarity_mean"),
        ("__import__('os') >= 1", "unexpected character"),
        ("similarity_mean >= 0.9 and", "ends too early"),
        ("(similarity_mean >= 0.9", "missing ')'"),
        ("similarity_mean >= 0.9)", "unexpected ')'"),
        ("similarity_mean >= 0.9 0.8", "unexpected '0.8'"),
        ("similarity_mean + 1 >= 0.9", "unexpected character '+'"),
        ("- similarity_mean > 1", "'-' must be followed by a number"),
        ("open >= 1", "unknown name 'open'"),
        # Nesting that would exhaust the stack (a RecursionError before).
        ("not " * 3000 + "error_rate < 1", "deeper than 64 levels"),
        ("(" * 3000 + "error_rate < 1" + ")" * 3000, "deeper than 64 levels"),
    ],
)
def test_rejects_bad_expressions(text: str, message: str) -> None:
    with pytest.raises(GateError, match=re.escape(message)):
        parse_gate(text, SUMMARY_FIELDS)
