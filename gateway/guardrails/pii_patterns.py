"""The `patterns` PII engine: presidio's pattern recognizers run directly, without an NLP engine.

presidio-analyzer imports spaCy as soon as any part of it is imported (~2 s and ~60 MB), and
its analyzer tokenizes every text with a spaCy pipeline only to find the words before a match.
This engine applies the same rules (`pii_rules.py`) the way presidio's `AnalyzerEngine` does:
each pattern over the text (`regex`, DOTALL | MULTILINE | IGNORECASE), a check that confirms
(score 1.0) or drops a match, then the context boost (+0.35, at least 0.4) when one of the
rule's context words is part of one of the five words before the match (stop words and
punctuation not counted, as presidio counts them), then the score threshold. Its `analyze` has
the signature of presidio's, so `PiiDetector` runs either engine.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import regex

from gateway.config.types import RecognizerConfig
from gateway.guardrails.pii_phone import (
    ASCII_PHONE_CANDIDATE,
    PHONE_CANDIDATE,
    PHONE_CONTEXT,
    phone_score,
)
from gateway.guardrails.pii_rules import (
    ASCII_STARTS,
    PATTERN_ANCHORS,
    PATTERN_NEEDS,
    STOP_WORDS,
    Check,
    Rule,
    builtin_rules,
)

_FLAGS = regex.DOTALL | regex.MULTILINE | regex.IGNORECASE
# presidio's LemmaContextAwareEnhancer defaults.
CONTEXT_BOOST = 0.35
CONTEXT_MIN_SCORE = 0.4
CONTEXT_WORDS_BEFORE = 5

# spaCy's English tokenizer, as far as the words before a match go: whitespace-separated chunks,
# its prefix / suffix characters split off one by one, a hyphen between letters or digits and
# `:<>=/` before a letter split off (not inside an email, a URL or a dotted number, which spaCy
# keeps whole); whitespace other than one space is a word of its own.
_CHUNKS_BACKWARD = regex.compile(r"\S+|\s+", regex.REVERSE)
_CHUNK_GAP = regex.compile(r"\s+")
_LEAD = regex.compile("^[" + regex.escape("!\"#$%&'()*+,:;<=>?[]_`{}«»“”‘’…—–¡¿£€¥§°") + "]+")
_TRAIL = regex.compile("[" + regex.escape("!\"#&'()*,.:;<>?[]_`{}«»“”‘’…—–¡¿°") + "]+$")
_INFIX = regex.compile(r"((?<=[\p{L}\d])-(?=[\p{L}\d])|(?<=[\p{L}\d])[:<>=/](?=\p{L}))")
_PUNCT = regex.compile(r"[\p{P}]+")


@dataclass(frozen=True, slots=True)
class Hit:
    """One match, named as presidio's RecognizerResult is (the detector reads either)."""

    entity_type: str
    start: int
    end: int
    score: float


Search = Callable[[str], Iterator[regex.Match[str]]]


@dataclass(frozen=True, slots=True)
class _Pattern:
    score: float
    search: Search  # every match in a text, as `finditer` finds them
    need: re.Pattern[str] | None  # a text without it has no match
    ascii_search: Search | None  # the same matches in an ASCII text, found faster


@dataclass(frozen=True)
class _Compiled:
    rule: Rule
    patterns: tuple[_Pattern, ...]
    groups: bool  # IBAN: try the match's end at each group's end, longest first


def _compile(rule: Rule) -> _Compiled:
    compiled = []
    for name, source, score in rule.patterns:
        pattern = regex.compile(source, _FLAGS)
        starts = ASCII_STARTS.get(name)
        ascii_search = _from_starts(*starts, pattern) if starts else None
        compiled.append(_Pattern(score, _search(name, pattern), _needs(name), ascii_search))
    return _Compiled(rule, tuple(compiled), groups=rule.entity == "IBAN_CODE")


def _needs(name: str) -> re.Pattern[str] | None:
    # The standard library's engine: ~2x faster than `regex` for these one-class scans.
    need = PATTERN_NEEDS.get(name)
    return re.compile(need, re.IGNORECASE) if need else None


