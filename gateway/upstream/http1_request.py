"""How `http1` writes a request: where it goes (`origin_of`) and its bytes on the wire, head and
body in one buffer (`request_bytes`), made ahead by `Http1Upstream.prepare` (`EncodedRequest`)."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway.upstream.base import UpstreamError, UpstreamRequest
from gateway.upstream.http1_connection import Origin
from gateway.upstream.http1_proxy import HttpProxy


@functools.lru_cache(maxsize=256)
def origin_of(url: str) -> tuple[Origin, str]:
    """(scheme, host, port) and the request target of an upstream URL (a few distinct URLs per
    config: cached)."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise UpstreamError("connect", f"unsupported upstream URL scheme '{scheme}'")
    port = parts.port or (443 if scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return (scheme, parts.hostname, port), target


@dataclass(frozen=True, slots=True)
class EncodedRequest:
    """`Http1Upstream.prepare`'s work: the request, where it goes and its bytes on the wire."""

    request: UpstreamRequest
    origin: Origin = field(repr=False)
    payload: bytes = field(repr=False)  # holds the headers, and so the provider key


def request_bytes(
    method: str,
    origin: Origin,
    target: str,
    headers: Mapping[str, str],
    body: bytes,
    forward: HttpProxy | None = None,
) -> bytes:
    """The request head and body, ready for one write. Refuses header injection. `forward`:
    the proxy that forwards it (an http upstream through a proxy): the target in absolute form,
    with the proxy's credentials."""
    scheme, host, port = origin
    default_port = 443 if scheme == "https" else 80
    host_header = host if port == default_port else f"{host}:{port}"
    if ":" in host and not host.startswith("["):
        host_header = f"[{host}]" if port == default_port else f"[{host}]:{port}"
    if forward is None:
        lines = [f"{method} {target} HTTP/1.1", f"host: {host_header}"]
    else:
        lines = [f"{method} {scheme}://{host_header}{target} HTTP/1.1", f"host: {host_header}"]
        if forward.authorization is not None:
            lines.append(f"proxy-authorization: {forward.authorization}")
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in ("host", "content-length", "transfer-encoding", "connection"):
            continue
        if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
            raise UpstreamError("protocol", f"refusing a header with a line break: {name}")
        lines.append(f"{name}: {value}")
    if body or method not in ("GET", "HEAD"):
        lines.append(f"content-length: {len(body)}")
    try:
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    except UnicodeEncodeError:
        raise UpstreamError(
            "protocol", "refusing a request header that is not latin-1 text"
        ) from None
    return head + body
