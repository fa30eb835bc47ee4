"""The PII engine's fast paths find exactly what the plain scans find.

For an ASCII text the `patterns` engine tries some patterns only where a match can start
(`ASCII_STARTS`) and finds phone candidates with `regex` (`ASCII_PHONE_CANDIDATE`); a plain
dotted quad skips `ipaddress`; a number of a shared country code's main region skips one
libphonenumber check. Each is compared with the plain way over texts dense in what they look for.
"""

from __future__ import annotations

import ipaddress
import random

import phonenumbers
import pytest
import regex

from gateway.guardrails.pii_checks import PLAIN_IPV4
from gateway.guardrails.pii_patterns import _FLAGS, _from_starts
from gateway.guardrails.pii_phone import ASCII_PHONE_CANDIDATE, PHONE_CANDIDATE, _is_valid
from gateway.guardrails.pii_rules import ASCII_STARTS, builtin_rules

PATTERNS = {
    name: source
    for rule in builtin_rules(lambda value: None).values()
    for name, source, _ in rule.patterns
}
# Digits, the separators the patterns know, letters of both cases, and ASCII whitespace that
# `str` and `regex` read differently (\x1c-\x1f).
ALPHABET = "0123456789" * 6 + " -./:()+@_" * 2 + "aAbBzZgGdDeE" + "\t\n\x1c\x1f"
PIECES = (
    "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "4111 1111 1111 1111",
    "2221-0000-0000-0009", "123-45-6789", "12345-6789", "123 45 6789", "123456789",
    "10.20.30.40", "255.255.255.255/24", "01.2.3.4", "+44 20 7946 0958", "(415) 555-0100",
    "0044 20 7946 0958", "2024-06-30", "smith12", "th12", "x",
)  # fmt: skip


def _texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = []
    for _ in range(count):
        parts = [
            rng.choice(PIECES) if rng.random() < 0.3 else "".join(rng.choices(ALPHABET, k=8))
            for _ in range(rng.randint(1, 8))
        ]
        texts.append(rng.choice(["", " ", "-", "."]).join(parts))
    return texts


TEXTS = _texts(1500, 22)


@pytest.mark.parametrize("name", sorted(ASCII_STARTS))
def test_ascii_starts_find_what_a_full_scan_finds(name: str) -> None:
    pattern = regex.compile(PATTERNS[name], _FLAGS)
    fast = _from_starts(*ASCII_STARTS[name], pattern)
    differ = [
        text
        for text in TEXTS
        if [m.span() for m in fast(text)] != [m.span() for m in pattern.finditer(text)]
    ]
    assert differ == []
    assert any(list(pattern.finditer(text)) for text in TEXTS)  # the texts hold matches


def test_ascii_phone_candidates_are_the_standard_engines() -> None:
    differ = [
        text
        for text in TEXTS
        if [m.span() for m in ASCII_PHONE_CANDIDATE.finditer(text)]
        != [m.span() for m in PHONE_CANDIDATE.finditer(text)]
    ]
    assert differ == []


def test_plain_dotted_quads_are_addresses_ipaddress_accepts() -> None:
    octets = [str(n) for n in range(256)] + ["00", "01", "001", "099", "256", "300"]
    rng = random.Random(5)
    for _ in range(5000):
        value = ".".join(rng.choice(octets) for _ in range(4))
        if rng.random() < 0.3:
            value += "/" + rng.choice([str(n) for n in range(40)] + ["00", "032"])
        if PLAIN_IPV4.fullmatch(value):
            ipaddress.ip_interface(value)  # raises if the fast path took a non-address


@pytest.mark.parametrize("code", [1, 7, 39, 44, 61, 262, 590, 33])
def test_main_region_shortcut_agrees_with_libphonenumber(code: int) -> None:
    # Each region's example numbers with their last digits changed, and random digits.
    examples = [
        str(example.national_number)
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[code]
        for kind in (phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE)
        if (example := phonenumbers.example_number_for_type(region, kind)) is not None
    ]
    rng = random.Random(code)
    valid = 0
    for _ in range(600):
        digits = "".join(rng.choices("0123456789", k=rng.randint(6, 11)))
        if examples and rng.random() < 0.8:
            national = rng.choice(examples)
            digits = national[:-3] + digits[:3]
        number = phonenumbers.parse(f"+{code}{digits}", None)
        assert _is_valid(number) == phonenumbers.is_valid_number(number), digits
        valid += _is_valid(number)
    assert valid  # valid numbers were checked, not only invalid ones