def _search(name: str, pattern: regex.Pattern[str]) -> Search:
    """`pattern.finditer`, or for an anchored pattern the same matches found from each anchor."""
    if name not in PATTERN_ANCHORS:
        return pattern.finditer
    anchor, before = PATTERN_ANCHORS[name]
    run = regex.compile(before, _FLAGS | regex.REVERSE)

    def finditer(text: str) -> Iterator[regex.Match[str]]:
        pos = 0
        while (at := text.find(anchor, pos)) >= 0:
            # No match can start before this run: it would have to cross a character outside
            # the class to reach the anchor. Matches are never empty, so `pos` always moves.
            before_anchor = run.match(text, pos, at)
            match = pattern.search(text, before_anchor.start() if before_anchor else at)
            if match is None:
                return
            yield match
            pos = match.end()

    return finditer


def _from_starts(starts: str, back: int, pattern: regex.Pattern[str]) -> Search:
    """`pattern.finditer` over a text in which every match starts `back` characters before a
    match of `starts`: the pattern is tried there only, leftmost first, never inside an earlier
    match."""
    found_at = regex.compile(starts)

    def finditer(text: str) -> Iterator[regex.Match[str]]:
        pos = 0  # where the next match may start
        while (start := found_at.search(text, pos + back)) is not None:
            at = start.start() - back
            # Tried at `at`, the pattern still sees the text before it (look-behinds, `\b`).
            match = pattern.match(text, at)
            if match is None:
                pos = at + 1
                continue
            yield match
            pos = match.end()

    return finditer


def custom_rule(spec: RecognizerConfig) -> Rule:
    """An operator's recognizer as presidio's PatternRecognizer reads it (deny list last)."""
    patterns = [(f"{spec.entity}_{i}", p, spec.score) for i, p in enumerate(spec.patterns)]
    if spec.deny_list:
        words = "|".join(regex.escape(w) for w in spec.deny_list)
        patterns.append(("deny_list", rf"(?:^|(?<=\W))({words})(?:(?=\W)|$)", spec.score))
    return Rule(spec.entity, tuple(patterns), tuple(c.lower() for c in spec.context))


def context_words(text: str, start: int) -> list[str]:
    """The counted words (lowercase) from the match's own word back to five words before it."""
    gap = _CHUNK_GAP.search(text, start)
    counted: list[str] = []
    last = True
    for chunk in _CHUNKS_BACKWARD.finditer(text, 0, gap.start() if gap else len(text)):
        body = chunk.group()
        if not last:
            # The common chunks, as `_words` and the checks below read them, without the calls.
            if body == " " and chunk.start() > 0:
                continue  # one separating space: no word
            if body.isalnum():  # one word, neither punctuation nor holding a ':'
                lower = body.lower()
                if lower not in STOP_WORDS and lower != "be":
                    counted.append(lower)
                    if len(counted) > CONTEXT_WORDS_BEFORE:
                        return counted
                continue
        words = _words(body, chunk.start())
        if last:
            # The match's own word: the first one that ends after the match starts.
            index = next((i for i, (s, e, _) in enumerate(words) if s == start or start < e), None)
            if index is None:
                return []
            words, last = words[: index + 1], False
        for word in reversed(words):
            lower = word[2].lower()
            if lower in STOP_WORDS or lower == "be" or ":" in lower or _PUNCT.fullmatch(lower):
                continue
            counted.append(lower)
            if len(counted) > CONTEXT_WORDS_BEFORE:
                return counted
    return counted


