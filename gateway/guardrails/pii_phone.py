"""Phone numbers: cheap candidates by regex, each validated by libphonenumber.

Shared by both PII engines. A formatted number (`+`, parentheses or separators) scores 0.7;
bare digits score 0.3 and need a context word ("phone", "call", ...) to pass the default
threshold, so order numbers and ids do not.
"""

from __future__ import annotations

import re

import phonenumbers

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

PHONE_CANDIDATE = re.compile(
    r"(?<![\w+\-./])(?:(?:\+|00)\d{1,3}[\s.\-]?)?(?:\(\d{1,5}\)[\s.\-]?)?\d[\d\s.\-]{4,17}\d(?![\w@]|[.\-/:]\d)"
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
    text = "+" + value[2:] if value.startswith("00") else value
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return 0.7 if formatted else 0.3
    return 0.0
