"""What makes a URL or host in the config unusable, said without quoting a URL (it may carry
credentials); whether a URL holds a password, and a URL given the password a `*_env` setting
reads (the user kept)."""

from __future__ import annotations

from urllib.parse import SplitResult, quote, urlsplit, urlunsplit


def http_url_problem(url: str) -> str | None:
    """Why `url` is no http(s) URL a client can connect to, or None: the scheme, an unclosed
    IPv6 bracket, a port that is no number from 0 to 65535, no host."""
    if not url.startswith(("http://", "https://")):
        return "must start with http:// or https://"
    parts, problem = split(url)
    if problem is None and parts is not None and not parts.hostname:
        return "has no host"
    return problem


def split(url: str) -> tuple[SplitResult | None, str | None]:
    """`url`'s parts, or None and why they cannot be read (the port is read too)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # urllib says only "Invalid IPv6 URL"
        return None, "is not a valid URL (an unclosed '[')"
    try:
        parts.port  # noqa: B018 -- raises ValueError for a port that is no number or past 65535
    except ValueError:
        # Not urllib's message: it quotes the port text, a password when the `@` is missing.
        return None, "has a port that is no number from 0 to 65535"
    return parts, None


def host_problem(host: str) -> str | None:
    """Why the socket would refuse `host` as a name (TypeError, not a failed lookup), or None."""
    if "\x00" in host:
        return "must not hold a NUL character"
    try:
        host.encode("idna")
    except UnicodeError:
        return "is not a host name (a label is empty or longer than 63 characters)"
    return None


def url_with_password(url: str, password: str) -> str:
    """`url` with `password` as its password (percent-encoded), its user kept: how a password
    from the environment (`[state] redis_password_env`, a provider's `proxy_password_env`)
    reaches clients that read credentials from the URL."""
    parts = urlsplit(url)
    userinfo, _, host = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def url_has_password(url: str) -> bool:
    """Whether `url` holds a password (`user:password@`, `:password@`)."""
    try:
        return urlsplit(url).password is not None
    except ValueError:  # reported as the URL's own problem
        return False
