"""The PII guardrail: a detector over one of two engines, both offline.

`engine = "patterns"` (the default) runs presidio's pattern recognizers directly
(`pii_patterns.py`, rules in `pii_rules.py`): no presidio, no spaCy, no NLP pipeline.
`engine = "ner"` adds PERSON / LOCATION / NRP with presidio over an installed spaCy model
(`pii_presidio.py`, `pip install 'llm-gateway[ner]'`); without the model it falls back to
`patterns` and says so in the log. Only `ner` imports presidio and spaCy.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from gateway.config.guardrail_catalog import DEFAULT_PII_ENTITIES
from gateway.config.types import GuardrailConfig, RecognizerConfig
from gateway.guardrails.base import Finding, GuardrailUnavailable, max_width, resolve, suffix_run
from gateway.guardrails.normalise import normalise
from gateway.guardrails.pii_patterns import PatternEngine
from gateway.guardrails.pii_presidio import build_presidio_analyzer
from gateway.guardrails.pii_rules import email_domain_check

log = logging.getLogger("gateway.guardrails")

NER_MODEL = "en_core_web_sm"

# Per entity: the longest value a finding covers, and the end of a text that may still grow
# into one (so a stream holds back only that, not a fixed-size window).
_LIMITS: dict[str, tuple[int, str]] = {
    "EMAIL_ADDRESS": (100, r"[^\s<>()\[\]{},;\"']*$"),
    "PHONE_NUMBER": (28, r"[+(]?[\d][\d\s().\-/]*$|[+(]$"),
    "CREDIT_CARD": (24, r"\d[\d\s\-]*$"),
    "IBAN_CODE": (42, r"(?i)(?<![a-z])(?:[a-z]{1,2}|[a-z]{2}\d[\da-z ]*)$"),
    "IP_ADDRESS": (45, r"[\da-fA-F:.]*[\d:.][\da-fA-F:./%]*$|[\da-fA-F]{1,4}$"),
    "US_SSN": (11, r"\d[\d\s.\-]*$"),
    "URL": (120, r"\S*$"),
    "MAC_ADDRESS": (17, r"[\da-fA-F:.\-]*$"),
    "CRYPTO": (64, r"\w*$"),
}
# Entities that need a digit or an '@' somewhere in the text: a text with neither skips analysis.
_NEEDS_DIGIT = {
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "MAC_ADDRESS",
    "CRYPTO",
}
_TRIGGERS = {"EMAIL_ADDRESS": "@", **{e: r"\d" for e in _NEEDS_DIGIT}}

# A backslash escape of a JSON string (tool-call arguments are JSON text) or of a string
# literal in source code. Its letters are not text: read as letters, `\njane@example.org` is the
# address `njane@...`, whose redaction leaves `\<EMAIL_ADDRESS>` (invalid JSON), and
# `\n4111 1111 1111 1111` is no card (no word boundary before the 4).
# A pattern that takes a backslash (a URL's path) would end inside the escape: the rest of it
# left behind reads as another character (`a\\b` as `\b`, a backspace) or as letters.
_ESCAPE = re.compile(r"\\(?:u[0-9A-Fa-f]{4}|[\\\"/bfnrt])")


def _blank_escapes(text: str) -> str:
    """`text` with each escape, backslash included, read as spaces (same length, so spans are
    unchanged): a finding starts and ends outside an escape."""
    if "\\" not in text:
        return text
    return _ESCAPE.sub(lambda m: " " * len(m.group()), text)


# Texts longer than this are scanned in pieces (spaCy refuses texts over 1,000,000 characters,
# error E088); neighbouring pieces overlap by the longest finding's width plus this margin.
CHUNK_CHARS = 100_000
CHUNK_MARGIN = 64


def chunks(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """(start, end) of pieces of at most `size` covering `0..length`, each overlapping the
    previous one by `overlap` characters."""
    if length <= size:
        return [(0, length)]
    step = size - overlap
    return [(start, min(start + size, length)) for start in range(0, length - overlap, step)]


def merge_overlaps(findings: list[Finding]) -> list[Finding]:
    """Overlapping findings of one entity as one finding spanning them all (the best score)."""
    merged: list[Finding] = []
    for f in sorted(findings, key=lambda f: (f.entity, f.start)):
        last = merged[-1] if merged else None
        if last is not None and last.entity == f.entity and f.start < last.end:
            end, score = max(last.end, f.end), max(last.score, f.score)
            merged[-1] = Finding(f.entity, last.start, end, score)
        else:
            merged.append(f)
    return merged


def _custom_window(spec: RecognizerConfig) -> int:
    return max([len(w) for w in spec.deny_list] + [max_width(p) for p in spec.patterns] + [1])


class PiiDetector:
    """An engine (`patterns`, or presidio for `ner`) over the configured entities and custom
    recognizers."""

    # ~0.2 ms of CPU for 200 tokens with `patterns` inline; longer prompts go to a thread.
    inline_limit = 1500

    def __init__(
        self,
        analyzer: Any,
        entities: Sequence[str],
        threshold: float,
        custom: Sequence[RecognizerConfig],
    ) -> None:
        self._analyzer = analyzer
        self._entities = list(entities) + [r.entity for r in custom if r.entity not in entities]
        self._threshold = threshold
        limits = [_LIMITS[e] for e in entities if e in _LIMITS]
        custom_windows = [_custom_window(r) for r in custom]
        self.window = max([w for w, _ in limits] + custom_windows + [1])
        self._tails = [(re.compile(t), w) for w, t in limits]
        if custom:
            self._tails.append((re.compile(r"\S*$"), max(custom_windows)))
        # Every built-in entity needs a digit or an '@': prose without either is skipped.
        triggers = {_TRIGGERS.get(e) for e in entities}
        known = sorted(t for t in triggers if t is not None)
        self._trigger = None if custom or None in triggers else re.compile("|".join(known))

    def scan(self, text: str) -> list[Finding]:
        """Findings in `text`, read through `normalise` (look-alike digits, invisible characters)
        and in overlapping chunks within the engine's length limit, so no text is too long to
        scan; each finding's span is that of the original text."""
        folded = normalise(text)
        scanned = _blank_escapes(folded.text)
        if not scanned or (self._trigger is not None and self._trigger.search(scanned) is None):
            return []
        pieces = chunks(len(scanned), CHUNK_CHARS, self.window + CHUNK_MARGIN)
        found: list[Finding] = []
        for start, end in pieces:
            results = self._analyzer.analyze(
                scanned[start:end],
                language="en",
                entities=self._entities,
                score_threshold=self._threshold,
            )
            for r in results:
                first, last = folded.original_span(r.start + start, r.end + start)
                found.append(Finding(r.entity_type, first, last, r.score))
        if len(pieces) > 1:
            # A value on a cut is seen whole by the neighbouring piece and in part by the other:
            # the union of the two is the value.
            found = merge_overlaps(found)
        return resolve(found)

    def tail(self, text: str) -> int:
        """Read like `scan` (normalised, escapes blanked): a card streamed as
        `4111\u200b1111...` is held back as `41111111...` would be, the invisible characters
        with it."""
        recent = text[-2 * self.window :]
        folded = normalise(recent)
        held_text = _blank_escapes(folded.text)
        tails = (suffix_run(p, held_text, w) for p, w in self._tails)
        held = min(self.window, max(tails, default=0))
        if held == 0:
            return 0
        start, _ = folded.original_span(len(folded.text) - held, len(folded.text))
        return len(recent) - start


