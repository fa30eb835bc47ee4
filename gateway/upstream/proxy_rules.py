"""Which proxy the environment names for an upstream, by the rules httpx applies. Both network
clients take it from here: `http1` asks `proxy_for` per upstream, httpx gets the same rules as
its mounts (`patterns`), so they send a provider's traffic the same way by construction
(tests/unit/upstream/test_proxy_rules.py checks the rules against httpx's own reading of the
environment, which the gateway no longer lets httpx do: httpx 0.29 refuses a bracketed IPv6
entry such as `[::1]` in NO_PROXY with InvalidURL on every request; here it is the address).

The variables are read as `urllib.request.getproxies_environment` reads them on Linux: any case,
the lowercase one winning, empty meaning unset, and `HTTP_PROXY` ignored under CGI
(`REQUEST_METHOD` set). `HTTP_PROXY` applies to `http` upstreams, `HTTPS_PROXY` to `https`
ones, `ALL_PROXY` to both; a value without a scheme is an `http://` proxy. `NO_PROXY` is a
comma-separated list: `*` turns every proxy off; an IPv4 or IPv6 address (`[::1]` too) or
`localhost` is that host only; `example.com` is that domain and its subdomains, `.example.com`
its subdomains only;
`host:port` limits an entry to that port (a scheme's default port never matches one); an entry
with `://` (`http://internal`) is that scheme and host. The most specific entry wins: one with a
port before one without, a longer host before a shorter, a scheme before none.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass

PROXY_SCHEMES = ("http", "https", "all")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def environment_proxies(environ: Mapping[str, str]) -> dict[str, str]:
    """{"http" | "https" | "all" | "no" | ...: value} from `<scheme>_proxy` variables."""
    found: dict[str, str] = {}
    for name, value in environ.items():
        lowered = name.lower()
        if value and lowered.endswith("_proxy"):
            found[lowered[:-6]] = value
    if "REQUEST_METHOD" in environ:  # CGI: HTTP_PROXY may come from a request's Proxy header
        found.pop("http", None)
    for name, value in environ.items():  # the lowercase spelling wins
        if name.endswith("_proxy"):
            if value:
                found[name[:-6].lower()] = value
            else:
                found.pop(name[:-6].lower(), None)
    return found


def proxy_urls(proxies: Mapping[str, str]) -> list[str]:
    """The proxy URLs set for http, https and all (a bare `host:port` made `http://`)."""
    return [_with_scheme(proxies[s]) for s in PROXY_SCHEMES if proxies.get(s)]


def _with_scheme(value: str) -> str:
    return value if "://" in value else f"http://{value}"


def _is_ip(host: str, version: type[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> bool:
    try:
        version(host.split("/")[0])
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class _Rule:
    scheme: str  # "" for any
    host: str  # "" for any
    port: int | None
    proxy: str | None  # None: connect directly

    @property
    def priority(self) -> tuple[int, int, int]:
        return (0 if self.port is not None else 1, -len(self.host), -len(self.scheme))

    def host_pattern(self) -> re.Pattern[str] | None:
        if not self.host:
            return None
        if self.host.startswith("*."):
            return re.compile(rf"^.+\.{re.escape(self.host[2:])}$")
        if self.host.startswith("*"):
            return re.compile(rf"^(.+\.)?{re.escape(self.host[1:])}$")
        return re.compile(rf"^{re.escape(self.host)}$")


def _rule(pattern: str, proxy: str | None) -> _Rule:
    """A rule from a pattern such as `https://`, `all://*example.com:8080`."""
    scheme, _, rest = pattern.partition("://")
    authority = rest.split("/", 1)[0]
    host, port = authority, None
    if authority.startswith("["):  # [::1] or [::1]:8080
        host, _, tail = authority[1:].partition("]")
        port = int(tail[1:]) if tail.startswith(":") and tail[1:].isdigit() else None
    elif authority.count(":") == 1:
        name, _, digits = authority.partition(":")
        if digits.isdigit():
            host, port = name, int(digits)
    scheme = scheme.lower()
    if port is not None and _DEFAULT_PORTS.get(scheme) == port:
        port = None  # as a URL reads it: the scheme's own port is no port
    return _Rule(
        "" if scheme == "all" else scheme, "" if host == "*" else host.lower(), port, proxy
    )


class ProxyRules:
    """The environment's proxies as rules; `proxy_for` answers per upstream."""

    def __init__(self, proxies: Mapping[str, str]) -> None:
        rules = [
            _rule(f"{s}://", _with_scheme(proxies[s])) for s in PROXY_SCHEMES if proxies.get(s)
        ]
        for entry in (e.strip() for e in proxies.get("no", "").split(",")):
            if entry == "*":
                rules = []
                break
            if not entry:
                continue
            if "://" in entry:
                rules.append(_rule(entry, None))
            elif _is_ip(entry, ipaddress.IPv4Address) or entry.lower() == "localhost":
                rules.append(_rule(f"all://{entry}", None))
            elif _is_ip(entry.removeprefix("[").removesuffix("]"), ipaddress.IPv6Address):
                rules.append(_rule(f"all://[{entry.removeprefix('[').removesuffix(']')}]", None))
            else:
                rules.append(_rule(f"all://*{entry}", None))
        rules.sort(key=lambda r: r.priority)  # stable: equal priorities keep their order
        self._rules = [(rule, rule.host_pattern()) for rule in rules]

    def patterns(self) -> list[tuple[str, str | None]]:
        """The rules as httpx mount patterns (`all://*example.com:8080`, `https://`), most
        specific first, each with its proxy URL (None: directly)."""
        out = []
        for rule, _ in self._rules:
            host = f"[{rule.host}]" if ":" in rule.host else rule.host
            port = f":{rule.port}" if rule.port is not None else ""
            out.append((f"{rule.scheme or 'all'}://{host}{port}", rule.proxy))
        return out

    def __bool__(self) -> bool:
        """Whether any upstream goes through a proxy."""
        return any(rule.proxy is not None for rule, _ in self._rules)

    def proxy_for(self, scheme: str, host: str, port: int) -> str | None:
        """The proxy URL for an upstream, or None to connect directly."""
        target_port = None if _DEFAULT_PORTS.get(scheme) == port else port
        host = host.lower()
        for rule, pattern in self._rules:
            if rule.scheme and rule.scheme != scheme:
                continue
            if pattern is not None and not pattern.match(host):
                continue
            if rule.port is not None and rule.port != target_port:
                continue
            return rule.proxy
        return None
