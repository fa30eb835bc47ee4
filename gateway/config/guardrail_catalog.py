"""The guardrails' entity names and default thresholds: what the config loader checks a
policy against, and what the detectors (gateway/guardrails) read. No engine imports here."""

from __future__ import annotations

# What the `patterns` engine finds with presidio's pattern recognizers.
PATTERN_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "URL",
    "MAC_ADDRESS",
    "CRYPTO",
)
# Added by `engine = "ner"` (a spaCy model, extra `ner`).
NER_ENTITIES = ("PERSON", "LOCATION", "NRP")
PII_ENTITIES = PATTERN_ENTITIES + NER_ENTITIES
DEFAULT_PII_ENTITIES = (
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
)

DEFAULT_THRESHOLDS = {
    "pii": 0.5,
    "regex": 0.0,
    "toxicity": 0.8,
    "prompt_injection": 0.5,
    "moderation": 0.5,
}
