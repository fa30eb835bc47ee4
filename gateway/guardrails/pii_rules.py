"""The built-in PII rules of the `patterns` engine: regexes, scores, context words, checks.

The patterns, scores, context words and checks are presidio-analyzer 2.2.366's (MIT licence,
Copyright (c) Microsoft Corporation; the URL pattern from CommonRegex, MIT, (c) 2014 Madison May),
restated here so the engine needs neither presidio nor spaCy; `tests/unit/guardrails/
test_pii_parity.py` checks both find the same on the PII corpus. A check returns True (the value
is certain: score 1.0), False (not a value: dropped) or None (keep the pattern's score).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import tldextract

from gateway.guardrails.pii_checks import crypto, iban, luhn, not_ip, not_mac, not_ssn

Check = Callable[[str], bool | None]


@dataclass(frozen=True)
class Rule:
    """One recognizer: an entity's patterns (name, regex, score), context words and checks."""

    entity: str
    patterns: tuple[tuple[str, str, float], ...]
    context: tuple[str, ...] = ()
    validate: Check | None = None
    invalidate: Check | None = None


_TLDS = """
com edu gov int mil net onl org pro red tel uno xxx academy accountant accountants actor
adult africa agency airforce apartments app archi army art asia associates attorney auction
audio auto autos baby band bar bargains beer berlin best bet bid bike bio black blackfriday
blog blue boats bond boo boston bot boutique build builders business buzz cab cafe cam
camera camp capital car cards care careers cars casa cash casino catering center ceo cfd
charity chat cheap christmas church city claims cleaning click clinic clothing cloud club
codes coffee college com community company computer condos construction consulting contact
contractors cooking cool coupons courses credit creditcard cricket cruises cyou dad dance
date dating day degree delivery democrat dental dentist desi design dev diamonds diet
digital direct directory discount doctor dog domains download earth eco education email
energy engineer engineering enterprises equipment esq estate events exchange expert exposed
express fail faith family fans farm fashion feedback film finance financial fish fishing fit
fitness flights florist flowers football forsale foundation fun fund furniture futbol fyi
gallery game games garden gay gdn gifts gives giving glass global gmbh gold golf graphics
gratis green gripe group guide guitars guru hair hamburg haus health healthcare help hiphop
hockey holdings holiday homes horse hospital host hosting house how icu info ink institute
insure international investments irish jewelry jetzt juegos kaufen kids kitchen kiwi krd
kyoto land lat law lawyer lease legal lgbt life lighting limited limo link live loan loans
lol london love ltd ltda luxury maison management market marketing markets mba media
melbourne meme memorial men miami mobi moda moe mom money monster mortgage motorcycles mov
movie nagoya name navy network new news ngo ninja now nyc observer okinawa one ong onl
online organic osaka page paris partners parts party pet phd photo photography photos pics
pictures pink pizza place plumbing plus poker porn press pro productions prof promo
properties property protection pub quest racing recipes red rehab reise reisen rent rentals
repair report republican rest restaurant review reviews rip rocks rodeo rsvp run saarland
sale salon sarl sbs school schule science services sex sexy sh shoes shop shopping show
singles site skin soccer social software solar solutions soy space spiegel study style sucks
supply support surf surgery systems tax taxi team tech technology tel theater tips tires
today tools top tours town toys trade training tube uk university uno vacations ventures vet
video villas vin vip vision vlaanderen vodka vote voting voyage wales wang watch webcam
website wedding wiki wine work works world wtf xyz yoga yokohama you zone ac ad ae af ag ai
al am an ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bv bw by bz
ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et
eu fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht
hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk
lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne
nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa
sb sc sd se sg sh si sj sk sl sm sn so sr st su sv sx sy sz tc td tf tg th tj tk tl tm tn to
tp tr tt tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw
""".split()
_URL = (
    r"((www\d{0,3}[.])?[a-z0-9.\-]{1,253}[.](?:"
    + "|".join(f"(?:{tld})" for tld in _TLDS)
    + r")(?:/[^\s()<>\"']*)?)"
)
_IP_OCTET = r"(?:25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)"
_IP6_PREFIX = r"(?:/(?:12[0-8]|1[01]\d|[1-9]?\d))?"
_H = r"[0-9A-Fa-f]{1,4}"
_IPV6 = (
    rf"(?:(?:{_H}:){{7}}{_H}|(?:{_H}:){{1,7}}:|:(?::{_H}){{1,7}}|(?:{_H}:){{1,6}}:{_H}"
    rf"|(?:{_H}:){{1,5}}(?::{_H}){{1,2}}|(?:{_H}:){{1,4}}(?::{_H}){{1,3}}"
    rf"|(?:{_H}:){{1,3}}(?::{_H}){{1,4}}|(?:{_H}:){{1,2}}(?::{_H}){{1,5}}"
    rf"|{_H}:(?::{_H}){{1,6}}|:(?::{_H}){{1,6}})"
)
_IPV4 = rf"(?:{_IP_OCTET}\.){{3}}{_IP_OCTET}"
# presidio's email pattern, except that the local part starts with a letter or digit and holds
# none of `/ = ? & |`: RFC 5322 allows them, but in real text they are the delimiters around an
# address, so presidio's pattern took `user=jane@example.com` whole (the redaction ate `user=`),
# `?email=jane@example.org` with the URL's host and path before it, and dropped
# `/users/jane@example.com` (whose `users/jane@example.com` has no domain) unseen.
_LOCAL = r"[!#$%'*+\-^_`{}~\w]"
EMAIL = (
    rf"\b(\w(?:[{_LOCAL[1:-1]}.]*{_LOCAL})?[@]"
    r"\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+)\b"
)
# Not in presidio: a dotted quad that is part of a longer dotted number (the OID
# 1.3.6.1.4.1.311 held the "address" 1.3.6.1), a product token's version (`Chrome/120.0.0.0` in
# every user agent), a pinned package (`numpy==1.26.4.0`, `>=`, `~=`) or a version named as one
# (`version 1.2.3.4`) is no address. `host=10.0.0.1` and `root@10.0.0.1` still are.
IPV4 = (
    r"(?<!\d\.)(?<![A-Za-z]/)(?<![=~<>!]=)(?<!\bversion[\s:]{1,2})"
    rf"\b{_IP_OCTET}\.{_IP_OCTET}\.{_IP_OCTET}\.{_IP_OCTET}"
    r"(?:/(?:[0-2]?\d|3[0-2]))?\b(?!\.\d)"
)


