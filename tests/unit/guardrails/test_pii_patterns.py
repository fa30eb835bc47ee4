"""The `patterns` PII engine: the same findings as presidio's, without presidio or spaCy."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.config.guardrail_catalog import PATTERN_ENTITIES
from gateway.config.types import RecognizerConfig
from gateway.guardrails.base import Finding, resolve
from gateway.guardrails.pii_patterns import PatternEngine, context_words
from gateway.guardrails.pii_presidio import build_presidio_analyzer
from gateway.guardrails.pii_rules import email_domain_check

CORPUS = Path(__file__).resolve().parents[2] / "data" / "pii_corpus.jsonl"
CUSTOM = (
    RecognizerConfig(
        entity="EMPLOYEE_ID", patterns=(r"\bEMP-\d{6}\b",), context=("Employee",), score=0.4
    ),
    RecognizerConfig(entity="PROJECT", deny_list=("Project Bluebird", "Nightjar")),
)
ENTITIES = [*PATTERN_ENTITIES, "EMPLOYEE_ID", "PROJECT"]
VALUES = (
    "4111 1111 1111 1111", "5555555555554444", "2221000000000009", "123-45-6789", "536 90 4399",
    "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "10.0.0.1", "192.168.1.254/24",
    "fe80::1%eth0", "::1", "2001:db8::ff00:42:8329", "00:1A:2B:3C:4D:5E", "0011.2233.4455",
    "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
    "https://example.com/a?b=c", "www.acme.io", "4155550123", "(415) 555-0100",
    "+44 20 7946 0958", "jane.doe@example.com", "EMP-123456", "2024-06-30", "555-12-3456",
)  # fmt: skip
CONTEXT = (
    "credit card", "card:", "social security number", "ssn#", "SSN:", "iban", "bank account",
    "ip address", "ip=", "client_ip=", "mac address", "bitcoin wallet", "website", "link:",
    "phone", "call me at", "mobile:", "tel.", "email", "e-mail:", "Employee badge", "reach",
    "nothing",
)  # fmt: skip
FILLER = (
    "the", "of", "and", "a", "our", "new", "report", "team", "kindly", "=", "+", "$", "—", "(",
    ")", "very", "is", "was", "be", "\n", "\n\n ",
)  # fmt: skip


def _texts() -> list[str]:
    """The corpus, plus values at every distance from a context word (the boost's window)."""
    texts = [json.loads(line)["text"] for line in CORPUS.read_text().splitlines() if line]
    rng = random.Random(7)
    lines = []
    for _ in range(300):
        gap = " ".join(rng.choice(FILLER) for _ in range(rng.randint(0, 9)))
        ending = rng.choice([".", "", ",", " ok", ")"])
        lines.append(f"{rng.choice(CONTEXT)} {gap} {rng.choice(VALUES)}{ending}")
    joined = "\n".join(lines)
    return texts + lines + [joined[i : i + 700] for i in range(0, len(joined), 700)]


def _found(analyzer: Any, text: str, threshold: float) -> list[Finding]:
    results = analyzer.analyze(text, language="en", entities=ENTITIES, score_threshold=threshold)
    return resolve(Finding(r.entity_type, r.start, r.end, round(r.score, 6)) for r in results)


@pytest.fixture(scope="module")
def engines() -> tuple[PatternEngine, Any]:
    mine = PatternEngine(PATTERN_ENTITIES, CUSTOM, email_domain_check())
    return mine, build_presidio_analyzer(PATTERN_ENTITIES, CUSTOM, None)


@pytest.mark.parametrize("threshold", [0.0, 0.5])
def test_same_findings_and_scores_as_presidio(
    engines: tuple[PatternEngine, Any], threshold: float
) -> None:
    mine, presidio = engines
    differ = [
        (text, _found(mine, text, threshold), _found(presidio, text, threshold))
        for text in _texts()
        if _found(mine, text, threshold) != _found(presidio, text, threshold)
    ]
    assert differ == []


def test_context_words_count_as_presidio_does() -> None:
    text = "Call the office (mobile): +44 20 7946 0958"
    # Stop words ("the", and "call" is one in spaCy's list) and punctuation are not counted;
    # the match's own word ("+", a prefix of its own) is.
    assert context_words(text, text.index("+44")) == ["+", "mobile", "office"]


def test_patterns_engine_imports_neither_presidio_nor_spacy() -> None:
    code = (
        "import sys\n"
        "from gateway.config.types import GuardrailConfig\n"
        "from gateway.guardrails.pii import build_pii\n"
        "d = build_pii(GuardrailConfig(name='p', type='pii'), {})\n"
        "assert d.scan('write to a@example.com or +44 20 7946 0958')\n"
        "heavy = ('spacy', 'presidio_analyzer')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
