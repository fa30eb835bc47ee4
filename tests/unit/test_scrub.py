"""`Secrets`: configured keys and credential-shaped values out of untrusted text."""

from __future__ import annotations

import base64
import json
import string
import urllib.parse
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import load_config
from gateway.runtime import build_runtime
from gateway.scrub import Secrets
from tests.leaks import recoverable

KEY = "prov-7f3a9c1e5b2d4a6f8e0c"


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (f"Incorrect API key provided: {KEY}.", "Incorrect API key provided: ****."),
        (f"Bearer {KEY}", "Bearer ****"),
        ("authorization: Bearer abc123", "authorization: ****"),
        ('{"x-api-key": "abc123xyz"}', '{"x-api-key": "****"}'),
        ("api_key=zzz", "api_key=****"),
        ("use sk-proj-abcdefgh1234 instead", "use sk-**** instead"),
        ("Basic dXNlcjpwYXNzd29yZDE=", "Basic ****"),
        ("authorization: bearer-abc123", "authorization: ****"),  # a value, not a scheme word
        # Letters `re` matches without case that `str.lower` leaves (the quick test folds them).
        ("ſk-abcdefgh1234", "ſk-****"),
        ("authorİzation: abc123", "authorİzation: ****"),
        ("x-api-\u212aey: abc", "x-api-\u212aey: ****"),
        (KEY.upper(), "****"),
        # An Entra ID token, alone (a new one every hour: no config names it).
        (
            "token eyJhbGciOiJSUzI1NiJ9.eyJuIjogMSwgImF1ZCI6.c2ln was refused",
            "token **** was refused",
        ),
    ],
)
def test_secrets_and_credential_shapes_are_scrubbed(text: str, scrubbed: str) -> None:
    assert Secrets([KEY]).scrub(text) == scrubbed


@pytest.mark.parametrize(
    "prose",
    [
        "Basic information on the bearer of news",
        "short sk-abc key",
        "no key here",
        "",
        "missing API key: send 'Authorization: Bearer <key>' or 'x-api-key: <key>'",
        "Authorization: Bearer",
        '{"authorization": "Basic"}',
    ],
)
def test_prose_is_left_alone(prose: str) -> None:
    assert Secrets([KEY]).scrub(prose) == prose


def test_short_values_are_not_secrets() -> None:
    # A one-letter "key" would scrub every such letter of every message.
    assert Secrets(["abc"]).scrub("abc abc") == "abc abc"


def test_a_secret_inside_serialised_json_is_scrubbed_and_the_json_stays_valid() -> None:
    key = 'we"ird\\key-123456'
    body = orjson.dumps({"error": {"message": f"bad key {key}", "param": key}})
    scrubbed = Secrets([key]).scrub_bytes(body)
    assert orjson.loads(scrubbed) == {"error": {"message": "bad key ****", "param": "****"}}


def test_bytes_without_a_secret_are_returned_as_they_are() -> None:
    body = b'{"error":{"message":"rate limited"}}'
    assert Secrets([KEY]).scrub_bytes(body) is body
    assert Secrets([KEY]).scrub_bytes(b"\xff\xfe") == b"\xff\xfe"


def test_the_runtime_scrubs_the_keys_of_its_config(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text(
        """
[admin]
key_env = "ADMIN"

[[providers]]
name = "p"
type = "openai"
base_url = "http://127.0.0.1:9"
api_key_env = "P_KEY"
"""
    )
    env = {"P_KEY": KEY, "ADMIN": "admin-key-0123456789"}
    runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=env), env=env)
    assert runtime.secrets.scrub(f"{KEY} admin-key-0123456789") == "**** ****"
    # A reload builds a new runtime: a rotated key is scrubbed from then on.
    rotated = {**env, "P_KEY": "prov-rotated-1234567890"}
    runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=rotated), env=rotated)
    assert runtime.secrets.scrub("prov-rotated-1234567890") == "****"


