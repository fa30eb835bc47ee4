"""Precision and recall of the PII guardrail (patterns engine) on the labelled corpus.

tests/data/pii_corpus.jsonl holds positives (each entity type in varied formats), the same
texts split across three stream chunks inside the value, and look-alikes that must not match
(order numbers, versions, dates, ...). The table is printed (`pytest -s` shows it); the suite
fails when recall drops below 0.95 or precision below 0.9 on the key entity types.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gateway.config.guardrail_catalog import PATTERN_ENTITIES
from gateway.config.types import GuardrailConfig
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.window import TextWindow

CORPUS = Path(__file__).resolve().parents[2] / "data" / "pii_corpus.jsonl"
GATED = ("EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "IBAN_CODE", "IP_ADDRESS")
MIN_RECALL, MIN_PRECISION = 0.95, 0.9


def load_corpus() -> list[dict[str, Any]]:
    return [json.loads(line) for line in CORPUS.read_text().splitlines() if line.strip()]


def _spans(text: str, entities: list[dict[str, str]]) -> list[tuple[str, int, int]]:
    spans, searched = [], Counter[str]()
    for e in entities:
        start = text.index(e["value"], searched[e["value"]])
        searched[e["value"]] = start + 1
        spans.append((e["type"], start, start + len(e["value"])))
    return spans


def _streamed_entities(compile_set: Callable[..., GuardrailSet], chunks: list[str]) -> Counter[str]:
    """Entity types a `redact` guardrail catches when the text arrives in these chunks."""
    guards = compile_set(
        GuardrailConfig(name="pii", type="pii", applies_to="output", action="redact")
    )
    window = TextWindow(guards, None, lambda d: None)
    released = "".join(window.push(chunk) for chunk in chunks) + window.flush()
    # Each `<ENTITY>` in the released text stands where a value was.
    return Counter({e: released.count(f"<{e}>") for e in PATTERN_ENTITIES if f"<{e}>" in released})


def test_corpus_is_big_and_varied() -> None:
    rows = load_corpus()
    kinds = Counter(r["kind"] for r in rows)
    assert len(rows) >= 200
    assert kinds["lookalike"] >= 60 and kinds["stream"] >= 30
    assert {e["type"] for r in rows for e in r["entities"]} >= set(GATED)


def test_precision_and_recall_per_entity(compile_set: Callable[..., GuardrailSet]) -> None:
    detector = compile_set(GuardrailConfig(name="pii", type="pii")).input[0].detector
    assert detector is not None
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    misses: list[str] = []
    for row in load_corpus():
        text = row["text"]
        gold = _spans(text, row["entities"])
        if row["kind"] == "stream":
            caught = _streamed_entities(compile_set, row["chunks"])
            for entity, _, _ in gold:
                if caught[entity] > 0:
                    caught[entity] -= 1
                    tp[entity] += 1
                else:
                    fn[entity] += 1
                    misses.append(f"stream miss {entity}: {row['chunks']}")
            for entity, extra in caught.items():
                fp[entity] += max(0, extra)
            continue
        found = detector.scan(text)
        matched: set[int] = set()
        for f in found:
            hit = next(
                (
                    i
                    for i, (e, s, end) in enumerate(gold)
                    if i not in matched and e == f.entity and f.start < end and s < f.end
                ),
                None,
            )
            if hit is None:
                fp[f.entity] += 1
                misses.append(f"false {f.entity} {text[f.start : f.end]!r} in {text!r}")
            else:
                matched.add(hit)
                tp[f.entity] += 1
        for i, (entity, s, e) in enumerate(gold):
            if i not in matched:
                fn[entity] += 1
                misses.append(f"missed {entity} {text[s:e]!r} in {text!r}")
    print("\nentity            precision  recall   tp  fp  fn")
    failures = []
    for entity in sorted(set(tp) | set(fp) | set(fn)):
        precision = tp[entity] / (tp[entity] + fp[entity]) if tp[entity] + fp[entity] else 1.0
        recall = tp[entity] / (tp[entity] + fn[entity]) if tp[entity] + fn[entity] else 1.0
        print(
            f"{entity:<17} {precision:9.3f} {recall:7.3f} "
            f"{tp[entity]:4d} {fp[entity]:3d} {fn[entity]:3d}"
        )
        if entity in GATED and (recall < MIN_RECALL or precision < MIN_PRECISION):
            failures.append(entity)
    print("\n".join(misses))
    assert not failures, f"below the bar: {failures}"
