"""PII with presidio-analyzer, fully offline.

A default `AnalyzerEngine()` downloads a spaCy model and the email recognizer's tldextract
downloads the public suffix list. Here neither happens: the `patterns` engine runs a blank
spaCy pipeline (a tokenizer only; each token's lowercase form stands in for its lemma so
presidio's context-word boost still works) under presidio's pattern recognizers, and tldextract
reads the suffix list bundled in its wheel. `engine = "ner"` adds PERSON / LOCATION / NRP from an
installed spaCy model (`pip install 'llm-gateway[ner]'`); without one it falls back to
`patterns` and says so in the log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from typing import Any

from gateway.config.types import GuardrailConfig, RecognizerConfig
from gateway.guardrails.base import Finding, GuardrailUnavailable, max_width, resolve, suffix_run
from gateway.guardrails.catalog import DEFAULT_PII_ENTITIES, NER_ENTITIES
from gateway.guardrails.normalise import normalise

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

_PHONE_CANDIDATE = re.compile(
    r"(?<![\w+\-./])(?:(?:\+|00)\d{1,3}[\s.\-]?)?(?:\(\d{1,5}\)[\s.\-]?)?\d[\d\s.\-]{4,17}\d(?![\w@]|[.\-/:]\d)"
)
_PHONE_REJECT = (
    re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"),  # dates
    re.compile(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"),
    re.compile(r"(?:19|20)\d{2}[-./]\d+(?:[-./]\d+)*"),  # year-led references: 2024-117-0042
    re.compile(r"\d{1,3}(?:\.\d{1,3}){3}"),  # IPv4
    re.compile(r"\d{3}[\s.\-]\d{2}[\s.\-]\d{4}"),  # SSN shape
    re.compile(r"\d{5}-\d{4}|\d{2}-\d{7}"),  # ZIP+4, US tax id
    re.compile(r"\d+\.\d+"),  # decimals
)
# National formats: a leading 0 is the trunk prefix of these; anything else must be a NANP number.
_TRUNK_REGIONS = ("GB", "DE", "FR", "NL", "IT", "AU", "IN", "BR", "IE", "CH", "AT", "BE")
_NANP_REGIONS = ("US", "CA")


def _lemma_artifacts(engine: Any, doc: Any, language: str) -> Any:
    from presidio_analyzer.nlp_engine import NlpArtifacts

    entities = list(doc.ents) if doc.has_annotation("ENT_IOB") else []
    mapping = engine.ner_model_configuration.model_to_presidio_entity_mapping
    kept = []
    for span in entities:
        label = mapping.get(span.label_)
        if label in NER_ENTITIES:
            span.label_ = label
            kept.append(span)
    return NlpArtifacts(
        entities=kept,
        tokens=doc,
        tokens_indices=[token.idx for token in doc],
        # A blank pipeline has no lemmatizer; the lowercase form keeps context words working.
        lemmas=[token.lemma_ or token.lower_ for token in doc],
        nlp_engine=engine,
        language=language,
        scores=[0.85] * len(kept),
    )


def _nlp_engine(model: str | None) -> Any:
    import spacy
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    class OfflineNlpEngine(SpacyNlpEngine):
        """spaCy without downloads: a blank English pipeline, or an installed model."""

        def load(self) -> None:
            nlp = (
                spacy.load(model, exclude=["parser", "lemmatizer"]) if model else spacy.blank("en")
            )
            self.nlp = {"en": nlp}  # type: ignore[assignment]

        def _doc_to_nlp_artifact(self, doc: Any, language: str) -> Any:
            return _lemma_artifacts(self, doc, language)

    engine = OfflineNlpEngine(models=[{"lang_code": "en", "model_name": model or "blank"}])
    engine.load()
    return engine


def _recognizers(
    entities: Sequence[str], custom: Sequence[RecognizerConfig], ner: bool
) -> list[Any]:
    import phonenumbers
    import tldextract
    from presidio_analyzer import (
        AnalysisExplanation,
        EntityRecognizer,
        LocalRecognizer,
        Pattern,
        PatternRecognizer,
        RecognizerResult,
    )
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        CryptoRecognizer,
        EmailRecognizer,
        IbanRecognizer,
        IpRecognizer,
        MacAddressRecognizer,
        SpacyRecognizer,
        UrlRecognizer,
        UsSsnRecognizer,
    )

    # The suffix list shipped inside tldextract's wheel; never the network.
    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)

    class OfflineEmailRecognizer(EmailRecognizer):
        def validate_result(self, pattern_text: str) -> bool:
            return bool(extract(pattern_text).fqdn)

    class PhoneRecognizer(LocalRecognizer):
        """Phone numbers: cheap candidates by regex, each validated by libphonenumber.

        A formatted number (`+`, parentheses or separators) scores 0.7; bare digits score 0.3 and
        need a context word ("phone", "call", ...) to pass the default threshold, so order
        numbers and ids do not.
        """

        CONTEXT = (
            "phone",
            "telephone",
            "tel",
            "cell",
            "mobile",
            "call",
            "fax",
            "whatsapp",
            "reach",
        )

        def __init__(self) -> None:
            super().__init__(
                supported_entities=["PHONE_NUMBER"],
                context=list(self.CONTEXT),
                name="PhoneRecognizer",
            )

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            results = []
            for match in _PHONE_CANDIDATE.finditer(text):
                value = match.group().rstrip(" .-")
                score = _phone_score(value, phonenumbers)
                if score:
                    results.append(
                        RecognizerResult(
                            "PHONE_NUMBER",
                            match.start(),
                            match.start() + len(value),
                            score,
                            analysis_explanation=AnalysisExplanation("PhoneRecognizer", score),
                            recognition_metadata={
                                RecognizerResult.RECOGNIZER_NAME_KEY: "PhoneRecognizer",
                                RecognizerResult.RECOGNIZER_IDENTIFIER_KEY: self.id,
                            },
                        )
                    )
            return EntityRecognizer.remove_duplicates(results)

    class CardRecognizer(CreditCardRecognizer):
        # presidio's pattern plus the Mastercard 2-series (2221-2720); Luhn still decides.
        PATTERNS = CreditCardRecognizer.PATTERNS + [
            Pattern("Mastercard 2-series", r"\b2[2-7]\d{2}[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b", 0.3)
        ]

    builtin: dict[str, Any] = {
        "EMAIL_ADDRESS": OfflineEmailRecognizer,
        "PHONE_NUMBER": PhoneRecognizer,
        "CREDIT_CARD": CardRecognizer,
        "IBAN_CODE": IbanRecognizer,
        "IP_ADDRESS": IpRecognizer,
        "US_SSN": UsSsnRecognizer,
        "URL": UrlRecognizer,
        "MAC_ADDRESS": MacAddressRecognizer,
        "CRYPTO": CryptoRecognizer,
    }
    recognizers = [builtin[e]() for e in entities if e in builtin]
    if ner:
        recognizers.append(
            SpacyRecognizer(supported_entities=[e for e in entities if e in NER_ENTITIES])
        )
    for spec in custom:
        patterns = [
            Pattern(f"{spec.entity}_{i}", p, spec.score) for i, p in enumerate(spec.patterns)
        ]
        recognizers.append(
            PatternRecognizer(
                supported_entity=spec.entity,
                name=f"custom_{spec.entity}",
                patterns=patterns or None,  # type: ignore[arg-type]
                deny_list=list(spec.deny_list) or None,  # type: ignore[arg-type]
                deny_list_score=spec.score,
                context=list(spec.context) or None,  # type: ignore[arg-type]
            )
        )
    return recognizers


def _phone_score(value: str, phonenumbers: Any) -> float:
    """0.7 for a valid formatted number, 0.3 for valid bare digits (needs context), else 0."""
    digits = sum(c.isdigit() for c in value)
    international = value.startswith(("+", "00"))
    formatted = international or "(" in value or bool(re.search(r"\d[\s.\-]\d", value))
    if international:
        regions: tuple[str | None, ...] = (None,)
        low = 7
    elif value.lstrip("(").startswith("0"):
        regions, low = _TRUNK_REGIONS, 9
    else:
        regions, low = _NANP_REGIONS, 10
    if not formatted:
        low = max(low, 10)
    if not low <= digits <= 15 or any(p.fullmatch(value) for p in _PHONE_REJECT):
        return 0.0
    text = "+" + value[2:] if value.startswith("00") else value
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return 0.7 if formatted else 0.3
    return 0.0


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
    """presidio's AnalyzerEngine over the configured entities and custom recognizers."""

    # ~2 ms for 200 tokens inline; longer prompts go to a thread.
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
        scanned = folded.text
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
        return min(self.window, max((suffix_run(p, text, w) for p, w in self._tails), default=0))


def build_analyzer(entities: Iterable[str], custom: Sequence[RecognizerConfig], engine: str) -> Any:
    """A presidio AnalyzerEngine that never touches the network."""
    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    model = None
    if engine == "ner":
        if spacy.util.is_package(NER_MODEL):
            model = NER_MODEL
        else:
            log.warning(
                "guardrails: engine = 'ner' needs the spaCy model %s "
                "(pip install 'llm-gateway[ner]'); "
                "using the patterns engine, so PERSON / LOCATION / NRP are not detected",
                NER_MODEL,
            )
    wanted = list(entities)
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in _recognizers(wanted, custom, ner=model is not None):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        nlp_engine=_nlp_engine(model), registry=registry, supported_languages=["en"]
    )


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
