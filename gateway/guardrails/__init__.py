"""Guardrails: scan what goes to the provider and what comes back, then act on the findings.

    base.py         Finding, the Detector interface, action helpers
    pii.py          the PII detector over one of two engines, offline
    pii_patterns.py the `patterns` engine: presidio's pattern rules run directly (no spaCy)
    pii_rules.py    those rules: patterns, scores, context words, checks (pii_iban.py: formats)
    pii_phone.py    phone numbers: regex candidates validated by libphonenumber (both engines)
    pii_presidio.py the `ner` engine: presidio-analyzer over a spaCy model (imported only here)
    regex.py        operator regexes and deny lists
    toxicity.py     offline classifier (alt-profanity-check)
    injection.py    prompt-injection heuristics with a score
    moderation.py   a moderation model asked through the gateway's own routing
    compiled.py     config -> GuardrailSet, built once per config (Runtime.guardrails)
    bodies.py       the texts of a request / answer, in both wire formats
    stream.py       the sliding window over a streamed answer
    stream_responses_windows.py  the streamed answer's Responses API events, for stream.py
    stages.py       the pipeline stages `guard_input` and `guard_output`

The entity names and default thresholds the config loader checks against are the config's
(gateway/config/guardrail_catalog.py): the config never imports a guardrail.
"""
