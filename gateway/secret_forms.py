"""The forms a secret takes when an upstream echoes it, as patterns and quick-test needles.

An upstream that quotes the credentials it was sent may quote them as they are, or encoded:
a `Basic` header is base64 of `user:key`, a debug dump base64s a header or a body, a URL
percent-encodes `+` `/` `=`, a JSON encoder writes `\\/` or `\\u002b`, and a JSON text inside
another escapes its backslashes again. `secret_forms(value)` gives, for one secret:

- the value itself;
- its base64 at each of the 3 alignments it can have inside a longer encoded text (`user:key`,
  `:key`, a header line): the characters that depend on the secret's bytes alone, in the
  standard and the URL-safe alphabet.

`form_pattern(form)` matches a form written as it is, or with any character other than an
ASCII letter or digit percent-encoded (`%2F`, `%2f`, `%252F`) or JSON-escaped (`\\/`, `\\"`,
`\\u002f`, `\\\\u002f`). Letters and digits are never encoded by these encoders, so the
longest run of them in a form is in every written form of it: that run is the form's needle,
the cheap test that decides whether the pattern needs to run at all.

Each form is trimmed to start and end with a letter or a digit, so a replacement never starts
or ends inside an escape and a scrubbed JSON text stays valid.
"""

from __future__ import annotations

import base64
import json
import re

# A form shorter than this scrubs ordinary text; a secret's forms are never trimmed below it.
MIN_FORM_LENGTH = 8
_ALNUM = re.compile(r"[A-Za-z0-9]+")
_URL_SAFE = str.maketrans("+/", "-_")


def _trimmed(form: str) -> str:
    """`form` without the characters other than letters and digits at its ends, unless that
    leaves it too short to be told from ordinary text."""
    runs = list(_ALNUM.finditer(form))
    if not runs:
        return form
    trimmed = form[runs[0].start() : runs[-1].end()]
    return trimmed if len(trimmed) >= MIN_FORM_LENGTH else form


def _base64_cores(value: bytes) -> list[str]:
    """The base64 characters of `value` that do not depend on the bytes around it, for each of
    the 3 offsets (mod 3) it may have in the encoded text."""
    cores = []
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + value).decode()
        first = -(-8 * offset // 6)  # the first character made of the value's bits only
        last = 8 * (offset + len(value)) // 6
        cores.append(encoded[first:last])
    return cores


def secret_forms(value: str) -> list[str]:
    """The forms of `value` an echo may hold (itself, its base64 cores in both alphabets),
    each trimmed, without duplicates, longest first."""
    cores = _base64_cores(value.encode())
    forms = {value, *cores, *(core.translate(_URL_SAFE) for core in cores)}
    return sorted({_trimmed(form) for form in forms}, key=len, reverse=True)


def _char_pattern(char: str) -> str:
    if char.isascii() and char.isalnum():
        return re.escape(char)
    ways = [re.escape(char)]
    # JSON: a backslash before the character (`\/`, `\"`), repeated once per level of nesting.
    ways.append(r"\\+" + re.escape(char))
    # JSON: a short escape such as `\n`, or `\uXXXX` (a surrogate pair beyond the BMP).
    escaped = json.dumps(char)[1:-1]
    if escaped.startswith("\\"):
        ways.append(r"\\+".join(re.escape(part) for part in escaped.split("\\")))
    ways.append(r"\\+u" + r"\\+u".join(f"{unit:04x}" for unit in _utf16_units(char)))
    # URL: each UTF-8 byte as %XX, encoded again any number of times (%25XX).
    ways.append("".join(f"%(?:25)*{byte:02x}" for byte in char.encode()))
    return "(?:" + "|".join(dict.fromkeys(ways)) + ")"


def _utf16_units(char: str) -> list[int]:
    data = char.encode("utf-16-be")
    return [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]


def form_pattern(form: str) -> str:
    """A regular expression (to compile with IGNORECASE) matching `form` as it is, or
    percent-encoded, or JSON-escaped."""
    return "".join(_char_pattern(char) for char in form)


def form_run(form: str) -> str:
    """The longest run of ASCII letters and digits of `form`, as it is: every written form of
    it holds this run ('' when it has none: then every text may hold it)."""
    runs = _ALNUM.findall(form)
    return max(runs, key=len) if runs else ""


def form_needle(form: str) -> str:
    """`form_run`, lower-cased: the needle of a test made without case."""
    return form_run(form).lower()
