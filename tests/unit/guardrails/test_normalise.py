"""Normalised scanning: look-alike characters, invisible characters, long texts."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Finding
from gateway.guardrails.compiled import compile_guardrails
from gateway.guardrails.normalise import normalise
from gateway.guardrails.pii import PiiDetector, chunks, merge_overlaps


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("plain ascii", "plain ascii"),
        ("４１１１ １１１１", "4111 1111"),  # full-width
        ("٤١١١-١١١١", "4111-1111"),  # Arabic-Indic
        ("४१११", "4111"),  # Devanagari
        ("a\u200bb\u200cc\u200dd\u2060e\ufeff", "abcde"),  # zero-width, word joiner, BOM
        ("41\u00ad11", "4111"),  # soft hyphen
        ("a\u00a0b\u2009c\u3000d", "a b c d"),  # NBSP, thin space, ideographic space
        ("jane\uff20example\uff0eorg", "jane@example.org"),
        ("cafe\u0301 ﬁle", "café file"),
        # Default ignorable, not Cf: combining grapheme joiner, variation selectors, fillers.
        ("4111\u034f1111\ufe0f1111\ufe001111", "4111111111111111"),
        ("41\U000e010011\u3164 \u115f1\u17b4", "4111 1"),
    ],
)
def test_normalise_folds_look_alikes(text: str, folded: str) -> None:
    assert normalise(text).text == folded


def test_spans_map_back_to_the_original() -> None:
    text = "x ４\u200b１\u00ad１１ y"
    folded = normalise(text)
    start = folded.text.index("4111")
    first, last = folded.original_span(start, start + 4)
    assert text[first:last] == "４\u200b１\u00ad１１"


def test_ascii_text_is_not_copied() -> None:
    text = "nothing to fold here"
    assert normalise(text).text is text


def test_chunks_cover_the_text_with_overlap() -> None:
    assert chunks(10, 100, 5) == [(0, 10)]
    pieces = chunks(1_000, 300, 50)
    assert pieces[0][0] == 0 and pieces[-1][1] == 1_000
    assert all(b[0] == a[1] - 50 for a, b in zip(pieces, pieces[1:]))


def test_overlapping_findings_of_one_entity_merge() -> None:
    merged = merge_overlaps(
        [Finding("EMAIL", 10, 20, 0.5), Finding("EMAIL", 12, 30, 1.0), Finding("URL", 12, 14)]
    )
    assert sorted(merged, key=lambda f: f.entity) == [
        Finding("EMAIL", 10, 30, 1.0),
        Finding("URL", 12, 14),
    ]


@pytest.fixture(scope="module")
def pii(analyzers: dict[Any, Any]) -> PiiDetector:
    from gateway.guardrails.pii import build_pii

    return build_pii(GuardrailConfig(name="p", type="pii", action="redact"), analyzers)


@pytest.mark.parametrize(
    ("text", "entity", "value"),
    [
        (
            "card ４１１１ １１１１ １１１１ １１１１ ok",
            "CREDIT_CARD",
            "４１１１ １１１１ １１１１ １１１１",
        ),
        ("card ٤١١١ ١١١١ ١١١١ ١١١١ ok", "CREDIT_CARD", "٤١١١ ١١١١ ١١١١ ١١١١"),
        ("mail jane.roe@exa\u200bmple.org ok", "EMAIL_ADDRESS", "jane.roe@exa\u200bmple.org"),
        (
            "card 4111\u00ad1111\u00ad1111\u00ad1111 ok",
            "CREDIT_CARD",
            "4111\u00ad1111\u00ad1111\u00ad1111",
        ),
        ("my SSN is 536\u00a022\u00a01234 ok", "US_SSN", "536\u00a022\u00a01234"),
    ],
)
def test_evasions_are_found_in_the_original_text(
    pii: PiiDetector, text: str, entity: str, value: str
) -> None:
    found = [(f.entity, text[f.start : f.end]) for f in pii.scan(text)]
    assert (entity, value) in found


def test_a_text_beyond_the_engine_limit_is_scanned_whole(pii: PiiDetector) -> None:
    # spaCy refuses texts over 1,000,000 characters: the detector scans pieces instead, and a
    # value on a cut between two pieces is still found whole.
    head = "word " * 19_996  # 99,980 characters: the email crosses the first cut at 100,000
    text = head + "jane.roe@example.org " + "y " * 500_000 + "mail john@example.com"
    assert len(text) > 1_000_000
    found = {text[f.start : f.end] for f in pii.scan(text)}
    assert found == {"jane.roe@example.org", "john@example.com"}


def test_a_stream_holds_back_a_value_written_with_invisible_characters(
    analyzers: dict[Any, Any],
) -> None:
    # The tail decides what a stream releases: a card cut by zero-width spaces is held back
    # whole, as its plain form would be.
    from gateway.guardrails.pii import build_pii

    config = GuardrailConfig(name="c", type="pii", action="redact", entities=("CREDIT_CARD",))
    cards = build_pii(config, analyzers)
    assert cards.tail("my card is 4111 1111 1111") == len("4111 1111 1111")
    assert cards.tail("my card is 4111\u200b1111\u200b1111") == len("4111\u200b1111\u200b1111")
    assert cards.tail("nothing pending here ") == 0


def test_invisible_marks_between_digits_hide_no_card() -> None:
    (guard,) = compile_guardrails(
        [GuardrailConfig(name="pii", type="pii", entities=("CREDIT_CARD",))]
    ).input
    text = "card 4111\u034f1111\ufe0f1111\U000e01001111 ok"
    (finding,) = guard.check(text)
    assert text[finding.start : finding.end] == text[5:-3]


def test_characters_nfkc_spells_out_as_words_do_not_grow_the_folded_copy() -> None:
    # U+FDFA is 18 characters in NFKC: a 4 MB body of it was a 24-million-character copy and
    # two maps of as many entries.
    text = "\ufdfa\ufdfb\u3316" * 1000
    folded = normalise(text + " \u247d")
    assert folded.text == text + " (10)"  # the parenthesized number still reads as digits
    assert len(normalise("x\ufdfa\u200b4").text) == len("x\ufdfa4")


def test_the_map_costs_four_bytes_a_character() -> None:
    folded = normalise("４１１１ ½")
    assert folded._starts is not None and folded._starts.itemsize == 4