def _words(body: str, at: int) -> list[tuple[int, int, str]]:
    """The tokens of one whitespace-separated chunk starting at `at` (spaCy's, see above)."""
    if body.isalnum():
        return [(at, at + len(body), body)]
    if body.isspace():
        # spaCy keeps whitespace other than one separating space as a token (a word).
        return [(at, at + len(body), body)] if body != " " or at == 0 else []
    lead = edge.end() if (edge := _LEAD.match(body)) and edge.end() < len(body) else 0
    trail = _TRAIL.search(body, lead)
    core = body[lead : trail.start() if trail and trail.start() > lead else len(body)]
    keep_whole = "@" in core or "://" in core or "." in core
    parts = [core] if keep_whole else _INFIX.split(core)
    words = []
    for part in [*body[:lead], *parts, *body[lead + len(core) :]]:
        words.append((at, at + len(part), part))
        at += len(part)
    return words


class PatternEngine:
    """The built-in rules for `entities`, the phone recognizer and the operator's recognizers."""

    def __init__(
        self,
        entities: Sequence[str],
        custom: Sequence[RecognizerConfig],
        email_domain: Check,
    ) -> None:
        builtin = builtin_rules(email_domain)
        rules = [builtin[e] for e in entities if e in builtin]
        rules += [custom_rule(spec) for spec in custom]
        self._rules = [_compile(rule) for rule in rules]
        self._phone = "PHONE_NUMBER" in entities

    def analyze(
        self, text: str, language: str, entities: Sequence[str], score_threshold: float
    ) -> list[Hit]:
        """Every match of the wanted entities scoring at least `score_threshold`."""
        wanted = set(entities)
        ascii = text.isascii()
        found: list[tuple[Hit, tuple[str, ...]]] = []
        for compiled in self._rules:
            if compiled.rule.entity in wanted:
                hits = _matches(compiled, text, ascii)
                found += [(hit, compiled.rule.context) for hit in hits]
        if self._phone and "PHONE_NUMBER" in wanted:
            found += [(hit, PHONE_CONTEXT) for hit in _phones(text, ascii)]
        lowered = text.lower()
        hits = [_boosted(text, lowered, hit, context) for hit, context in found]
        return [hit for hit in hits if hit.score >= score_threshold]


def _matches(compiled: _Compiled, text: str, ascii: bool) -> list[Hit]:
    rule = compiled.rule
    hits: list[Hit] = []
    for pattern in compiled.patterns:
        if ascii and pattern.ascii_search is not None:
            found = pattern.ascii_search(text)
        elif pattern.need is None or pattern.need.search(text) is not None:
            found = pattern.search(text)
        else:
            continue
        base = pattern.score
        for match in found:
            ends = [match.end()]
            if compiled.groups:
                groups = range(len(match.groups()), 0, -1)
                ends = [e if (e := match.end(g)) > 0 else match.end() for g in groups]
            for end in ends:
                value = text[match.start() : end]
                if not value:
                    continue
                score = base
                if rule.validate is not None:
                    verdict = rule.validate(value)
                    if verdict is not None:
                        score = 1.0 if verdict else 0.0
                if rule.invalidate is not None and rule.invalidate(value):
                    score = 0.0
                if score > 0:
                    hits.append(Hit(rule.entity, match.start(), end, score))
                    break
    return hits


def _phones(text: str, ascii: bool) -> list[Hit]:
    hits = []
    for match in (ASCII_PHONE_CANDIDATE if ascii else PHONE_CANDIDATE).finditer(text):
        value = match.group().rstrip(" .-")
        score = phone_score(value)
        if score:
            hits.append(Hit("PHONE_NUMBER", match.start(), match.start() + len(value), score))
    return hits


def _boosted(text: str, lowered: str, hit: Hit, context: tuple[str, ...]) -> Hit:
    if not context or hit.score >= 1.0:
        return hit
    # A context word counts only inside a word before the match (or the match's own word):
    # when it is nowhere in the text up to the end of that word, there is nothing to look for.
    gap = _CHUNK_GAP.search(text, hit.start)
    before = lowered[: gap.start() if gap else len(text)]
    if not any(c in before for c in context):
        return hit
    words = context_words(text, hit.start)
    if not any(c in w for c in context for w in words):
        return hit
    score = min(max(hit.score + CONTEXT_BOOST, CONTEXT_MIN_SCORE), 1.0)
    return Hit(hit.entity_type, hit.start, hit.end, score)
