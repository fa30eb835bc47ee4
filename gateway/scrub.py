"""`Secrets`: takes provider keys (and anything shaped like a credential) out of untrusted text.

An upstream may quote the credentials it was sent in its answer (`Incorrect API key provided:
Bearer sk-...`, as many OpenAI-compatible servers do). Every upstream text the gateway passes
on or writes down (error bodies, stream error events, the record's error message, log lines)
goes through `scrub` first. It removes:

- every configured secret (provider keys, the admin key) of at least `MIN_SECRET_LENGTH`
  characters, as it is or encoded: base64 (standard or URL-safe, alone or inside `user:key`
  and any other encoded text), percent-encoded, JSON-escaped, or several of these at once
  (`gateway/secret_forms.py` says which forms, and why they are all);
- the shapes credentials take even when the gateway does not know them: a token with a digit
  in it after `Bearer `/`Basic `, `sk-...` keys, JWTs (`eyJ...`: Entra ID tokens, which change
  every hour), and the value of an `x-api-key`, `api-key` or `authorization` header or field.

Each is replaced by `****`. A successful answer loses only the configured secrets
(`scrub_known_bytes`): a credential's shape there is what a model writes in a code sample.
A text holding none of the words every shape needs (`bearer`,
`basic`, `sk-`, `api-key`, `api_key`, `authorization`, `eyj`) nor the needle of a known
secret's form (its longest run of letters and digits, which every encoding of it keeps),
compared without case as the pattern does, is returned without running the pattern: the
usual text costs a fraction of a microsecond (headers are scrubbed on every answer). Built
once per config (`Runtime.secrets`), so a reload that changes a key scrubs the new one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from gateway.secret_forms import form_needle, form_pattern, form_run, secret_forms

REDACTED = "****"
# Shorter values would scrub ordinary words; no real provider key is this short.
MIN_SECRET_LENGTH = 8

# A credential's value: up to the next quote, backslash, separator or whitespace, so a scrub
# of serialised JSON never eats the JSON around it.
_VALUE = r"[^\s\"'\\,;&<>]+"
_SHAPES = (
    # `authorization: Bearer x`, `"x-api-key": "x"`, `api-key=x`: the name and separator stay.
    # A bare scheme word is no value: `Authorization: Bearer <key>` (the 401's hint) stays.
    r"(?P<name>\b(?:x-api-key|api[-_]key|authorization)[\"']?\s*[:=]\s*[\"']?)"
    rf"(?:(?:bearer|basic)\s+)?(?!(?:bearer|basic)(?:[\s\"'\\,;&<>]|$)){_VALUE}",
    # After a scheme, only a token-like value (a digit in it): "Basic information" is prose.
    rf"(?P<scheme>\b(?:bearer|basic)\s+)(?=[^\s\"'\\,;&<>]*\d){_VALUE}",
    r"(?P<prefix>\bsk-)[A-Za-z0-9_\-]{8,}",
    # A JWT (Microsoft Entra ID access tokens, and the federated tokens exchanged for them).
    r"\beyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*",
)


# A long text (a logged body's string) is scrubbed a window at a time, each window one call
# into `re` (which holds the GIL: the event loop waits on it), so a MB of it never stalls the
# loop for the whole scrub (~200 ms a MB when a marker word is in it). A match starting in a
# window may run on into the next `_OVERLAP` characters: a credential-shaped value longer
# than that (no real key is) is cut where that window ends, its rest kept.
_WINDOW = 16 * 1024
_OVERLAP = 8 * 1024


# Every shape above needs one of these words; with the known secrets, they decide whether the
# pattern can match at all.
_MARKERS = ("bearer", "basic", "sk-", "api-key", "api_key", "authorization", "eyj")
# The characters other than ASCII letters that match an ASCII letter without case in `re`
# (İ ı -> i, K -> k, ſ -> s): folded to it before the quick test, so it misses nothing.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u212a": "k", "\u017f": "s"})


def _folded(text: str) -> str:
    return text.lower() if text.isascii() else text.translate(_FOLD).lower()


def _replacement(match: re.Match[str]) -> str:
    groups = match.groupdict()
    kept = groups.get("name") or groups.get("scheme") or groups.get("prefix") or ""
    return kept + REDACTED


class Secrets:
    """The scrubber of one config: `scrub(text)` is `text` without any secret in it."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        known = {value for value in values if len(value) >= MIN_SECRET_LENGTH}
        forms = {form for value in known for form in secret_forms(value)}
        # Longest first, so a key containing another is removed whole.
        literals = [form_pattern(form) for form in sorted(forms, key=len, reverse=True)]
        # Known secrets go first, in a pass of their own: a shape's value stops at a backslash
        # or a `%`, so matched in one pass it would take the head of `Bearer k\/ey` and leave
        # the rest of the key for no pattern to match.
        self._known = re.compile("|".join(literals), re.IGNORECASE) if literals else None
        self._shapes = re.compile("|".join(_SHAPES), re.IGNORECASE)
        self._count = len(known)
        self._needles = (*_MARKERS, *sorted({_folded(form_needle(form)) for form in forms}))
        # The quick test of `scrub_known_bytes`: each form's run of letters and digits as it is
        # (an echo of a key keeps its case: base64 and the escapes never change a letter).
        # `find_known_run(data)` is not None when `data` may hold a known secret: the one test
        # of the usual answer and stream piece (`_run_finder`).
        self.find_known_run = _run_finder(sorted({form_run(form).encode() for form in forms}))

        # What a stream's `SplitSecretWatch` looks for (gateway/http/split_secrets.py): every
        # form as it is, longest first (a form containing another is found whole).
        self.stream_forms: tuple[bytes, ...] = tuple(
            form.encode() for form in sorted(forms, key=len, reverse=True)
        )

    def __repr__(self) -> str:
        return f"Secrets({self._count} known values)"

    def scrub(self, text: str) -> str:
        """`text` with every secret and credential-shaped value replaced by `****`."""
        folded = _folded(text)
        for needle in self._needles:
            if needle in folded:
                return self.scrub_always(text)
        return text

    def scrub_always(self, text: str) -> str:
        """`scrub` without its quick test: what it returns for any text."""
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        return self._shapes.sub(_replacement, text)

    def scrub_long(self, text: str) -> str:
        """`scrub` for a text of any length, a window at a time (`_WINDOW`): the same result,
        bar a credential-shaped value longer than `_OVERLAP` characters (its head is scrubbed)."""
        if len(text) <= _WINDOW:
            return self.scrub(text)
        longest = max(len(needle) for needle in self._needles)
        for start in range(0, len(text), _WINDOW):
            folded = _folded(text[start : start + _WINDOW + longest])
            if any(needle in folded for needle in self._needles):
                break
        else:
            return text
        if self._known is not None:
            text = _sub_in_windows(self._known, lambda _: REDACTED, text)
        return _sub_in_windows(self._shapes, _replacement, text)

    def scrub_items(self, values: dict[str, str]) -> dict[str, str]:
        """`values` with each name and value scrubbed (a request's tags: a client may echo a
        key into either); `values` itself when none held a secret. Two names that scrub the
        same keep the last one's value."""
        scrubbed = {self.scrub(name): self.scrub(value) for name, value in values.items()}
        return values if scrubbed == values else scrubbed

    def scrub_known_bytes(self, data: bytes) -> bytes:
        """`data` (UTF-8 bytes: an answer) with each configured secret, in each form an echo
        gives it, replaced by `****`; nothing else: a credential's shape (`sk-...`, `Bearer x`)
        is what a model writes in a code sample. `data` itself, unchanged, when no form's
        letters-and-digits run is in it (one search of the bytes: the usual answer's cost)."""
        if self.find_known_run(data) is None:
            return data
        assert self._known is not None  # a run was found: there are known forms
        # Bytes that are not UTF-8 (a stream cut inside a character) pass through as they are.
        text = data.decode(errors="surrogateescape")
        scrubbed = self._known.sub(REDACTED, text)
        return data if scrubbed == text else scrubbed.encode(errors="surrogateescape")

    def scrub_bytes(self, data: bytes) -> bytes:
        """`scrub` for UTF-8 bytes (a serialised error body); other bytes pass unchanged."""
        try:
            text = data.decode()
        except UnicodeDecodeError:
            return data
        scrubbed = self.scrub(text)
        return data if scrubbed == text else scrubbed.encode()


