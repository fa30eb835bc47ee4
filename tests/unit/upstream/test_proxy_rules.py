"""`proxy_rules` decides as httpx does: for each environment below and each upstream, the proxy
(or none) it picks is the one httpx's own environment reading and URL patterns pick. Those are
private to httpx, so this test is where a change in httpx's rules shows up."""

from __future__ import annotations

import os
import urllib.request
from urllib.parse import urlsplit

import httpx
import pytest
from httpx._utils import URLPattern, get_environment_proxies

from gateway.upstream.proxy_rules import ProxyRules, environment_proxies

ENVIRONMENTS = [
    {"HTTPS_PROXY": "http://p:3128"},
    {"HTTP_PROXY": "p:8080"},  # no scheme: http://
    {"ALL_PROXY": "http://all:1", "HTTPS_PROXY": "http://secure:2"},
    {"https_proxy": "http://lower:1", "HTTPS_PROXY": "http://upper:2"},
    {"HTTPS_PROXY": "http://upper:2", "https_proxy": ""},  # an empty lowercase one unsets it
    {"HTTP_PROXY": "http://cgi:1", "REQUEST_METHOD": "GET"},  # CGI: not trusted
    {"http_proxy": "http://cgi:1", "REQUEST_METHOD": "GET"},
    {
        "ALL_PROXY": "http://all:1",
        "NO_PROXY": "example.com, .corp.example,10.0.0.1,::1,localhost,internal:8080,"
        "http://plain.example,Upper.Example",
    },
    {"HTTPS_PROXY": "http://p:1", "no_proxy": "10.0.0.0/8,*.wild.example, 10.0.0.2"},
    {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com,*"},
    {"HTTP_PROXY": "http://h:1", "HTTPS_PROXY": "http://s:2", "NO_PROXY": "https://example.com"},
    {"NO_PROXY": "example.com"},
    {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "example.com:443,secure.example:8443"},
]
UPSTREAMS = [
    "http://example.com",
    "https://example.com",
    "https://example.com:443",
    "https://example.com:8443",
    "https://www.example.com",
    "https://badexample.com",
    "https://corp.example",
    "https://api.corp.example",
    "http://10.0.0.1:8000",
    "http://10.0.0.2:8000",
    "https://[::1]:8443",
    "http://localhost:8000",
    "http://internal:8080",
    "http://internal:9090",
    "http://plain.example",
    "https://plain.example",
    "https://upper.example",
    "https://a.wild.example",
    "https://wild.example",
    "https://secure.example:8443",
    "https://API.OPENAI.COM",
]


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> dict[str, str]:
    for name in list(os.environ):
        if name.lower().endswith("_proxy") or name == "REQUEST_METHOD":
            monkeypatch.delenv(name)
    values: dict[str, str] = request.param
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def httpx_choice(url: str) -> str | None:
    """The proxy httpx's client would use for `url` with this environment (its `_mounts`)."""
    mounts = sorted((URLPattern(key), proxy) for key, proxy in get_environment_proxies().items())
    target = httpx.URL(url)
    return next((proxy for pattern, proxy in mounts if pattern.matches(target)), None)


def our_choice(url: str) -> str | None:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    assert parts.hostname is not None
    return ProxyRules(environment_proxies(os.environ)).proxy_for(parts.scheme, parts.hostname, port)


@pytest.mark.parametrize("environ", ENVIRONMENTS, indirect=True, ids=range(len(ENVIRONMENTS)))
def test_the_same_proxy_as_httpx_for_every_upstream(environ: dict[str, str]) -> None:
    assert environment_proxies(os.environ) == urllib.request.getproxies_environment()
    decided = {url: our_choice(url) for url in UPSTREAMS}
    assert decided == {url: httpx_choice(url) for url in UPSTREAMS}


@pytest.mark.parametrize("environ", [ENVIRONMENTS[7]], indirect=True)
def test_no_proxy_reads_as_documented(environ: dict[str, str]) -> None:
    direct = {url for url in UPSTREAMS if our_choice(url) is None}
    assert direct == {
        "http://example.com",
        "https://example.com",
        "https://example.com:443",
        "https://example.com:8443",
        "https://www.example.com",  # a domain's subdomains too
        "https://api.corp.example",  # .corp.example: subdomains only
        "http://10.0.0.1:8000",
        "https://[::1]:8443",
        "http://localhost:8000",
        "http://internal:8080",  # that port only
        "http://plain.example",  # that scheme only
        "https://upper.example",
    }


def test_rules_without_a_proxy_are_false() -> None:
    assert not ProxyRules({})
    assert not ProxyRules({"no": "example.com"})
    assert not ProxyRules({"https": "http://p:1", "no": "*"})
    assert ProxyRules({"all": "p:1"})


def test_a_bracketed_ipv6_entry_is_that_address() -> None:
    """httpx's own reading refuses `[::1]` in NO_PROXY (InvalidURL on every request); the
    gateway reads it as the address, for both clients."""
    rules = ProxyRules({"all": "http://p:1", "no": "[::1], ::2"})
    assert rules.proxy_for("https", "::1", 443) is None
    assert rules.proxy_for("http", "::2", 8000) is None
    assert rules.proxy_for("https", "::3", 443) == "http://p:1"


def test_the_rules_as_httpx_mounts_most_specific_first() -> None:
    rules = ProxyRules({"https": "p:1", "all": "http://a:2", "no": "::1,example.com,h:8080"})
    assert rules.patterns() == [
        ("all://*h:8080", None),
        ("all://*example.com", None),
        ("all://[::1]", None),
        ("https://", "http://p:1"),
        ("all://", "http://a:2"),
    ]
