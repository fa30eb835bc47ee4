"""The reference network client: httpx, for every provider `http1` does not fully serve
(`https://` and SOCKS proxies, HTTP/2 through `h2`).

The proxies of the environment (with `trust_env`) are read by `proxy_rules.py`, as for `http1`,
and given to httpx as mounts, one transport per proxy; httpx itself reads no environment.

One `httpx.AsyncClient` per network config, redirects never followed. Bodies are read raw and
decoded (gzip, deflate, br, zstd) by `body.CappedBody`, as on `http1`: httpx's own decoders
expand each read whole, before the `max_response_bytes` cap can count it. The gateway's
timeouts are phases, not httpx's per-read ones: the connect timeout goes to httpx, the
first-byte deadline covers the send until the headers and the first body chunk, and the idle
timeout each later chunk.
"""

from __future__ import annotations

import asyncio
import functools
import os
import ssl
from collections.abc import AsyncIterator, Mapping

import httpx

from gateway.config.provider_types import NetworkConfig
from gateway.tls_once import ContextOnce
from gateway.upstream.base import (
    REDIRECT_STATUSES,
    PlainPrepared,
    PreparedRequest,
    UpstreamError,
    UpstreamRequest,
    UpstreamTimeouts,
    redirect_error,
    request_of,
)
from gateway.upstream.body import CappedBody
from gateway.upstream.proxy_rules import ProxyRules, environment_proxies
from gateway.upstream.tls import ssl_context, tls_failure

# Below the 5 s idle timeout of uvicorn-based upstreams, as in http1.
KEEPALIVE_S = 4.0


class HttpxResponse:
    def __init__(
        self,
        response: httpx.Response,
        timeouts: UpstreamTimeouts,
        deadline: float,
        body: CappedBody,
    ) -> None:
        self._response = response
        self._timeouts = timeouts
        self._first_byte_deadline = deadline
        self._body = body
        self._chunks = response.aiter_raw()  # still encoded: `body` decodes, within the cap
        self._complete = False
        self._closed = False
        self.status = response.status_code
        self.headers: Mapping[str, str] = dict(response.headers.items())  # lower-cased names

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        if self._closed:
            return
        loop = asyncio.get_running_loop()
        kind, deadline = "first_token_timeout", self._first_byte_deadline
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await anext(self._chunks)
            except StopAsyncIteration:
                try:
                    for piece in self._body.feed(b"", end=True):
                        yield piece
                except UpstreamError:
                    await self.aclose()
                    raise
                self._complete = True
                await self.aclose()
                return
            except TimeoutError:
                await self.aclose()
                raise UpstreamError(kind, "no data from upstream in time") from None
            except httpx.HTTPError as exc:
                await self.aclose()
                raise UpstreamError("protocol", f"upstream connection failed: {exc}") from None
            try:
                for piece in self._body.feed(chunk):
                    yield piece
            except UpstreamError:
                await self.aclose()  # too large or malformed: the rest is not read
                raise
            kind, deadline = "idle_timeout", loop.time() + self._timeouts.idle_s

    @property
    def body_complete(self) -> bool:
        return self._complete

    async def read(self) -> bytes:
        parts = [chunk async for chunk in self.iter_chunks()]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._response.aclose()  # an unread body closes its connection


class HttpxUpstream:
    def __init__(self, network: NetworkConfig = NetworkConfig()) -> None:
        self._network = network
        self._client: httpx.AsyncClient | None = None
        # Built at the first request, off the event loop.
        self._tls = ContextOnce(functools.partial(ssl_context, network))

    async def _http(self) -> httpx.AsyncClient:
        """The httpx client, made at the first request, once its TLS context is built (in a
        worker thread: `ContextOnce`)."""
        client = self._client
        if client is not None:
            return client
        verify = await self._tls.get()
        if self._client is None:  # (another request waiting for the same build made it)
            network = self._network
            limits = httpx.Limits(
                max_connections=None, max_keepalive_connections=None, keepalive_expiry=KEEPALIVE_S
            )
            mounts: dict[str, httpx.AsyncBaseTransport | None] | None = None
            if network.proxy is None and network.trust_env:
                mounts = _environment_mounts(network, verify, limits)
            self._client = httpx.AsyncClient(
                verify=verify,
                http2=network.http2,
                proxy=network.proxy,
                mounts=mounts,
                trust_env=False,  # the proxy variables are in `mounts`
                follow_redirects=False,
                limits=limits,
            )
        return self._client

    def prepare(self, request: UpstreamRequest) -> PreparedRequest:
        return PlainPrepared(request)

    async def send(
        self, request: UpstreamRequest | PreparedRequest, timeouts: UpstreamTimeouts
    ) -> HttpxResponse:
        """Send the request; return once status and headers are in. Raises UpstreamError."""
        plain = request_of(request)
        client = self._client or await self._http()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeouts.first_byte_s
        try:
            outgoing = client.build_request(
                plain.method,
                plain.url,
                headers=plain.headers,
                content=plain.body,
                timeout=httpx.Timeout(None, connect=timeouts.connect_s),
            )
            async with asyncio.timeout_at(deadline):
                response = await client.send(outgoing, stream=True)
        except TimeoutError:
            raise UpstreamError(
                "first_token_timeout", "upstream sent no response in time"
            ) from None
        except httpx.ConnectTimeout:
            raise UpstreamError("connect", "timed out connecting to upstream") from None
        except httpx.ProxyError as exc:
            raise UpstreamError("connect", f"the proxy refused the connection: {exc}") from None
        except (httpx.ConnectError, httpx.UnsupportedProtocol) as exc:
            raise tls_failure(exc, outgoing.url.host) or UpstreamError(
                "connect", f"cannot connect to upstream: {exc}"
            ) from None
        except httpx.InvalidURL as exc:
            raise UpstreamError("connect", f"invalid upstream URL: {exc}") from None
        except (httpx.HTTPError, httpx.StreamError) as exc:
            raise UpstreamError("protocol", f"upstream connection failed: {exc}") from None
        if response.status_code in REDIRECT_STATUSES:
            await response.aclose()
            raise redirect_error(response.status_code, response.headers)
        try:
            body = CappedBody(
                response.headers.get("content-encoding"), self._network.max_response_bytes
            )
        except UpstreamError:
            await response.aclose()
            raise
        return HttpxResponse(response, timeouts, deadline, body)

    async def aclose(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.aclose()


def _environment_mounts(
    network: NetworkConfig, verify: ssl.SSLContext, limits: httpx.Limits
) -> dict[str, httpx.AsyncBaseTransport | None]:
    """httpx mounts for the environment's proxies (`proxy_rules`): one transport per proxy URL,
    None (directly) for what NO_PROXY names."""
    transports: dict[str, httpx.AsyncBaseTransport] = {}
    mounts: dict[str, httpx.AsyncBaseTransport | None] = {}
    for pattern, proxy in ProxyRules(environment_proxies(os.environ)).patterns():
        if proxy is not None and proxy not in transports:
            transports[proxy] = httpx.AsyncHTTPTransport(
                verify=verify,
                http2=network.http2,
                limits=limits,
                proxy=proxy,
            )
        mounts[pattern] = transports[proxy] if proxy is not None else None
    return mounts