def builtin_rules(email_domain: Check) -> dict[str, Rule]:
    """The built-in rules by entity; `email_domain` says whether an address has a real domain."""
    return {
        "EMAIL_ADDRESS": Rule(
            "EMAIL_ADDRESS",
            (("Email (Medium)", EMAIL, 0.5),),
            ("email",),
            validate=email_domain,
        ),
        "CREDIT_CARD": Rule(
            "CREDIT_CARD",
            (
                (
                    "All Credit Cards (weak)",
                    r"\b(?!1\d{12}(?!\d))((4\d{3})|(5[0-5]\d{2})|(6\d{3})|(1\d{3})|(3\d{3}))"
                    r"[- ]?(\d{3,4})[- ]?(\d{3,4})[- ]?(\d{3,5})\b",
                    0.3,
                ),
                # Not in presidio: the Mastercard 2-series (2221-2720); Luhn still decides.
                (
                    "Mastercard 2-series",
                    r"\b2[2-7]\d{2}[- ]?\d{4}[- ]?\d{4}[- ]?\d{4}\b",
                    0.3,
                ),
            ),
            (
                "credit",
                "card",
                "visa",
                "mastercard",
                "cc ",
                "amex",
                "discover",
                "jcb",
                "diners",
                "maestro",
                "instapayment",
            ),
            validate=luhn,
        ),
        "IBAN_CODE": Rule(
            "IBAN_CODE",
            (
                (
                    "IBAN Generic",
                    r"(?<![A-Z0-9])([A-Z]{2}[0-9]{2}(?:[ -]?[A-Z0-9]{4}){2,6})"
                    r"((?:[ -]?[A-Z0-9]{4})?)((?:[ -]?[A-Z0-9]{1,3})?)(?![A-Z0-9])",
                    0.5,
                ),
            ),
            ("iban", "bank", "transaction"),
            validate=iban,
        ),
        "IP_ADDRESS": Rule(
            "IP_ADDRESS",
            (
                (
                    "IPv4_mapped",
                    rf"(?<![\w:])::(?:ffff(?::0{{1,4}})?:)?{_IPV4}{_IP6_PREFIX}\b",
                    0.6,
                ),
                (
                    "IPv4_embedded",
                    rf"(?<![\w:])(?:(?:{_H}:){{1,5}}:(?:{_H}:){{0,4}}|(?:{_H}:){{6}})"
                    rf"{_IPV4}{_IP6_PREFIX}\b",
                    0.6,
                ),
                ("IPv4", IPV4, 0.6),
                (
                    "IPv6",
                    rf"(?<![\w:]){_IPV6}(?:%[0-9a-zA-Z]+)?{_IP6_PREFIX}(?![\w:]|\.\d)",
                    0.6,
                ),
                ("IPv6_unspecified", rf"(?<![\w:])::{_IP6_PREFIX}(?![\w:])", 0.1),
            ),
            ("ip", "ipv4", "ipv6"),
            invalidate=not_ip,
        ),
        "US_SSN": Rule(
            "US_SSN",
            (
                ("SSN1 (very weak)", r"\b([0-9]{5})-([0-9]{4})\b", 0.05),
                ("SSN2 (very weak)", r"\b([0-9]{3})-([0-9]{6})\b", 0.05),
                ("SSN3 (very weak)", r"\b(([0-9]{3})-([0-9]{2})-([0-9]{4}))\b", 0.05),
                ("SSN4 (very weak)", r"\b[0-9]{9}\b", 0.05),
                ("SSN5 (medium)", r"\b([0-9]{3})[- .]([0-9]{2})[- .]([0-9]{4})\b", 0.5),
            ),
            ("social", "security", "ssn", "ssns", "ssid"),
            invalidate=not_ssn,
        ),
        "URL": Rule(
            "URL",
            (
                ("Standard Url", "(?i)(?:https?://)" + _URL, 0.6),
                ("Non schema URL", "(?i)" + _URL, 0.5),
                ("Quoted URL", r'(?i)["\'](https?://' + _URL + r')["\']', 0.6),
                ("Quoted Non-schema URL", r'(?i)["\'](' + _URL + r')["\']', 0.5),
            ),
            ("url", "website", "link"),
        ),
        "MAC_ADDRESS": Rule(
            "MAC_ADDRESS",
            (
                (
                    "MAC_COLON_OR_HYPHEN",
                    r"\b[0-9A-Fa-f]{2}([:-])(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}\b",
                    0.6,
                ),
                ("MAC_CISCO_DOT", r"\b[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\b", 0.6),
            ),
            ("mac", "mac address", "hardware address", "physical address", "ethernet"),
            invalidate=not_mac,
        ),
        "CRYPTO": Rule(
            "CRYPTO",
            (("Crypto (Medium)", r"(bc1|[13])[a-zA-HJ-NP-Z0-9]{25,59}", 0.5),),
            ("wallet", "btc", "bitcoin", "crypto"),
            validate=crypto,
        ),
    }


