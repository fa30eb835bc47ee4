"""The checks of the built-in PII rules: checksums and shapes that confirm or drop a match.

Restated from presidio-analyzer 2.2.366 (MIT licence, Copyright (c) Microsoft Corporation), like
the rules in `pii_rules.py`. A check returns True (the value is certain), False (not a value:
dropped) or None (keep the pattern's score).
"""

from __future__ import annotations

import ipaddress
import string
from hashlib import sha256

import regex

from gateway.guardrails.pii_iban import regex_per_country


def _sanitize(value: str) -> str:
    return value.replace("-", "").replace(" ", "")


def luhn(value: str) -> bool:
    digits = [int(d) for d in _sanitize(value)]
    total = sum(digits[-1::-2]) + sum(sum(divmod(d * 2, 10)) for d in digits[-2::-2])
    return total % 10 == 0


_IBAN_LETTERS = {ord(d): str(i) for i, d in enumerate(string.digits + string.ascii_uppercase)}


def iban(value: str) -> bool | None:
    text = _sanitize(value)
    try:
        moved = (text[:2] + "00" + text[4:]).upper()[4:] + (text[:2] + "00").upper()
        check = f"{98 - int(moved.translate(_IBAN_LETTERS)) % 97:0>2}"
    except ValueError:
        return False
    if check != text[2:4]:
        return False
    if _iban_format(text):
        return True
    return None if _iban_format(text.upper()) else False


def _iban_format(text: str) -> bool:
    country = regex_per_country.get(text[:2], "")
    return bool(country) and regex.match(country, text, flags=regex.DOTALL | regex.M) is not None


# A dotted quad without leading zeros (and a prefix length): `ipaddress` takes every one.
PLAIN_IPV4 = regex.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(?:/(?:3[0-2]|[12]?[0-9]))?"
)


# A Python / numpy slice (`xs[::2]`, `xs[1::2]`, `digits[-1::-2]`) parses as an IPv6 address;
# no address is written that way (`::1`, the loopback, is).
_SLICE = regex.compile(r"\d{0,3}::\d{0,3}")


def not_ip(value: str) -> bool:
    if PLAIN_IPV4.fullmatch(value) is not None:
        return False
    if value != "::1" and _SLICE.fullmatch(value) is not None:
        return True
    try:
        ipaddress.ip_interface(value)
    except ValueError:
        return True
    return False


def not_ssn(value: str) -> bool:
    if len({c for c in value if c in ".- "}) > 1:
        return True
    digits = "".join(c for c in value if c.isdigit())
    return (
        all(c == digits[0] for c in digits)
        or digits[3:5] == "00"
        or digits[5:] == "0000"
        or digits[:3] in ("000", "666")
        or digits in ("123456789", "987654320", "078051120")
    )


def not_mac(value: str) -> bool:
    cleaned = regex.sub(r"[:\-.]", "", value)
    if regex.fullmatch(r"[0-9A-Fa-f]{12}", cleaned) is None:
        return True
    return cleaned.upper() in ("FFFFFFFFFFFF", "000000000000")


_BASE58 = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def crypto(value: str) -> bool:
    if value.startswith(("1", "3")):
        raw = value.encode()
        stripped = raw.lstrip(_BASE58[:1])
        number = 0
        for char in stripped:
            if char not in _BASE58:
                return False
            number = number * 58 + _BASE58.index(char)
        data = number.to_bytes(len(raw) - len(stripped) + (number.bit_length() + 7) // 8, "big")
        return data[-4:] == sha256(sha256(data[:-4]).digest()).digest()[:4]
    return value.startswith("bc1") and _bech32(value)


def _bech32(address: str) -> bool:
    if any(not 33 <= ord(x) <= 126 for x in address):
        return False
    if address.lower() != address and address.upper() != address:
        return False
    address = address.lower()
    pos = address.rfind("1")
    if pos < 1 or pos + 7 > len(address) or len(address) > 90:
        return False
    if not all(x in _BECH32 for x in address[pos + 1 :]):
        return False
    hrp = address[:pos]
    values = [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]
    values += [_BECH32.find(x) for x in address[pos + 1 :]]
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i, gen in enumerate((0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)):
            chk ^= gen if top >> i & 1 else 0
    return chk in (1, 0x2BC830A3)
