"""Tens of thousands of findings in one text (a large prompt full of addresses) are settled in
O(n log n): overlaps are found by bisection, not by comparing every pair. The work is counted
(reads of a finding's `start`), never timed."""

from __future__ import annotations

import random
from typing import Any

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Finding, resolve
from gateway.guardrails.compiled import compile_guardrails, decide

READS = {"start": 0}


class Counted(Finding):
    """A finding that counts how often its start is read."""

    def __getattribute__(self, name: str) -> Any:
        if name == "start":
            READS["start"] += 1
        return super().__getattribute__(name)


def brute_force(findings: list[Finding]) -> list[Finding]:
    """The rule of `resolve`, pair by pair."""
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    for f in ranked:
        if all(f.end <= k.start or f.start >= k.end for k in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def test_resolve_keeps_what_the_pairwise_rule_keeps() -> None:
    rnd = random.Random(7)
    for _ in range(300):
        findings = []
        for _ in range(rnd.randint(0, 25)):
            start = rnd.randint(0, 60)
            end = start + rnd.choice([0, 1, 2, 5, 9])
            findings.append(Finding("E", start, end, rnd.choice([0.4, 0.7, 1.0])))
        assert resolve(findings) == brute_force(findings)


def test_many_findings_are_resolved_and_decided_without_comparing_every_pair() -> None:
    n = 5000
    findings: list[Finding] = [Counted("EMAIL_ADDRESS", 10 * i, 10 * i + 8) for i in range(n)]
    findings += [Counted("URL", 10 * i + 2, 10 * i + 8, 0.5) for i in range(n)]
    (guard,) = compile_guardrails([GuardrailConfig(name="pii", type="pii", action="redact")]).input
    READS["start"] = 0
    kept = resolve(findings)
    decision = decide("x" * 10 * n, [(guard, kept)], None)
    assert len(kept) == n and len(decision.edits) == n
    assert READS["start"] < 40 * n  # pairwise: n * n / 2 reads
