"""`type = "regex"`: operator regexes and a deny list of words or phrases, no NLP engine."""

from __future__ import annotations

import re

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Finding, PrefixTail, max_width, resolve
from gateway.guardrails.normalise import normalise


class RegexDetector:
    # ~0.04 us per character and pattern; a long text goes to a thread (operator regexes can
    # be slower still).
    inline_limit = 20_000

    def __init__(self, config: GuardrailConfig) -> None:
        self.entity = (
            config.entities[0] if config.entities else config.name.upper().replace("-", "_")
        )
        self._patterns = [re.compile(p) for p in config.patterns]
        # Each phrase as written and as `normalise` folds it (the folded text is scanned too).
        folded = {normalise(p).text for p in config.deny_list}
        phrases = sorted(set(config.deny_list) | folded, key=len, reverse=True)
        self._deny = (
            re.compile(
                r"(?<!\w)(?:" + "|".join(re.escape(p) for p in phrases) + r")(?!\w)", re.IGNORECASE
            )
            if phrases
            else None
        )
        self._pattern_window = max((max_width(p) for p in config.patterns), default=0)
        self._deny_tail = PrefixTail(phrases)
        self.window = max(self._pattern_window, self._deny_tail.longest, 1)

    def scan(self, text: str) -> list[Finding]:
        """Matches in the text as sent and, when it is not plain ASCII, in its folded copy
        (`normalise`: full-width letters, zero-width characters and no-break spaces inside a
        phrase hide nothing), each with the span of the text as sent."""
        found = self._matches(text)
        folded = normalise(text)
        if folded.text is not text:
            found += [
                Finding(self.entity, *folded.original_span(f.start, f.end))
                for f in self._matches(folded.text)
            ]
        return resolve(found)

    def _matches(self, text: str) -> list[Finding]:
        found = [
            Finding(self.entity, m.start(), m.end())
            for p in self._patterns
            for m in p.finditer(text)
            if m.end() > m.start()
        ]
        if self._deny is not None:
            found += [Finding(self.entity, m.start(), m.end()) for m in self._deny.finditer(text)]
        return found

    def tail(self, text: str) -> int:
        """A regex can match anything up to its width; a phrase only from one of its prefixes.
        Read like `scan` (normalised): `Project Blue\u200b` waits as `Project Blue` would."""
        recent = text[-2 * self.window :]
        folded = normalise(recent)
        held = min(len(folded.text), max(self._pattern_window, self._deny_tail(folded.text)))
        if held == 0:
            return 0
        start, _ = folded.original_span(len(folded.text) - held, len(folded.text))
        return len(recent) - start
