"""`http1` through an `http://` proxy: a `CONNECT` tunnel for `https` upstreams (TLS with the
upstream inside it, end to end), the absolute form for `http` ones (the proxy forwards them), as
httpx does. Credentials in the proxy URL (`http://user:pass@proxy:3128`, percent-encoded) go as
`Proxy-Authorization: Basic`; the URL itself never appears in an error (it may carry them).

An `https://` proxy (TLS to the proxy, then TLS inside that) is not done here: `transports.py`
gives such providers to httpx.
"""

from __future__ import annotations

import asyncio
import base64
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from gateway.upstream.base import UpstreamError
from gateway.upstream.http1_connection import Http1Connection
from gateway.upstream.tls import tls_failure

# A proxy's answer to CONNECT: its head only (a status line and a few headers), never a body.
MAX_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class HttpProxy:
    host: str
    port: int
    # The `Proxy-Authorization` value, from the URL's user and password; None without them.
    authorization: str | None = field(default=None, repr=False)

    @property
    def authority(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def http_proxy(url: str) -> HttpProxy:
    """The proxy an `http://` URL names (port 80 when none). ValueError for anything else."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "http" or not parts.hostname:
        raise ValueError("http1 reaches only an http:// proxy")
    authorization = None
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
        authorization = f"Basic {token}"
    return HttpProxy(parts.hostname, parts.port or 80, authorization)


def connect_request(proxy: HttpProxy, host: str, port: int) -> bytes:
    """The CONNECT request that opens a tunnel to host:port."""
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [f"CONNECT {authority} HTTP/1.1", f"host: {authority}"]
    if proxy.authorization is not None:
        lines.append(f"proxy-authorization: {proxy.authorization}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _TunnelHandshake(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT: its head, up to the blank line."""

    def __init__(self, answered: asyncio.Future[bytes]) -> None:
        self._answered = answered
        self._head = bytearray()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self._answered.done():
            return
        self._head += data
        end = self._head.find(b"\r\n\r\n")
        if end >= 0:
            if end + 4 < len(self._head):  # the upstream cannot speak before our TLS hello
                self._answered.set_exception(_refused("it sent data after its answer"))
            else:
                self._answered.set_result(bytes(self._head[:end]))
        elif len(self._head) > MAX_ANSWER_BYTES:
            self._answered.set_exception(_refused("its answer to CONNECT has no end"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._answered.done():
            self._answered.set_exception(_refused("it closed the connection"))


def _refused(why: str) -> UpstreamError:
    return UpstreamError("connect", f"the proxy refused the connection: {why}")


def _status_of(head: bytes) -> tuple[int, str]:
    """The status code and line of an HTTP answer head; (0, line) when there is none."""
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
        return 0, line
    return int(parts[1]), line


async def open_tunnel(
    proxy: HttpProxy,
    host: str,
    port: int,
    tls: ssl.SSLContext,
    make: Callable[[], Http1Connection],
) -> Http1Connection:
    """A connection to the https upstream host:port through `proxy`'s CONNECT tunnel, its TLS
    handshake done. The caller bounds the time (its connect timeout) and maps OSError."""
    loop = asyncio.get_running_loop()
    answered: asyncio.Future[bytes] = loop.create_future()
    transport, _ = await loop.create_connection(
        lambda: _TunnelHandshake(answered), proxy.host, proxy.port
    )
    try:
        transport.write(connect_request(proxy, host, port))
        status, line = _status_of(await answered)
        if not 200 <= status < 300:
            raise _refused(line[:200] if status else "its answer is not HTTP")
        connection = make()
        try:
            tunnelled = await loop.start_tls(transport, connection, tls, server_hostname=host)
        except (OSError, ssl.SSLError) as exc:
            raise tls_failure(exc, host) or UpstreamError(
                "connect", f"cannot connect to upstream through the proxy: {exc}"
            ) from None
        if tunnelled is None:  # the loop closed the transport: nothing to speak TLS on
            raise _refused("the tunnel closed during the TLS handshake")
        connection.connection_made(tunnelled)
        return connection
    except BaseException:
        transport.close()
        raise