def _no_run(_: bytes) -> None:
    return None


# From this many bytes of text per run, `find_known_run` looks for each run with `in` (CPython's
# substring search skips ahead: 0.2 to 0.3 ns a byte here, but about 0.2 us to set up each
# time) rather than with one search of a pattern of all of them (`re` reads every byte: about
# 5 ns a byte). Measured on the 2-vCPU machine of docs/performance.md (twenty-first round): the
# two cost the same at 35 to 50 bytes a run (4, 8 and 16 runs), the pattern is 0.1 to 2.7 us
# cheaper below (a stream event from a live model: 200 to 300 bytes, 4 runs a key), `in` 4 to 7
# times cheaper for a whole answer of a few kB.
_IN_FROM_BYTES_PER_RUN = 48


def _run_finder(runs: list[bytes]) -> Callable[[bytes], object]:
    """A search of bytes for any of `runs`: what it finds (not None) or None."""
    if not runs:
        return _no_run
    search = re.compile(b"|".join(re.escape(run) for run in runs)).search
    in_from = _IN_FROM_BYTES_PER_RUN * len(runs)

    def find_known_run(data: bytes) -> object:
        if len(data) < in_from:
            return search(data)
        for run in runs:
            if run in data:
                return run
        return None

    return find_known_run


def _sub_in_windows(
    pattern: re.Pattern[str], replacement: Callable[[re.Match[str]], str], text: str
) -> str:
    """`pattern.sub(replacement, text)`, searched one window at a time: each window takes the
    matches that start in it, read up to `_OVERLAP` characters past it (`\\b` and lookbehind
    see the characters before a window: `re` takes `pos` as a position, not a new start)."""
    pieces: list[str] = []
    pos = done = 0
    while pos < len(text):
        limit = pos + _WINDOW
        for match in pattern.finditer(text, pos, limit + _OVERLAP):
            if match.start() >= limit:
                break
            pieces += (text[done : match.start()], replacement(match))
            done = match.end()
        pos = max(limit, done)
    pieces.append(text[done:])
    return "".join(pieces)


NO_SECRETS = Secrets()
