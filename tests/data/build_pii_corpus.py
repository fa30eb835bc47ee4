"""Build pii_corpus.jsonl: labelled texts for the PII guardrail's precision / recall test.

Run `python tests/data/build_pii_corpus.py` after editing the lists below; the JSONL is checked in.
Each line: {"text", "entities": [{"type", "value"}], "chunks"?: [...], "kind"}. `kind` is
"positive" (labelled values must be found), "lookalike" (nothing may be found: order numbers,
versions, dates, ...) or "stream" (the text arrives in the given chunks, split inside a value).
"""

from __future__ import annotations

import json
import random
from pathlib import Path

VALUES = {
    "EMAIL_ADDRESS": [
        "john.doe@example.com",
        "a.b-c+tag@sub.mail.co.uk",
        "first_last@company.io",
        "x@y.org",
        "user123@gmail.com",
        "Mixed.Case@Example.COM",
        "ops@acme.dev",
        "jane@corp.com",
        "élodie.dupont@exemple.fr",
        "o'reilly@books.com",
        "team-lead@startup.ai",
        "no.reply@notifications.github.com",
        "s.kumar@iitb.ac.in",
        "billing@xn--mnchen-3ya.de",
        "maria.garcia92@hotmail.es",
        "dev+alerts@status.io",
    ],
    "PHONE_NUMBER": [
        "+1 (415) 555-2671",
        "(212) 736-5000",
        "+44 20 7946 0958",
        "020 7946 0958",
        "+49 30 901820",
        "+33 1 42 68 53 00",
        "+91 98765 43210",
        "415.555.2671",
        "415-867-5309",
        "+1-800-275-2273",
        "0049 89 1234567",
        "+61 2 9374 4000",
        "+34 912 345 678",
        "07700 900123",
        "+1 212 736 5000",
        "(650) 253-0000",
        "+353 1 234 5678",
        "+31 20 123 4567",
        "1-800-275-2273",
        "+81 3-1234-5678",
        "030 12345678",
        "+55 11 91234-5678",
    ],
    "CREDIT_CARD": [
        "4111 1111 1111 1111",
        "4012888888881881",
        "5555 5555 5555 4444",
        "5105-1051-0510-5100",
        "378282246310005",
        "6011111111111117",
        "3530111333300000",
        "4242424242424242",
        "2223003122003222",
        "5200 8282 8282 8210",
        "6011 0009 9013 9424",
        "4000-0566-5566-5556",
        "36227206271667",
        "4000 0025 0000 3155",
    ],
    "IBAN_CODE": [
        "DE89 3704 0044 0532 0130 00",
        "GB82 WEST 1234 5698 7654 32",
        "FR14 2004 1010 0505 0001 3M02 606",
        "NL91ABNA0417164300",
        "ES91 2100 0418 4502 0005 1332",
        "IT60 X054 2811 1010 0000 0123 456",
        "CH93 0076 2011 6238 5295 7",
        "BE68 5390 0754 7034",
        "AT61 1904 3002 3457 3201",
        "PL61 1090 1014 0000 0712 1981 2874",
        "GB82WEST12345698765432",
        "DE89370400440532013000",
        "IE29 AIBK 9311 5212 3456 78",
        "SE45 5000 0000 0583 9825 7466",
    ],
    "IP_ADDRESS": [
        "192.168.1.20",
        "10.0.0.1",
        "8.8.8.8",
        "172.16.254.1",
        "203.0.113.42",
        "2001:db8::ff00:42:8329",
        "fe80::1ff:fe23:4567:890a",
        "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "10.0.0.0/8",
        "192.168.0.1",
        "127.0.0.1",
        "::ffff:192.0.2.128",
        "198.51.100.7",
        "100.64.12.9",
    ],
    "US_SSN": ["536-22-8714", "219-09-9999", "401 25 6789", "665-12-3456", "078-12-4455"],
}