# spaCy's English stop words: context words are counted among the other words.
STOP_WORDS = frozenset(
    """
'd 'll 'm 're 's 've a about above across after afterwards again against all almost alone
along already also although always am among amongst amount an and another any anyhow anyone
anything anyway anywhere are around as at back be became because become becomes becoming
been before beforehand behind being below beside besides between beyond both bottom but by
ca call can cannot could did do does doing done down due during each eight either eleven
else elsewhere empty enough even ever every everyone everything everywhere except few
fifteen fifty first five for former formerly forty four from front full further get give go
had has have he hence her here hereafter hereby herein hereupon hers herself him himself his
how however hundred i if in indeed into is it its itself just keep last latter latterly
least less made make many may me meanwhile might mine more moreover most mostly move much
must my myself n't name namely neither never nevertheless next nine no nobody none noone nor
not nothing now nowhere n‘t n’t of off often on once one only onto or other others otherwise
our ours ourselves out over own part per perhaps please put quite rather re really regarding
same say see seem seemed seeming seems serious several she should show side since six sixty
so some somehow someone something sometime sometimes somewhere still such take ten than that
the their them themselves then thence there thereafter thereby therefore therein thereupon
these they third this those though three through throughout thru thus to together too top
toward towards twelve twenty two under unless until up upon us used using various very via
was we well were what whatever when whence whenever where whereafter whereas whereby wherein
whereupon wherever whether which while whither who whoever whole whom whose why will with
within without would yet you your yours yourself yourselves ‘d ‘ll ‘m ‘re ‘s ‘ve ’d ’ll ’m
’re ’s ’ve
""".split()
)


