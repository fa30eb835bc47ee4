"""A configured secret a stream writes a few characters per event (`SplitSecretWatch`).

`StreamScrub` scrubs a stream a line at a time, so a secret an upstream echoes whole (in one
event) is caught wherever two reads cut it. A model that writes a secret (a provider key it
was given in a prompt, an upstream that streams its error text as deltas) writes it a few
characters per event instead: random text tokenizes into 2 to 4 characters, and each event's
line holds only its own piece of the key.

The watch reads the text of every event's string fields that stream text (`content`, `text`,
`arguments`, `partial_json`, `thinking`, `refusal`, `reasoning_content`, `reasoning`, and the
Responses API's `delta`), in the order the events come, as one text. When the text comes to
hold the first `HEAD` characters of a configured secret (any of its forms,
`gateway.secret_forms`), the pieces from there on are held back while what follows still
agrees with the secret:

- it diverges: the held pieces go, unchanged (delayed by the few events it took);
- it completes the secret: the held pieces go with the secret's characters taken out of their
  fields, `****` in the first one (the client's text reads `sk-****`);
- the stream ends first: the held pieces go, unchanged (a secret cut short is no secret).

What may leave before the watch knows: the secret's first `HEAD - 1` characters (`sk-`, a
key's public prefix). Not caught: a secret written with characters a JSON encoder escapes
(none of a provider key's: letters, digits, `-`, `_`), and one written across the choices of
an `n > 1` stream as they interleave (each choice's text is read in turn with the others').

The cost, when the config has secrets: one search of each piece for its text fields and one
for the secrets' first characters in that text.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping

# Characters of a secret the text must hold before the pieces that follow are held back.
HEAD = 4

# A JSON string field that streams text, and its value (escapes and all, as the wire has it).
_TEXT_FIELD = re.compile(
    rb'"(?:content|text|arguments|partial_json|thinking|refusal|reasoning_content|reasoning'
    rb'|delta)"\s*:\s*"((?:[^"\\]|\\.)*)"'
)

REDACTED = b"****"

# Where a piece's text lies: (start, end) of a field's value in the piece's bytes, and the
# position of its first character in the watched text.
_Span = tuple[int, int, int]


_Heads = tuple[
    Mapping[bytes, tuple[bytes, ...]],
    re.Pattern[bytes] | None,
    Callable[[bytes], re.Match[bytes] | None] | None,
]


@functools.lru_cache(maxsize=16)
def _heads_of(forms: tuple[bytes, ...]) -> _Heads:
    """What a watch looks for: the forms by their first `HEAD` characters, a search of every
    position where one starts (lookahead: overlapping too), and the one search of the usual
    piece (whether any starts at all)."""
    by_head: dict[bytes, tuple[bytes, ...]] = {}
    for form in forms:
        if len(form) > HEAD:
            by_head[form[:HEAD]] = (*by_head.get(form[:HEAD], ()), form)
    if not by_head:
        return by_head, None, None
    alternatives = b"|".join(re.escape(head) for head in sorted(by_head))
    return by_head, re.compile(b"(?=(" + alternatives + b"))"), re.compile(alternatives).search


class SplitSecretWatch:
    """One stream's watch: `feed` each piece (already scrubbed a line at a time) in order, send
    what it returns; `flush` at the end gives what is still held."""

    __slots__ = (
        "_any_head",
        "_by_head",
        "_candidates",
        "_found",
        "_heads",
        "_held",
        "_scanned",
        "_text",
    )

    def __init__(self, forms: tuple[bytes, ...]) -> None:
        # Made once per set of forms (a config's), not per stream: about 4 us a stream.
        self._by_head, self._heads, self._any_head = _heads_of(forms)
        self._text = b""  # the fields' text read since the last release (and a little before)
        self._scanned = 0  # `_text` positions searched for a secret's first characters
        self._candidates: list[int] = []  # positions in `_text` where a secret may be starting
        self._found: list[tuple[int, int]] = []  # (start, end) in `_text` of whole secrets
        self._held: list[tuple[bytes, list[_Span]]] = []  # pieces held back, in order

    def feed(self, piece: bytes) -> bytes:
        """What may be sent now of the pieces so far: b"" while they are held back."""
        if self._heads is None:
            return piece
        if not self._held:
            # The usual piece: its fields' text read in one call, one search for a secret's
            # first characters (after the last few of the text before), nothing kept but those.
            values = _TEXT_FIELD.findall(piece)
            if not values:
                return piece  # no text (a role, a usage, `[DONE]`), nothing waiting
            text = self._text + b"".join(values)
            assert self._any_head is not None
            if self._any_head(text) is None:
                self._text = text[max(0, len(text) - HEAD + 1) :]
                return piece
        spans: list[_Span] = []
        parts = [self._text]
        at = len(self._text)
        for field in _TEXT_FIELD.finditer(piece):
            start, end = field.span(1)
            if start != end:
                spans.append((start, end, at))
                parts.append(piece[start:end])
                at += end - start
        if not spans and not self._held:
            return piece  # only empty text fields
        self._text = text = b"".join(parts)
        # The secrets' first characters anywhere in the text not searched yet (a match needs
        # `HEAD` characters: the last few are searched again with the next piece's).
        candidates = self._candidates
        for match in self._heads.finditer(text, self._scanned):
            candidates.append(match.start())
        self._scanned = max(self._scanned, len(text) - HEAD + 1)
        if candidates:
            self._candidates = candidates = [c for c in candidates if self._still_open(c)]
        if candidates or self._held or self._found:
            self._held.append((piece, spans))
            return b"" if candidates else self._release()
        self._restart()  # the usual piece: nothing began, nothing waits
        return piece

    def flush(self) -> bytes:
        """Everything still held (the stream ended): a secret still open is no secret."""
        self._candidates = []
        return self._release()

    def _still_open(self, start: int) -> bool:
        """Whether the text from `start` may still grow into a secret; a whole one there is
        remembered (`_found`) and closes it."""
        rest = self._text[start:]
        forms = self._by_head.get(rest[:HEAD], ())
        for form in forms:
            if rest.startswith(form):
                self._found.append((start, start + len(form)))
                return False
        return any(form.startswith(rest) for form in forms)

    def _release(self) -> bytes:
        """The held pieces, each secret found taken out of them."""
        found, marked = sorted(self._found), set[int]()
        out = b"".join(
            [
                _without(piece, spans, found, marked) if found else piece
                for piece, spans in self._held
            ]
        )
        self._found, self._held = [], []
        self._restart()
        return out

    def _restart(self) -> None:
        """The text starts afresh from its last few characters (a secret's first characters
        may be among them, its others in the next piece)."""
        text = self._text
        self._text = text[max(0, len(text) - HEAD + 1) :]
        self._scanned = 0


def _without(
    piece: bytes, spans: list[_Span], found: list[tuple[int, int]], marked: set[int]
) -> bytes:
    """`piece` with the characters of each secret in `found` taken out of its fields' values,
    and `REDACTED` where the first of a secret's held characters were (`marked`: the secrets
    whose `REDACTED` an earlier piece has)."""
    parts: list[bytes] = []
    done = 0
    for start, end, at in spans:
        parts.append(piece[done:start])
        position = start
        for number, (secret_start, secret_end) in enumerate(found):
            cut_from = max(secret_start - at + start, position)  # in the piece's bytes
            cut_to = min(secret_end - at, end - start) + start
            if cut_from >= cut_to:
                continue
            parts.append(piece[position:cut_from])
            if number not in marked:
                marked.add(number)
                parts.append(REDACTED)
            position = cut_to
        parts.append(piece[position:end])
        done = end
    parts.append(piece[done:])
    return b"".join(parts)
