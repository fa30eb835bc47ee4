"""What developers send that is not personal data: source code, logs, versions, identifiers,
tables of numbers.
The PII guardrail (default entities, `patterns`) must leave them alone, and still find the
values beside them."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.config.types import GuardrailConfig
from gateway.guardrails.base import Detector
from gateway.guardrails.compiled import GuardrailSet

NOT_PII = [
    "SNMP OID 1.3.6.1.4.1.311.21.8 is the enterprise arc",
    "walk 1.3.6.1.2.1.1.5.0 for sysName",
    "pip install numpy==1.26.4.0",
    "requires pkg>=2.1.0.1, pkg~=1.2.3.4 and pkg!=1.2.3.5",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120.0.0.0 Safari/537.36",
    "Fixed in version 1.2.3.4 of the driver",
    "Version: 4.1.0.2",
    "Windows 10.0.19041.1 build",
    "evens = xs[::2]",
    "odds = xs[1::2]",
    "total = sum(digits[-1::-2])",
    "thumb = img[:, ::3]",
    # Columns of a report (docs/replay.md): `0.144000   812.0` read as a French number.
    "gpt-4o-mini  platform  1200  12  1.0%  480000  120000   0.144000   812.0  2210.5  4120.9",
    "latency   0.144000   812.0",
    # Sequences and ISBN-10s: more than one group of a single digit.
    "fib: 0 1 1 2 3 5 8 13 21 34 55 89",
    "digits 0 1 2 3 4 5 6 7 8 9",
    "ISBN-10 0-306-40615-2",
]
IPS = [
    ("ssh root@10.0.0.1", "10.0.0.1"),
    ("--host=10.0.0.1 --port 80", "10.0.0.1"),
    ("GET http://10.0.0.1/health", "10.0.0.1"),
    ("listening on 192.168.1.1:8080", "192.168.1.1"),
    ("the server is 172.16.4.20.", "172.16.4.20"),
    ("allow 10.0.0.0/8 only", "10.0.0.0/8"),
    ("version 2 of the API moved to 10.1.2.3", "10.1.2.3"),
    ("curl http://[::1]:8080/health", "::1"),
    ("neighbour fe80::1 is down", "fe80::1"),
]


@pytest.fixture(scope="module")
def detector(compile_set: Callable[..., GuardrailSet]) -> Detector:
    found = compile_set(GuardrailConfig(name="pii", type="pii")).input[0].detector
    assert found is not None
    return found


@pytest.mark.parametrize("text", NOT_PII)
def test_code_versions_and_tables_hold_no_pii(detector: Detector, text: str) -> None:
    assert [(f.entity, text[f.start : f.end]) for f in detector.scan(text)] == []


@pytest.mark.parametrize(("text", "address"), IPS)
def test_addresses_beside_them_are_still_found(detector: Detector, text: str, address: str) -> None:
    found = [(f.entity, text[f.start : f.end]) for f in detector.scan(text)]
    assert found == [("IP_ADDRESS", address)]


# An address in a URL, a log line or code: only the address is found, never the delimiters or
# the URL before it (a redaction must leave `user=` and the host for the reader).
EMAILS = [
    ("https://example.com/reset?email=jane.doe@example.org&x=1", "jane.doe@example.org"),
    ("GET /api/users/jane@example.com HTTP/1.1", "jane@example.com"),
    ("login ok user=jane@example.com ip=-", "jane@example.com"),
    ("email='jane@example.com'", "jane@example.com"),
    ("| 3 | ops|jane@example.com |", "jane@example.com"),
    ("mail john+tag@example.com", "john+tag@example.com"),
    ("write to o'neil@example.ie", "o'neil@example.ie"),
    ("mail user@münchen.de", "user@münchen.de"),
]


@pytest.mark.parametrize(("text", "address"), EMAILS)
def test_an_address_is_found_without_what_delimits_it(
    detector: Detector, text: str, address: str
) -> None:
    found = [(f.entity, text[f.start : f.end]) for f in detector.scan(text)]
    assert found == [("EMAIL_ADDRESS", address)]


PHONES = [
    ("call +44 20 7946 0958 today", "+44 20 7946 0958"),
    ("phone: (415) 555-0100", "(415) 555-0100"),
    ("Appelez-moi au 06 12 34 56 78.", "06 12 34 56 78"),
    ("WhatsApp +33 6 12 34 56 78", "+33 6 12 34 56 78"),
    ("tel +81 3-1234-5678", "+81 3-1234-5678"),
    ("phone 1 800 555 0199", "1 800 555 0199"),
]


@pytest.mark.parametrize(("text", "number"), PHONES)
def test_phone_numbers_are_still_found(detector: Detector, text: str, number: str) -> None:
    found = [(f.entity, text[f.start : f.end]) for f in detector.scan(text)]
    assert found == [("PHONE_NUMBER", number)]
