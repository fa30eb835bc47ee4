"""The `ner` PII engine: presidio's AnalyzerEngine over a spaCy model, fully offline.

A default `AnalyzerEngine()` downloads a spaCy model and the email recognizer's tldextract
downloads the public suffix list. Here neither happens: the installed model (`pip install
'llm-gateway[ner]'`) runs under presidio's pattern recognizers plus its SpacyRecognizer, and
tldextract reads the suffix list bundled in its wheel. presidio and spaCy are imported only when
this engine is built (importing presidio imports spaCy: ~2 s, ~60 MB), never for `patterns`.
The engine also runs with a blank spaCy pipeline (`model=None`, a tokenizer only; each token's
lowercase form stands in for its lemma so the context-word boost still works): the reference the
`patterns` engine is checked against (tests/unit/guardrails/test_pii_parity.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.config.guardrail_catalog import NER_ENTITIES
from gateway.config.types import RecognizerConfig
from gateway.guardrails.pii_checks import not_ip
from gateway.guardrails.pii_phone import PHONE_CANDIDATE, PHONE_CONTEXT, phone_score
from gateway.guardrails.pii_rules import EMAIL, IPV4, email_domain_check


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

    has_domain = email_domain_check()

    class OfflineEmailRecognizer(EmailRecognizer):
        PATTERNS = [Pattern(p.name, EMAIL, p.score) for p in EmailRecognizer.PATTERNS]

        def validate_result(self, pattern_text: str) -> bool:
            return bool(has_domain(pattern_text))

    class PhoneRecognizer(LocalRecognizer):
        """Our phone rule (pii_phone.py) as a presidio recognizer."""

        def __init__(self) -> None:
            super().__init__(
                supported_entities=["PHONE_NUMBER"],
                context=list(PHONE_CONTEXT),
                name="PhoneRecognizer",
            )

        def load(self) -> None:
            pass

        def analyze(self, text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
            results = []
            for match in PHONE_CANDIDATE.finditer(text):
                value = match.group().rstrip(" .-")
                score = phone_score(value)
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

    class IpAddressRecognizer(IpRecognizer):
        # presidio's patterns with our IPv4 one (versions and OIDs are no address).
        PATTERNS = [
            Pattern(p.name, IPV4, p.score) if p.name == "IPv4" else p for p in IpRecognizer.PATTERNS
        ]

        def invalidate_result(self, pattern_text: str) -> bool:
            return not_ip(pattern_text)

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
        "IP_ADDRESS": IpAddressRecognizer,
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


def build_presidio_analyzer(
    entities: Sequence[str], custom: Sequence[RecognizerConfig], model: str | None
) -> Any:
    """A presidio AnalyzerEngine that never touches the network (`model=None`: no NER)."""
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry

    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in _recognizers(list(entities), custom, ner=model is not None):
        registry.add_recognizer(recognizer)
    return AnalyzerEngine(
        nlp_engine=_nlp_engine(model), registry=registry, supported_languages=["en"]
    )