def ner_model_installed() -> bool:
    """Whether the spaCy model of `engine = "ner"` is installed (found without importing it)."""
    return importlib.util.find_spec(NER_MODEL) is not None


def build_analyzer(entities: Iterable[str], custom: Sequence[RecognizerConfig], engine: str) -> Any:
    """The engine's analyzer: presidio over a spaCy model for `ner`, else the pattern engine
    (which imports neither presidio nor spaCy)."""
    wanted = list(entities)
    if engine == "ner":
        if ner_model_installed():
            return build_presidio_analyzer(wanted, custom, NER_MODEL)
        log.warning(
            "guardrails: engine = 'ner' needs the spaCy model %s "
            "(pip install 'llm-gateway[ner]'); "
            "using the patterns engine, so PERSON / LOCATION / NRP are not detected",
            NER_MODEL,
        )
    return PatternEngine(wanted, custom, email_domain_check())


def build_pii(config: GuardrailConfig, analyzers: dict[Any, Any]) -> PiiDetector:
    """The detector for one `type = "pii"` guardrail; analyzers are shared within one config."""
    entities = [
        e
        for e in (config.entities or DEFAULT_PII_ENTITIES)
        if e not in {r.entity for r in config.recognizers}
    ]
    key = (tuple(entities), config.recognizers, config.engine)
    if key not in analyzers:
        try:
            analyzers[key] = build_analyzer(entities, config.recognizers, config.engine)
        except ImportError as exc:
            raise GuardrailUnavailable(f"presidio-analyzer is not installed: {exc}") from exc
    threshold = config.threshold if config.threshold is not None else 0.5
    return PiiDetector(analyzers[key], entities, threshold, config.recognizers)
