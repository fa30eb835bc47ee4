"""What every guardrail type shares: the finding, the detector interface, and the rewrites.

A detector is one small object: `scan(text) -> findings`, plus what a stream needs to know
(`tail(text)`: how many trailing characters may still grow into a finding). The stage, not the
detector, decides what to do with the findings (the policy's `action`).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson


@dataclass(frozen=True, slots=True)
class Finding:
    entity: str
    start: int
    end: int
    score: float = 1.0


class GuardrailUnavailable(RuntimeError):
    """A detector cannot run (optional package missing, remote model down): `on_error` decides."""


class Detector(Protocol):
    # Longest text one finding can cover: a stream never holds back more than this.
    window: int
    # Texts longer than this are scanned in a worker thread, off the event loop (0: always).
    inline_limit: int

    def scan(self, text: str) -> list[Finding]:
        """Every finding in `text` at or above the guardrail's threshold."""
        ...

    def tail(self, text: str) -> int:
        """How many characters at the end of `text` could be the start of a finding."""
        ...


def max_width(pattern: str, cap: int = 256) -> int:
    """The longest text `pattern` can match, capped (unbounded repeats count as `cap`)."""
    import importlib

    sre_parse: Any = importlib.import_module("re._parser")  # sre_parse's home since 3.11
    return min(int(sre_parse.parse(pattern).getwidth()[1]), cap)


def suffix_run(pattern: re.Pattern[str], text: str, limit: int) -> int:
    """Length of the match of `pattern` (anchored with `$`) in the last `limit` characters."""
    match = pattern.search(text, max(0, len(text) - limit))
    return match.end() - match.start() if match else 0


class PrefixTail:
    """`tail` for a finite set of phrases: the longest suffix of the text starting one of them."""

    def __init__(self, phrases: Iterable[str]) -> None:
        self._prefixes = {p.lower()[:k] for p in phrases for k in range(1, len(p) + 1)}
        self.longest = max((len(p) for p in phrases), default=0)

    def __call__(self, text: str) -> int:
        lowered = text[-self.longest :].lower() if self.longest else ""
        for k in range(len(lowered), 0, -1):
            if lowered[-k:] in self._prefixes:
                return k
        return 0


class Taken:
    """Disjoint non-empty spans, kept sorted: whether a span overlaps one costs a bisection, so
    a text with tens of thousands of findings is settled in O(n log n), not O(n^2)."""

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def overlaps(self, start: int, end: int) -> bool:
        """Whether `start..end` (non-empty) shares a character with a kept span."""
        at = bisect.bisect_left(self._ends, start + 1)  # the first span ending after `start`
        return at < len(self._starts) and self._starts[at] < end

    def around(self, position: int) -> bool:
        """Whether a kept span starts before `position` and ends after it."""
        at = bisect.bisect_left(self._starts, position) - 1
        return at >= 0 and self._ends[at] > position

    def add(self, start: int, end: int) -> None:
        at = bisect.bisect_left(self._starts, start)
        self._starts.insert(at, start)
        self._ends.insert(at, end)


def resolve(findings: Iterable[Finding]) -> list[Finding]:
    """Drop overlaps: the higher score wins, then the longer span; sorted by position."""
    ranked = sorted(findings, key=lambda f: (-f.score, -(f.end - f.start), f.start))
    kept: list[Finding] = []
    taken = Taken()
    # Empty findings (none of the detectors makes them) are compared one by one.
    empty: list[Finding] = []
    for f in ranked:
        if f.end <= f.start:
            if not taken.around(f.start):
                kept.append(f)
                empty.append(f)
        elif not taken.overlaps(f.start, f.end) and not any(
            f.start < e.start < f.end for e in empty
        ):
            kept.append(f)
            taken.add(f.start, f.end)
    return sorted(kept, key=lambda f: f.start)


def mask(value: str) -> str:
    """Partial mask: `****1111` (last four kept), `j****@example.com` for an email."""
    if "@" in value:
        local, _, domain = value.partition("@")
        return local[:1] + "****@" + domain
    kept = re.sub(r"[\s\-.()/]", "", value)[-4:]
    return "****" + kept if len(value) > 4 else "****"


@dataclass
class Placeholders:
    """The per-request map of `restore`: the same value always gets the same placeholder."""

    by_value: dict[str, str] = field(default_factory=dict)
    by_placeholder: dict[str, str] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    @classmethod
    def seeded(cls, by_placeholder: dict[str, str]) -> Placeholders:
        """The map of an earlier turn of a conversation (its placeholders are in the history):
        its values keep their placeholders, new ones are numbered after them."""
        made = cls()
        for token, value in by_placeholder.items():
            entity, _, number = token[1:-1].rpartition("_")
            if not PLACEHOLDER.fullmatch(token) or not isinstance(value, str):
                continue
            made.by_placeholder[token] = value
            made.by_value.setdefault(value, token)
            made.counts[entity] = max(made.counts.get(entity, 0), int(number))
        return made

    def placeholder(self, entity: str, value: str, taken: Set[str] = frozenset()) -> str:
        """The value's placeholder; a new one is never one of `taken` (the placeholder-like
        strings the request already holds), or the answer's copy of that string would be
        "restored" to the value."""
        known = self.by_value.get(value)
        if known is not None:
            return known
        number = self.counts.get(entity, 0) + 1
        while f"<{entity}_{number}>" in taken:
            number += 1
        self.counts[entity] = number
        token = f"<{entity}_{number}>"
        self.by_value[value] = token
        self.by_placeholder[token] = value
        return token

    def restore(self, text: str, encode: Callable[[str], str] | None = None) -> str:
        """`text` with its placeholders replaced by their values (each through `encode`)."""
        if "<" not in text or not self.by_placeholder:
            return text

        def value(match: re.Match[str]) -> str:
            found = self.by_placeholder.get(match.group(0))
            if found is None:
                return match.group(0)
            return found if encode is None else encode(found)

        return PLACEHOLDER.sub(value, text)


def json_escape(value: str) -> str:
    """`value` as it is written inside a JSON string (tool-call arguments are JSON text)."""
    return orjson.dumps(value).decode()[1:-1]


PLACEHOLDER = re.compile(r"<[A-Z][A-Z0-9_]*_\d+>")
# The end of a text that may still become a placeholder: `<EMAIL_ADD`.
PLACEHOLDER_TAIL = re.compile(r"<[A-Z0-9_]*$")
PLACEHOLDER_WINDOW = 40


def rewrite(text: str, edits: Sequence[tuple[int, int, str]]) -> str:
    """Apply non-overlapping (start, end, replacement) edits, sorted by start."""
    if not edits:
        return text
    parts: list[str] = []
    position = 0
    for start, end, replacement in edits:
        parts.append(text[position:start])
        parts.append(replacement)
        position = end
    parts.append(text[position:])
    return "".join(parts)
