"""Phone numbers: cheap candidates by regex, each validated by libphonenumber.

Shared by both PII engines. A formatted number (`+`, parentheses or separators) scores 0.7;
bare digits score 0.3 and need a context word ("phone", "call", ...) to pass the default
threshold, so order numbers and ids do not.
"""

from __future__ import annotations

import re

import phonenumbers
import regex
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

PHONE_CONTEXT = (
    "phone",
    "telephone",
    "tel",
    "cell",
    "mobile",
    "call",
    "fax",
    "whatsapp",
    "reach",
)


def _candidate(digit: str, space: str, word: str) -> str:
    return (
        rf"(?<![{word}+\-./])(?:(?:\+|00)[{digit}]{{1,3}}[{space}.\-]?)?"
        rf"(?:\([{digit}]{{1,5}}\)[{space}.\-]?)?[{digit}]"
        # Never two spaces in a row: numbers in a table's columns are no phone number.
        rf"(?:[{digit}.\-]|[{space}](?![{space}])){{4,17}}[{digit}]"
        rf"(?![{word}@]|[.\-/:][{digit}])"
    )


PHONE_CANDIDATE = re.compile(_candidate(r"\d", r"\s", r"\w"))
# The same candidates in an ASCII text, where the classes are spelled out as Python's `str`
# reads them (\x1c-\x1f are whitespace): `regex` skips to the first character a candidate
# starts with, the standard library's engine tries every position (~5x the CPU).
ASCII_PHONE_CANDIDATE = regex.compile(
    "(?=[+(0-9])" + _candidate("0-9", r"\t\n\x0b\x0c\r\x1c-\x1f ", "A-Za-z0-9_")
)
_PHONE_REJECT = (
    re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"),  # dates
    re.compile(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"),
    re.compile(r"(?:19|20)\d{2}[-./]\d+(?:[-./]\d+)*"),  # year-led references: 2024-117-0042
    re.compile(r"\d{1,3}(?:\.\d{1,3}){3}"),  # IPv4
    re.compile(r"\d{3}[\s.\-]\d{2}[\s.\-]\d{4}"),  # SSN shape
    re.compile(r"\d{5}-\d{4}|\d{2}-\d{7}"),  # ZIP+4, US tax id
    re.compile(r"\d+\.\d+"),  # decimals
)
_SEPARATED = re.compile(r"\d[\s.\-]\d")
_GROUPS = re.compile(r"[\s.\-()]+")
# National formats: a leading 0 is the trunk prefix of these; anything else must be a NANP number.
_TRUNK_REGIONS = ("GB", "DE", "FR", "NL", "IT", "AU", "IN", "BR", "IE", "CH", "AT", "BE")
_NANP_REGIONS = ("US", "CA")


def phone_score(value: str) -> float:
    """0.7 for a valid formatted number, 0.3 for valid bare digits (needs context), else 0."""
    digits = sum(c.isdigit() for c in value)
    international = value.startswith(("+", "00"))
    formatted = international or "(" in value or bool(_SEPARATED.search(value))
    if international:
        regions: tuple[str | None, ...] = (None,)
        low = 7
    elif value.lstrip("(").startswith("0"):
        regions, low = _TRUNK_REGIONS, 9
    else:
        regions, low = _NANP_REGIONS, 10
    if not formatted:
        low = max(low, 10)
    if not low <= digits <= 15 or any(p.fullmatch(value) for p in _PHONE_REJECT):
        return 0.0
    if formatted and _single_digit_groups(value, international) > 1:
        return 0.0
    text = "+" + value[2:] if value.startswith("00") else value
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if _is_valid(number):
            return 0.7 if formatted else 0.3
    return 0.0


def _single_digit_groups(value: str, international: bool) -> int:
    """Groups of one digit (a country code after `+` not counted). A number is written with
    at most one (`+33 6 12 34 56 78`, `1 800 555 1234`); a sequence (`0 1 1 2 3 5 8 13 21`)
    or an ISBN-10 (`0-306-40615-2`, its check digit apart) has more."""
    groups = _GROUPS.split(value.lstrip("+"))
    return sum(len(g) == 1 for g in groups[1 if international else 0 :])


def _is_valid(number: phonenumbers.PhoneNumber) -> bool:
    """`phonenumbers.is_valid_number`, with one check fewer for a valid number of the main
    region of a shared country code (+1 US, +44 GB, ...): that function finds the region by
    checking the number against each region's patterns (the main one first when it names no
    leading digits), then checks it again against the region found."""
    code = number.country_code
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code, ()) if code is not None else ()
    if len(regions) > 1:
        main = PhoneMetadata.metadata_for_region(regions[0], None)
        if main is not None and main.leading_digits is None:
            if phonenumbers.is_valid_number_for_region(number, regions[0]):
                return True
    return bool(phonenumbers.is_valid_number(number))