TEMPLATES = {
    "EMAIL_ADDRESS": [
        "You can reach me at {v} if anything is unclear.",
        "Please send the signed contract to {v}.",
        "From: Support Team <{v}>",
        "my email is {v}",
        "Forward the logs to ({v}) before Friday",
        "Contact: {v}, or ask at the front desk.",
        "cc {v} on the thread please",
        "mailto:{v}",
    ],
    "PHONE_NUMBER": [
        "Call me on {v} after 5pm.",
        "Phone: {v}",
        "Our office number is {v}, ask for Dana.",
        "You can text my mobile {v} any time.",
        "Reach the hotline at {v} (24/7).",
        "tel. {v}",
        "If the build fails again, ring {v} and page the on-call engineer.",
    ],
    "CREDIT_CARD": [
        "My card number is {v}, expiry 04/27.",
        "Charge it to {v} please.",
        "Visa {v} was declined yesterday.",
        "Payment details: {v} / CVV on request.",
        "the card {v} belongs to my husband",
    ],
    "IBAN_CODE": [
        "Please wire the deposit to IBAN {v}.",
        "Bank account: {v} (BIC DEUTDEFF)",
        "Transfer the refund to {v} by Monday.",
        "IBAN: {v}",
        "my account {v} at the local branch",
    ],
    "IP_ADDRESS": [
        "The server at {v} keeps timing out.",
        "Blocked login attempts from {v} last night.",
        "ssh admin@{v} -p 22",
        "Set the DNS resolver to {v} and restart.",
        "client_ip={v} status=403",
        "Add {v} to the allow list, please.",
    ],
    "US_SSN": [
        "My SSN is {v}.",
        "Social security number: {v}",
        "ssn {v} on the W-2 form",
    ],
}

# Several entities in one text.
MIXED = [
    (
        "Hi, I'm Dana. Email dana.k@fastmail.com or call +44 20 7946 0958; "
        "invoice goes to IBAN GB82 WEST 1234 5698 7654 32.",
        [
            ("EMAIL_ADDRESS", "dana.k@fastmail.com"),
            ("PHONE_NUMBER", "+44 20 7946 0958"),
            ("IBAN_CODE", "GB82 WEST 1234 5698 7654 32"),
        ],
    ),
    (
        "Card 4111 1111 1111 1111 was used from 203.0.113.42 at 10:42 on 2024-03-02.",
        [("CREDIT_CARD", "4111 1111 1111 1111"), ("IP_ADDRESS", "203.0.113.42")],
    ),
    (
        "Customer: jo@shop.co.uk, phone (212) 736-5000, order #100234567, shipped v2 label.",
        [("EMAIL_ADDRESS", "jo@shop.co.uk"), ("PHONE_NUMBER", "(212) 736-5000")],
    ),
    (
        "Logs: 2024-05-01T10:30:00Z src=10.0.0.1 dst=192.168.1.20 user=ops@acme.dev",
        [
            ("IP_ADDRESS", "10.0.0.1"),
            ("IP_ADDRESS", "192.168.1.20"),
            ("EMAIL_ADDRESS", "ops@acme.dev"),
        ],
    ),
    (
        "Refund 5555 5555 5555 4444 to DE89 3704 0044 0532 0130 00; questions to +49 30 901820.",
        [
            ("CREDIT_CARD", "5555 5555 5555 4444"),
            ("IBAN_CODE", "DE89 3704 0044 0532 0130 00"),
            ("PHONE_NUMBER", "+49 30 901820"),
        ],
    ),
    (
        "Ticket 4821: user maria.garcia92@hotmail.es (SSN 536-22-8714) "
        "cannot log in from 172.16.254.1",
        [
            ("EMAIL_ADDRESS", "maria.garcia92@hotmail.es"),
            ("US_SSN", "536-22-8714"),
            ("IP_ADDRESS", "172.16.254.1"),
        ],
    ),
]

