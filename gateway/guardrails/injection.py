"""`type = "prompt_injection"`: heuristics for override phrases, role-play jailbreaks and
instructions hidden in documents or tool results, combined into one score.

Each rule that matches adds evidence: score = 1 - prod(1 - weight). A text is flagged when the
score reaches the threshold (default 0.5): one strong signal ("ignore all previous
instructions") or two weaker ones ("you are now" + "without any restrictions").
"""

from __future__ import annotations

import re

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Finding, PrefixTail
from gateway.guardrails.normalise import normalise

_I = re.IGNORECASE
RULES: tuple[tuple[str, re.Pattern[str], float], ...] = (
    (
        "IGNORE_INSTRUCTIONS",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,30}?\b(?:all|any|the|your|previous|prior|above|earlier|preceding|system|original)\b"
            r"[^.\n]{0,25}?\b(?:instructions?|prompts?|rules|directives|guidelines|guardrails)\b",
            _I,
        ),
        0.6,
    ),
    (
        "REVEAL_SYSTEM_PROMPT",
        re.compile(
            r"\b(?:reveal|show|print|repeat|output|display|leak|dump|tell me)\b[^.\n]{0,50}?"
            r"\b(?:your|the)\s+(?:system\s+prompt|initial\s+(?:prompt|instructions)"
            r"|hidden\s+(?:prompt|instructions)|instructions\s+above)",
            _I,
        ),
        0.5,
    ),
    (
        "ROLE_OVERRIDE",
        re.compile(
            r"\byou are (?:now|no longer)\b|\bfrom now on,? you (?:are|will|must|shall)\b"
            r"|\bact as an? (?:unfiltered|uncensored|unrestricted|jailbroken|evil)\b",
            _I,
        ),
        0.4,
    ),
    ("DAN", re.compile(r"\bDAN\b|\bdo anything now\b|\bAIM\b(?= mode)|\bSTAN\b"), 0.5),
    (
        "JAILBREAK_TERMS",
        re.compile(r"\b(?:jailbreak|jailbroken|developer mode|god mode|unfiltered mode)\b", _I),
        0.3,
    ),
    (
        "NO_RESTRICTIONS",
        re.compile(
            r"\b(?:without|no|free (?:of|from)|remove (?:all|any|your))\s+"
            r"(?:any\s+|all\s+|your\s+)?"
            r"(?:restrictions|filters|limitations|censorship|safety guidelines|ethical guidelines"
            r"|content polic(?:y|ies))\b",
            _I,
        ),
        0.35,
    ),
    (
        "PRETEND",
        re.compile(
            r"\b(?:pretend|imagine|roleplay|role-play)\b[^.\n]{0,40}\b(?:you are|you're|to be)\b",
            _I,
        ),
        0.2,
    ),
    (
        "FAKE_ROLE_TAGS",
        re.compile(
            r"(?im)^\s*(?:system|assistant)\s*:|<\|(?:system|im_start|im_end)\|>|\[/?(?:INST|SYS)\]|<</?SYS>>"
        ),
        0.45,
    ),
    (
        "HIDDEN_INSTRUCTION",
        re.compile(
            r"<!--[^>]{0,200}?\b(?:instructions?|ignore|assistant|AI|prompt)\b"
            r"|\b(?:AI|assistant|LLM|language model|chatbot)s?\b[^.\n]{0,25}?"
            r"\b(?:must|should|shall|are instructed to)\b[^.\n]{0,40}?"
            r"\b(?:ignore|instead|send|forward|exfiltrate|reveal|include the)\b",
            _I,
        ),
        0.55,
    ),
    (
        "NEW_INSTRUCTIONS",
        re.compile(r"\b(?:new|updated|real|actual) (?:system )?instructions?\s*:", _I),
        0.35,
    ),
    ("ZERO_WIDTH", re.compile("[\u200b\u200c\u200d\u2060\ufeff]"), 0.3),
)
_PHRASES = (
    "ignore all previous instructions",
    "disregard the system prompt",
    "you are now",
    "do anything now",
)


def injection_score(text: str) -> tuple[float, list[tuple[str, int, int]]]:
    """(score in [0, 1], matched rules with their spans). A rule matches the text as sent or
    its folded copy (`normalise`: full-width letters, zero-width characters inside words), so
    look-alike characters hide no phrase; the zero-width rule itself reads the text as sent."""
    folded = normalise(text)
    keep = 1.0
    matched: list[tuple[str, int, int]] = []
    for name, pattern, weight in RULES:
        match = pattern.search(text)
        if match:
            span = match.span()
        elif folded.text is not text and (match := pattern.search(folded.text)) is not None:
            span = folded.original_span(*match.span())
        else:
            continue
        keep *= 1 - weight
        matched.append((name, *span))
    return 1 - keep, matched


class InjectionDetector:
    # ~0.3 us of CPU per character: a long prompt (up to ~300 ms for 1 MB) goes to a thread.
    inline_limit = 2000
    window = 160

    def __init__(self, config: GuardrailConfig) -> None:
        self.threshold = config.threshold if config.threshold is not None else 0.5
        self._deny = [normalise(p.lower()).text for p in config.deny_list]
        self._tail = PrefixTail(_PHRASES + tuple(self._deny))

    def scan(self, text: str) -> list[Finding]:
        score, matched = injection_score(text)
        folded = normalise(text.lower()) if self._deny else normalise("")
        for phrase in self._deny:
            at = folded.text.find(phrase)
            if at >= 0:
                score = 1.0
                matched.append(("DENY_LIST", *folded.original_span(at, at + len(phrase))))
        if score < self.threshold:
            return []
        return [Finding(name, start, end, score) for name, start, end in matched]

    def tail(self, text: str) -> int:
        return max(self._tail(text), min(len(text), 40))
