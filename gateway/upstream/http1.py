"""The hot-path upstream client: HTTP/1.1 over asyncio protocols, pooled keep-alive connections.

Chosen by measurement (docs/performance-history.md, "upstream client"): per chat request aiohttp's
client spends ~220 us of CPU here (request objects, writers, several `asyncio.timeout`s); this
client writes the request in one `transport.write`, parses the answer with `httptools` (the C
parser uvicorn already uses) and keeps each connection's state in one small object, for a
fraction of that. It does only what a gateway needs: `POST`/`GET` with a byte body, status,
headers, the body as it arrives (chunked, Content-Length or close-delimited; gzip, deflate, br
and zstd decoded), TLS (system CAs plus `ca_file`, client certificates), per-phase timeouts and
the `max_response_bytes` cap, and `http://` proxies (`http1_proxy.py`: CONNECT for https
upstreams, the absolute form for http ones), set as `proxy` or, with `trust_env`, named by the
environment (`proxy_rules.py`: httpx's rules, NO_PROXY included; read once, when the client is
made, as httpx does). No `https://` proxy, HTTP/2 or cookies: `transports.py` gives providers
that need them to httpx. A redirect is an error (`UpstreamRedirect`), never followed.

`prepare` encodes the request ahead (`EncodedRequest`), so a caller with time to spare (waiting
for its limits to be checked) can take that work off the moment of sending.

Connections are kept per (scheme, host, port), reused newest first, and dropped after
`keepalive_s` idle (below the 5 s idle timeout of uvicorn-based upstreams, so the pool lets a
connection go before the upstream closes it under us). A request on a reused connection that the
upstream closed before answering a single byte is retried once on a fresh connection: it never
reached the upstream's application.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Mapping

from gateway.config.provider_types import NetworkConfig
from gateway.tls_once import ContextOnce
from gateway.upstream.base import (
    REDIRECT_STATUSES,
    PlainPrepared,
    PreparedRequest,
    UpstreamError,
    UpstreamRequest,
    UpstreamTimeouts,
    UpstreamTooLarge,
    redirect_error,
    request_of,
)
from gateway.upstream.body import CappedBody
from gateway.upstream.http1_connection import Http1Connection, Origin
from gateway.upstream.http1_proxy import HttpProxy, http_proxy, open_tunnel
from gateway.upstream.http1_request import EncodedRequest, origin_of, request_bytes
from gateway.upstream.proxy_rules import ProxyRules, environment_proxies
from gateway.upstream.tls import ssl_context, tls_failure


class _Dropped(Exception):
    """The connection closed before any byte of the response: safe to retry once."""


class Http1Response:
    def __init__(
        self,
        connection: Http1Connection,
        timeouts: UpstreamTimeouts,
        deadline: float,
        release: Callable[[Http1Connection], None],
        body: CappedBody,
    ) -> None:
        self._connection = connection
        self._timeouts = timeouts
        self._first_byte_deadline = deadline
        self._release = release
        self._released = False
        self._body_read = False
        self.status = connection.status
        self.headers: Mapping[str, str] = connection.headers
        self._body = body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        if self._released:
            return  # read to its end, or closed: the connection may serve another request now
        connection, body = self._connection, self._body
        loop = asyncio.get_running_loop()
        deadline = self._first_byte_deadline
        kind, span = "first_token_timeout", self._timeouts.first_byte_s
        while True:
            if connection.has_body:
                chunk = connection.take_body()
                if body.decoder is None and len(chunk) <= body.room:  # nearly always
                    body.room -= len(chunk)
                    yield chunk
                else:
                    for piece in self._finished_on_error(body.feed(chunk)):
                        yield piece
                kind, span = "idle_timeout", self._timeouts.idle_s
                deadline = loop.time() + span
                continue
            if connection.error is not None:
                self._finish()  # the connection cannot be reused: closed now, not at `aclose`
                raise UpstreamError("protocol", connection.error)
            if connection.complete:
                if body.decoder is not None:
                    for piece in self._finished_on_error(body.feed(b"", end=True)):
                        yield piece
                self._body_read = True
                self._finish()
                return
            if not await connection.wait(deadline):
                self._finish()
                raise UpstreamError(kind, f"no data from upstream for {span:.1f}s")

    def _finished_on_error(self, pieces: Iterator[bytes]) -> Iterator[bytes]:
        try:
            yield from pieces
        except UpstreamError:
            self._finish()  # too large or malformed: the rest is not read, the connection closes
            raise

    @property
    def body_complete(self) -> bool:
        if self._released:
            return self._body_read  # the connection may carry another answer now: not ours
        return self._connection.complete

    async def read(self) -> bytes:
        connection = self._connection
        if (
            not self._released
            and connection.complete
            and self._body.decoder is None
            and connection.error is None
        ):
            # Everything is in already (the usual case for a JSON answer): no iterator needed.
            data = connection.take_body()
            if len(data) > self._body.room:
                self._finish()
                raise UpstreamTooLarge(self._body.max_bytes)
            self._body_read = True
            self._finish()
            return data
        parts = [chunk async for chunk in self.iter_chunks()]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _finish(self) -> None:
        if not self._released:
            self._released = True
            self._release(self._connection)

    async def aclose(self) -> None:
        if not self._released:
            if not self._connection.complete:
                # Unread body: close the connection so the upstream stops generating.
                self._connection.close()
            self._finish()


_UNKNOWN = HttpProxy("", 0)  # `Http1Upstream._proxies`: not decided yet for this origin


class Http1Upstream:
    def __init__(
        self, network: NetworkConfig = NetworkConfig(), *, keepalive_s: float = 4.0
    ) -> None:
        self._network = network
        self._keepalive_s = keepalive_s
        self._max_bytes = network.max_response_bytes
        # The `proxy` setting (ValueError for an https:// one: `auto` gives such a provider to
        # httpx), else, with `trust_env`, the environment's proxies, decided once per origin.
        self._proxy = http_proxy(network.proxy) if network.proxy is not None else None
        self._proxy_rules: ProxyRules | None = None
        if network.proxy is None and network.trust_env:
            rules = ProxyRules(environment_proxies(os.environ))
            self._proxy_rules = rules if rules else None
        self._proxies: dict[Origin, HttpProxy | None] = {}
        # Built at the first HTTPS connection, off the event loop.
        self._tls = ContextOnce(functools.partial(ssl_context, network))
        self._idle: dict[Origin, deque[Http1Connection]] = {}
        self._all: set[Http1Connection] = set()

    def _proxy_for(self, origin: Origin) -> HttpProxy | None:
        rules = self._proxy_rules
        if rules is None:
            return self._proxy
        known = self._proxies.get(origin, _UNKNOWN)
        if known is not _UNKNOWN:
            return known
        url = rules.proxy_for(*origin)
        try:
            proxy = http_proxy(url) if url is not None else None
        except ValueError:  # only with transport = "http1" forced: `auto` takes httpx for it
            raise UpstreamError(
                "connect", "the http1 transport reaches only http:// proxies"
            ) from None
        self._proxies[origin] = proxy
        return proxy

    def _encode(self, request: UpstreamRequest) -> EncodedRequest:
        origin, target = origin_of(request.url)
        proxy = self._proxy if self._proxy_rules is None else self._proxy_for(origin)
        forward = proxy if proxy is not None and origin[0] == "http" else None  # https: tunnel
        payload = request_bytes(
            request.method, origin, target, request.headers, request.body, forward
        )
        return EncodedRequest(request, origin, payload)

    def _pooled(self, origin: Origin) -> Http1Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # newest first: the least likely to have timed out
            if not connection.closed and now - connection.idle_since < self._keepalive_s:
                return connection
            connection.close()
            self._all.discard(connection)
        return None

    def _release(self, connection: Http1Connection) -> None:
        if connection.reusable():
            connection.idle_since = time.monotonic()
            self._idle.setdefault(connection.origin, deque()).append(connection)
        else:
            connection.close()
            self._all.discard(connection)

    async def _connect(self, origin: Origin, timeout_s: float) -> Http1Connection:
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        proxy = self._proxy_for(origin)
        try:
            async with asyncio.timeout(timeout_s):
                if proxy is not None and scheme == "https":
                    connection = await open_tunnel(
                        proxy, host, port, await self._tls.get(), lambda: Http1Connection(origin)
                    )
                elif proxy is not None:  # forwarded: the requests name the upstream
                    _, connection = await loop.create_connection(
                        lambda: Http1Connection(origin), proxy.host, proxy.port
                    )
                else:
                    _, connection = await loop.create_connection(
                        lambda: Http1Connection(origin),
                        host,
                        port,
                        ssl=await self._tls.get() if scheme == "https" else None,
                        server_hostname=host if scheme == "https" else None,
                    )
        except TimeoutError:
            raise UpstreamError("connect", "timed out connecting to upstream") from None
        except (OSError, ssl.SSLError) as exc:
            where = "the proxy" if proxy is not None else "upstream"
            raise tls_failure(exc, host) or UpstreamError(
                "connect", f"cannot connect to {where}: {exc}"
            ) from None
        self._all.add(connection)
        return connection

    def prepare(self, request: UpstreamRequest) -> PreparedRequest:
        """The request with its HTTP/1.1 bytes made. One this client cannot encode comes back
        as it is; `send` then raises the error."""
        try:
            return self._encode(request)
        except UpstreamError:
            return PlainPrepared(request)

    async def send(
        self, request: UpstreamRequest | PreparedRequest, timeouts: UpstreamTimeouts
    ) -> Http1Response:
        """Send the request (its bytes made ahead when prepared here) on a pooled connection or
        a new one; return once status and headers are in. Raises UpstreamError."""
        encoded = (
            request if isinstance(request, EncodedRequest) else self._encode(request_of(request))
        )
        origin, payload = encoded.origin, encoded.payload
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.first_byte_s
        connection = self._pooled(origin)
        if connection is not None:
            try:
                return await self._exchange(connection, payload, timeouts, deadline)
            except _Dropped:
                pass  # the upstream closed the idle connection as we reused it: once more, fresh
        remaining = deadline - loop.time()
        connection = await self._connect(origin, min(timeouts.connect_s, max(0.001, remaining)))
        try:
            return await self._exchange(connection, payload, timeouts, deadline)
        except _Dropped:
            raise UpstreamError(
                "protocol", "upstream closed the connection without answering"
            ) from None

    async def _exchange(
        self,
        connection: Http1Connection,
        payload: bytes,
        timeouts: UpstreamTimeouts,
        deadline: float,
    ) -> Http1Response:
        connection.start(payload)
        try:
            while not connection.headers_done:
                if connection.error is not None:
                    raise UpstreamError("protocol", connection.error)
                if connection.closed:
                    if not connection.received_any:
                        self._all.discard(connection)
                        raise _Dropped()
                    raise UpstreamError("protocol", "upstream closed the connection mid-response")
                if not await connection.wait(deadline):
                    raise UpstreamError("first_token_timeout", "upstream sent no response in time")
            status, headers = connection.status, connection.headers
            if status in REDIRECT_STATUSES:
                raise redirect_error(status, headers)
            body = CappedBody(headers.get("content-encoding"), self._max_bytes)
        except BaseException:
            connection.close()
            self._all.discard(connection)
            raise
        return Http1Response(connection, timeouts, deadline, self._release, body)

    async def aclose(self) -> None:
        for connection in list(self._all):
            connection.close()
        self._all.clear()
        self._idle.clear()
