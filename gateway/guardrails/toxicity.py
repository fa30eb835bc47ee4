"""`type = "toxicity"`: an offline classifier (alt-profanity-check, extra `toxicity-ml`).

The classifier judges by word choice: it flags "How do I kill a Python process?" and misses
threats without swear words. Common technical idioms are neutralised before it looks, and
`deny_list` words always count; for threats and subtler abuse use `type = "moderation"`.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Finding, GuardrailUnavailable, PrefixTail, resolve
from gateway.guardrails.normalise import normalise

_SENTENCE = re.compile(r"[^.!?\n]+[.!?\n]*")
_SENTENCE_END = re.compile(r"[.!?\n]")
# Programming and office idioms with violent words; replaced by a neutral verb before scoring.
_IDIOMS = re.compile(
    r"\b(?:kill(?:ed|ing|s)?|terminate|nuke|shoot)\b"
    r"(?=\s+(?:-\d+|-[A-Z]+|the\s+|a\s+|an\s+|this\s+|that\s+|my\s+|all\s+|every\s+)?"
    r"(?:\w+\s+){0,2}(?:process(?:es)?|jobs?|tasks?|threads?|servers?|containers?|pods?"
    r"|sessions?|commands?|signals?|pid|services?|workers?|daemons?|connections?|queries|query"
    r"|an? email|me an email|a message|branch(?:es)?)\b)"
    r"|\bkill\s+-\d+|\bkillall\b|\bpkill\b|\bdead ?lock(?:s|ed)?\b|\bzombie process(?:es)?\b",
    re.IGNORECASE,
)


class ToxicityDetector:
    # sklearn takes ~10 ms for a 200-token prompt: always off the event loop.
    inline_limit = 0
    window = 400

    def __init__(self, config: GuardrailConfig) -> None:
        try:
            from profanity_check import predict_prob  # type: ignore[import-untyped]
        except ImportError as exc:
            raise GuardrailUnavailable(
                "the toxicity classifier needs alt-profanity-check: "
                "pip install 'llm-gateway[toxicity-ml]'"
            ) from exc
        self._predict: Any = predict_prob
        self.threshold = config.threshold if config.threshold is not None else 0.8
        phrases = sorted({normalise(p).text for p in config.deny_list}, key=len, reverse=True)
        self._deny = (
            re.compile(
                r"(?<!\w)(?:" + "|".join(re.escape(p) for p in phrases) + r")(?!\w)", re.IGNORECASE
            )
            if phrases
            else None
        )
        self._deny_tail = PrefixTail(phrases)

    def scan(self, text: str) -> list[Finding]:
        """Sentences judged, and deny-list phrases found, in the folded text (`normalise`:
        full-width letters and zero-width characters inside a word hide nothing); each finding
        with the span of the text as sent."""
        folded = normalise(text)
        found = self._scan(folded.text)
        if folded.text is text:
            return found
        return [Finding(f.entity, *folded.original_span(f.start, f.end), f.score) for f in found]

    def _scan(self, text: str) -> list[Finding]:
        spans = [(m.start(), m.end()) for m in _SENTENCE.finditer(text) if m.group().strip()]
        found: list[Finding] = []
        if spans:
            sentences = [_IDIOMS.sub("stop", text[s:e]) for s, e in spans]
            for (start, end), score in zip(spans, self._predict(sentences)):
                if score >= self.threshold:
                    found.append(Finding("TOXICITY", start, end, float(score)))
        if self._deny is not None:
            found += [Finding("DENY_LIST", m.start(), m.end()) for m in self._deny.finditer(text)]
        return resolve(found)

    def tail(self, text: str) -> int:
        # A sentence is judged whole: hold back the one still being written.
        last = max(
            (m.end() for m in _SENTENCE_END.finditer(text, max(0, len(text) - self.window))),
            default=-1,
        )
        open_sentence = len(text) - last if last >= 0 else len(text)
        return min(self.window, max(open_sentence, self._deny_tail(text)))