LOOKALIKES = [
    "Order #100234567 shipped on 2024-05-01.",
    "Your order number is ORD-2024-000123.",
    "Tracking: 1Z999AA10123456784",
    "Upgrade requests to v2.31.0 before the release.",
    "We run Python 3.11.7 and node 20.11.1 in CI.",
    "Version 1.2.3 fixed the crash.",
    "The meeting is on 01/05/2024 at 10:30.",
    "Deadline: 12.03.2023",
    "Born on May 5, 1990.",
    "Timestamp 2024-05-01T10:30:45Z",
    "Invoice INV-55821 totals $1,234,567.89.",
    "Population: 1 000 000 people",
    "ISBN 978-3-16-148410-0",
    "ZIP code 94103-1234",
    "Commit 4f2a9c1 broke the build.",
    "UUID 123e4567-e89b-12d3-a456-426614174000",
    "Ping @username on the channel.",
    "Install lodash@4.17.21 and react@18.2.0.",
    "Coordinates 37.7749, -122.4194",
    "Room 101, building 7",
    "Listen on port 8080.",
    "Run chmod 755 on the script.",
    "Pi is about 3.14159265.",
    "The aspect ratio is 16:9.",
    "The card 4111 1111 1111 1112 fails the checksum.",
    "IBAN-like DE89 3704 0044 0532 0130 01 is invalid.",
    "Bad address 999.300.1.1 in the config.",
    "Sort code 12-34-56",
    "Product SKU 8801643211",
    "Reference 2024-117-0042",
    "Build 20240501.3 passed.",
    "Release 2024.05.01",
    "Ticket JIRA-12345 and PR #6789",
    "Total: 12,345,678 units",
    "Call the function foo() twice.",
    "Email the team about the launch.",
    "My phone died yesterday.",
    "The IP rules changed.",
    "Use the credit card form on the page.",
    "Your IBAN will be requested later.",
    "Serial number SN-4829-1183-22",
    "Tax id 12-3456789",
    "Account 00012345",
    "Meeting id 845 2231 9987",
    "Flight LH 400 departs 13:45.",
    "Patch 5.4.0-150-generic kernel",
    "Docker image python:3.11-slim",
    "Set timeout=30000 ms",
    "The year 2023 was busy.",
    "It costs 49.99 EUR.",
    "Score 98.6 out of 100",
    "Stock ticker AAPL rose 2.3%",
    "HTTP 404 and 503 errors",
    "SHA 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "Temperature was 21.5 degrees.",
    "Chapter 3, section 2.4.1",
    "Between 2019 and 2024 revenue doubled.",
    "Order 4155552671 is delayed.",
    "Quantity 1,500 at 3.25 each",
    "see RFC 7231 and RFC 9110",
    "Lot 20240501-A-17",
    "Package weighs 2.5 kg",
    "Dimensions 120x80x45 cm",
    "Ratio 3:2:1 of flour, water, butter",
    "Version string 10.0.19045.3803 on Windows",
    "Semver 0.0.1-alpha.7",
    "Range 10-20-30 steps",
    "Frame 00:01:23:12 in the edit",
    "Use git@github:org/repo style remotes.",
    "user@localhost cannot receive mail.",
    "ABC-1234-XYZ is the license key.",
    "Receipt 0042-1187-5530",
    "Loan 250,000 over 25 years",
    "Part number 7700-900-123",
    "The build took 1234567 ms.",
    "Game score 21-19, 21-17",
    "Member since 2011, id 5521",
    "Matrix 4x4 with det 0.25",
    "Resolution 1920x1080 at 60 Hz",
    "Distance 42.195 km",
    "Week 18 of 2024",
    "Grid ref SU 123 456",
]

CHUNK_SOURCES = 45  # positive texts also sent as three stream chunks split inside the value


def main() -> None:
    rng = random.Random(5)
    rows: list[dict[str, object]] = []
    for entity, values in VALUES.items():
        templates = TEMPLATES[entity]
        for i, value in enumerate(values):
            for template in (
                templates[i % len(templates)],
                templates[(i * 3 + 1) % len(templates)],
            ):
                rows.append(
                    {
                        "text": template.format(v=value),
                        "entities": [{"type": entity, "value": value}],
                        "kind": "positive",
                    }
                )
    for text, entities in MIXED:
        rows.append(
            {
                "text": text,
                "entities": [{"type": t, "value": v} for t, v in entities],
                "kind": "positive",
            }
        )
    positives = [r for r in rows if len(r["entities"]) == 1]  # type: ignore[arg-type]
    for row in rng.sample(positives, CHUNK_SOURCES):
        text = str(row["text"])
        value = row["entities"][0]["value"]  # type: ignore[index]
        start = text.index(value)
        a = start + max(1, len(value) // 3)
        b = start + max(2, 2 * len(value) // 3)
        rows.append(
            {
                "text": text,
                "entities": row["entities"],
                "chunks": [text[:a], text[a:b], text[b:]],
                "kind": "stream",
            }
        )
    for text in LOOKALIKES:
        rows.append({"text": text, "entities": [], "kind": "lookalike"})
    out = Path(__file__).with_name("pii_corpus.jsonl")
    out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    print(f"{len(rows)} texts -> {out}")


if __name__ == "__main__":
    main()