def test_credentials_in_provider_headers_query_and_proxy_are_secrets(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text(
        """
[[providers]]
name = "p"
type = "openai"
base_url = "http://127.0.0.1:9/v1"
proxy = "http://user:proxy-pass-0123456@127.0.0.1:3128"
[providers.headers]
x-portkey-api-key = "hdr-secret-0123456"
x-team = "team-platform-a"
X-Author-Team = "author-team-b"
[providers.query]
sig = "query-secret-0123456"
"""
    )
    runtime = build_runtime(load_config(tmp_path / "gateway.toml", env={}), env={})
    text = "hdr-secret-0123456 query-secret-0123456 proxy-pass-0123456 team-platform-a"
    assert runtime.secrets.scrub(text) == "**** **** **** team-platform-a"
    # `auth` inside a word names no credential: the value stays in answers.
    assert runtime.secrets.scrub("by author-team-b") == "by author-team-b"


def test_an_entra_client_secret_is_a_secret(tmp_path: Path) -> None:
    (tmp_path / "gateway.toml").write_text(
        """
[[providers]]
name = "az"
type = "azure"
base_url = "https://r.openai.azure.com"
api_version = "2024-10-21"
auth = "entra_client_secret"
tenant_id = "contoso"
client_id = "app-1"
client_secret_env = "AZ_SECRET"
"""
    )
    env = {"AZ_SECRET": "Q~entra.secret_0123456789"}
    runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=env), env=env)
    assert runtime.secrets.scrub("sent Q~entra.secret_0123456789 to") == "sent **** to"


@given(
    st.lists(
        st.sampled_from(
            [KEY, KEY.upper(), "bearer ", "BASIC ", "sk-", "ſk-", "api-key", "API_KEY", "=", ": "]
            + ["authorİzation", "authorization", "aKc", "abc123def4", " ", '"', "x", "\u212a"]
            + ["eyJ", "EYj", "abcdefgh1", "."]
        ),
        max_size=12,
    ).map("".join)
)
def test_the_quick_test_never_skips_a_text_the_pattern_changes(text: str) -> None:
    """`scrub` runs the pattern only on texts holding a marker word or a known secret."""
    secrets = Secrets([KEY])
    assert secrets.scrub(text) == secrets.scrub_always(text)


# A key with the characters encoders change (`+`, `/`, `=`).
ODD_KEY = "enc+Key/9d8c7b6a5f4e3d2c+1b0a/x="


def _b64(text: str, alphabet: bytes | None = None) -> str:
    return base64.b64encode(text.encode(), altchars=alphabet).decode()


@pytest.mark.parametrize(
    "echoed",
    [
        _b64(ODD_KEY),  # the key alone
        _b64(f":{ODD_KEY}"),  # a `:key` Basic credential: the key 1 byte in
        _b64(f"user:{ODD_KEY}"),  # `user:key`: 2 bytes in (5 mod 3)
        _b64(f"authorization: Bearer {ODD_KEY}\r\n"),  # a dumped header line
        _b64(f"ab:{ODD_KEY}", b"-_"),  # base64url
        urllib.parse.quote(ODD_KEY, safe=""),  # %2B %2F %3D
        urllib.parse.quote(ODD_KEY, safe="").lower(),  # %2b
        urllib.parse.quote(urllib.parse.quote(ODD_KEY, safe=""), safe=""),  # %252B
        json.dumps(ODD_KEY).replace("/", "\\/"),  # PHP's json_encode
        json.dumps(ODD_KEY).replace("+", "\\u002b").replace("=", "\\u003d"),  # \u escapes
        json.dumps(json.dumps({"k": ODD_KEY.replace("/", "\\/")})),  # escaped JSON in JSON
        json.dumps(_b64(f"user:{ODD_KEY}")).replace("/", "\\/"),  # base64 in escaped JSON
    ],
)
def test_a_secret_echoed_encoded_is_scrubbed(echoed: str) -> None:
    text = f"upstream saw {echoed} and refused"
    scrubbed = Secrets([ODD_KEY]).scrub(text)
    assert "****" in scrubbed
    assert not recoverable(scrubbed, ODD_KEY), scrubbed


def test_the_check_finds_each_encoding_unscrubbed() -> None:
    """The check above would see each form: it is not vacuous."""
    for echoed in (_b64(f"user:{ODD_KEY}"), urllib.parse.quote(ODD_KEY, safe="")):
        assert recoverable(echoed, ODD_KEY)
    assert recoverable(json.dumps(ODD_KEY).replace("+", "\\u002b"), ODD_KEY)