def email_domain_check() -> Check:
    """Whether an address's domain ends in a public suffix, read from the list bundled in
    tldextract's wheel (never the network)."""
    extract = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    # The list is parsed on the first call (~40 ms): here, at build, not in a client's request.
    extract("warm-up@example.com")
    return lambda value: bool(extract(value).fqdn)


# What every match of a pattern contains (by pattern name): a text without it skips the pattern.
# A filter only, so the findings stay the same; it saves most of the scan on prose.
PATTERN_NEEDS = {
    "Email (Medium)": "@",
    "IBAN Generic": r"[A-Z]{2}[0-9]{2}",
    "IPv4_mapped": "::",
    "IPv4_embedded": ":",
    "IPv4": r"\.",
    "IPv6": ":",
    "IPv6_unspecified": "::",
    "Standard Url": "://",
    "Non schema URL": r"\.",
    "Quoted URL": "://",
    "Quoted Non-schema URL": r"\.",
    "MAC_COLON_OR_HYPHEN": "[:-]",
    "MAC_CISCO_DOT": r"\.",
    "Crypto (Medium)": r"[a-z0-9]{26}",
}
# Patterns whose every match holds a character (`@`) preceded, within the match, only by
# characters of a class: the search starts at the run of that class before each such character
# instead of at every position of the text. Same matches as a full scan, a fraction of the work.
PATTERN_ANCHORS = {"Email (Medium)": ("@", r"[!#$%&'*+\-/=?^_`{|}~.\w]*")}
# For an ASCII text, by pattern name: what the text holds where a match of the pattern starts
# (read with `regex`, no flags) and how many characters before that place the match starts; the
# pattern is tried there only, not at every position of the text. Exact for ASCII alone, where
# `\d` is [0-9], `\w` is [A-Za-z0-9_] and IGNORECASE adds only ASCII letters (beyond ASCII,
# `regex` and Python's Unicode tables disagree on some digits and letters): any other text is
# scanned whole. Digit runs are rare in prose, so `regex` skips to them quickly.
ASCII_STARTS = {
    "IBAN Generic": ("[0-9]{2}(?<=[A-Za-z]{2}[0-9]{2})", 2),
    "IPv4": (r"[0-9]{1,3}\.[0-9]", 0),
    "SSN1 (very weak)": ("[0-9]{5}-[0-9]{4}", 0),
    "SSN2 (very weak)": ("[0-9]{3}-[0-9]{6}", 0),
    "SSN3 (very weak)": ("[0-9]{3}-[0-9]{2}-[0-9]{4}", 0),
    "SSN4 (very weak)": ("[0-9]{9}", 0),
    "SSN5 (medium)": ("[0-9]{3}[- .][0-9]{2}[- .][0-9]{4}", 0),
    "All Credit Cards (weak)": ("[0-9]{4}[- ]?[0-9]{3}", 0),
    "Mastercard 2-series": ("[0-9]{4}[- ]?[0-9]{4}", 0),
}
