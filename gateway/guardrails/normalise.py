"""The text detectors read: Unicode folded so look-alike characters cannot hide a value.

`normalise(text)` returns the text a detector should scan, and maps each of its spans back to
the span of the original text that produced it, so findings act on what the client sent:

- NFKC (full-width `４１１１` -> `4111`, `＠` -> `@`, ligatures, circled digits);
- format characters (Unicode category Cf: zero-width space and joiners, soft hyphen, word
  joiner, BOM, bidi controls) removed, and the other characters Unicode says show nothing
  (default ignorable: combining grapheme joiner, variation selectors, Hangul fillers, ...);
- every decimal digit (Arabic-Indic `٤١١١`, Devanagari, ...) as its ASCII digit;
- every space separator (NBSP, thin and ideographic spaces) as a plain space.

ASCII text, nearly every prompt, is returned as it is at the cost of one `str.isascii`.
"""

from __future__ import annotations

import re
import unicodedata
from array import array
from dataclasses import dataclass

# Categories the rules above change although NFKC may keep them: format characters,
# decimal digits, space separators.
_SPECIAL = frozenset({"Cf", "Nd", "Zs"})
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
_LONGEST_FOLD = 4
# Default ignorable code points (DerivedCoreProperties.txt) outside category Cf: they render as
# nothing, so they could hide a value as a zero-width space does.
_IGNORABLE = frozenset(
    chr(c)
    for first, last in (
        (0x034F, 0x034F),  # combining grapheme joiner
        (0x115F, 0x1160),  # Hangul choseong / jungseong fillers
        (0x17B4, 0x17B5),  # Khmer inherent vowels
        (0x180B, 0x180F),  # Mongolian free variation selectors
        (0x3164, 0x3164),  # Hangul filler
        (0xFE00, 0xFE0F),  # variation selectors
        (0xFFA0, 0xFFA0),  # half-width Hangul filler
        (0xE0100, 0xE01EF),  # variation selectors supplement
    )
    for c in range(first, last + 1)
)


@dataclass(frozen=True, slots=True)
class Normalised:
    """`text` to scan, and for each of its characters the original span it came from."""

    text: str
    # None when `text` is the original itself.
    _starts: array[int] | None = None
    _ends: array[int] | None = None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that `text[start:end]` came from."""
        if self._starts is None or self._ends is None or end <= start:
            return start, end
        return self._starts[start], self._ends[end - 1]


def _fold(cluster: str) -> str:
    """One character with its combining marks, as the detectors should see it."""
    category = unicodedata.category(cluster[0])
    if category == "Cf" or cluster[0] in _IGNORABLE:
        return ""
    if category == "Nd" and len(cluster) == 1:
        return str(unicodedata.decimal(cluster))
    if category == "Zs":
        return " "
    folded = "".join(
        c
        for c in unicodedata.normalize("NFKC", cluster)
        if unicodedata.category(c) != "Cf" and c not in _IGNORABLE
    )
    # The few characters NFKC spells out as words (U+FDFA is 18 characters, U+3316 six) are no
    # look-alike of anything a detector reads: kept, so a text of them cannot grow 18-fold (and
    # its map with it) in the folded copy. `⑽` -> `(10)`, the longest that matters, is 4.
    return folded if len(folded) <= max(len(cluster), _LONGEST_FOLD) else cluster


def normalise(text: str) -> Normalised:
    """`text` folded by the rules of the module docstring, with its map back."""
    if text.isascii():
        return Normalised(text)
    pieces: list[str] = []
    # The map holds offsets of the original: 4 bytes an entry below 2**31 characters.
    code = "i" if len(text) < 2**31 else "q"
    starts: array[int] = array(code)
    ends: array[int] = array(code)
    position = 0
    for run in _NON_ASCII_RUN.finditer(text):
        begin, stop = run.span()
        if begin > position and unicodedata.combining(text[begin]):
            begin -= 1  # a combining mark belongs with the ASCII letter before it
        if begin > position:  # ASCII between runs: itself
            pieces.append(text[position:begin])
            starts.extend(range(position, begin))
            ends.extend(range(position + 1, begin + 1))
        chunk = text[begin:stop]
        if unicodedata.is_normalized("NFKC", chunk) and not any(
            c in _IGNORABLE or unicodedata.category(c) in _SPECIAL for c in chunk
        ):
            pieces.append(chunk)
            starts.extend(range(begin, stop))
            ends.extend(range(begin + 1, stop + 1))
        else:
            index = begin
            while index < stop:
                end = index + 1
                while end < stop and unicodedata.combining(text[end]):
                    end += 1
                folded = _fold(text[index:end])
                pieces.append(folded)
                starts.extend([index] * len(folded))
                ends.extend([end] * len(folded))
                index = end
        position = stop
    if position < len(text):
        pieces.append(text[position:])
        starts.extend(range(position, len(text)))
        ends.extend(range(position + 1, len(text) + 1))
    folded_text = "".join(pieces)
    if folded_text == text:
        return Normalised(text)
    return Normalised(folded_text, starts, ends)