def test_a_scrubbed_json_text_stays_valid_json() -> None:
    body = json.dumps({"error": {"message": json.dumps({"auth": f"Bearer {ODD_KEY}"})}})
    body = body.replace("/", "\\/")
    scrubbed = Secrets([ODD_KEY]).scrub(body)
    assert not recoverable(scrubbed, ODD_KEY), scrubbed
    json.loads(json.loads(scrubbed)["error"]["message"])


def test_text_without_a_form_of_the_key_is_left_alone() -> None:
    text = "dXNlcjpwYXNz%2F\\u002b\\/ nothing of the key here"
    assert Secrets([ODD_KEY]).scrub(text) == text


_ALNUM = string.ascii_letters + string.digits


@given(
    prefix=st.text(alphabet="ab:", max_size=5),
    key=st.tuples(
        st.sampled_from(_ALNUM),
        st.text(alphabet=_ALNUM + "+/=-_", min_size=6, max_size=40),
        st.sampled_from(_ALNUM),
    ).map("".join),
    encoding=st.sampled_from(["base64", "base64url", "url", "json"]),
)
def test_any_key_echoed_encoded_at_any_offset_is_scrubbed(
    prefix: str, key: str, encoding: str
) -> None:
    if encoding == "base64":
        echoed = _b64(prefix + key)
    elif encoding == "base64url":
        echoed = _b64(prefix + key, b"-_")
    elif encoding == "url":
        echoed = urllib.parse.quote(prefix + key, safe="")
    else:
        echoed = json.dumps(prefix + key).replace("/", "\\/").replace("+", "\\u002b")
    assert recoverable(echoed, key, window=6)
    scrubbed = Secrets([key]).scrub(f"<{echoed}>")
    assert not recoverable(scrubbed, key, window=6), scrubbed


@given(
    st.lists(
        st.sampled_from(
            ["enc", "+", "%2B", "\\u002b", "\\\\u002B", "Key", "/", "%2f", "%252F", "\\/", "x"]
            + ["9d8c7b6a5f4e3d2c", "1b0a", "=", "%3D", " ", "bearer ", "\\", '"']
            + [_b64(f"{p}{ODD_KEY}")[i:j] for p in ("", ":", "u:") for i, j in ((0, 9), (9, 40))]
        ),
        max_size=14,
    ).map("".join)
)
def test_the_quick_test_never_skips_an_encoded_form(text: str) -> None:
    secrets = Secrets([ODD_KEY])
    assert secrets.scrub(text) == secrets.scrub_always(text)


def test_a_long_text_is_scrubbed_a_window_at_a_time_with_the_same_result() -> None:
    key = "prov/key+9Qx7Lm2Zt4Wv"
    secrets = Secrets([key])
    pieces = [key, f"Bearer {key}", "authorization: Bearer abc123", "sk-abcdefgh1234", "basic"]
    # Each piece placed across each window's end, and at its start.
    for piece in pieces:
        for shift in range(-len(piece), 2):
            filler = "x " * ((16 * 1024 + shift) // 2)
            text = (filler + piece + " ") * 4 + "tail"
            assert secrets.scrub_long(text) == secrets.scrub_always(text), (piece, shift)
    clean = "plain words " * 5000
    assert secrets.scrub_long(clean) is clean


@given(
    before=st.integers(min_value=0, max_value=3000),
    after=st.integers(min_value=0, max_value=300),
    form=st.sampled_from(["key", "base64", "user:key base64", "base64url", "none"]),
)
def test_an_answer_of_any_length_loses_each_form_of_a_key(
    before: int, after: int, form: str
) -> None:
    """`scrub_known_bytes` finds a form anywhere in a short piece (one pattern search) and a long
    one (a substring search per run, `_IN_FROM_BYTES_PER_RUN`); a piece without one is returned
    itself."""
    secrets = Secrets([ODD_KEY, KEY])
    echoed = {
        "key": ODD_KEY,
        "base64": _b64(ODD_KEY),
        "user:key base64": _b64(f"user:{ODD_KEY}"),
        "base64url": _b64(f"ab:{ODD_KEY}", b"-_"),
        "none": "",
    }[form]
    filler = '{"choices":[{"delta":{"content":" x"}}]} ' * 80
    data = (filler[:before] + echoed + filler[:after]).encode()
    scrubbed = secrets.scrub_known_bytes(data)
    if form == "none":
        assert scrubbed is data
    else:
        assert not recoverable(scrubbed.decode(), ODD_KEY), (before, after)
