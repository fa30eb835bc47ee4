"""The hot-path upstream client: one pooled `aiohttp.ClientSession` per process.

Chosen by measurement (docs/operations.md): under concurrency 64 httpx's pool collapsed to
~450 req/s on this machine where aiohttp sustained ~5,800. httpx remains the client of the CLI
tools and tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping

import aiohttp

from gateway.upstream.base import UpstreamError, UpstreamRequest


class AiohttpResponse:
    def __init__(self, response: aiohttp.ClientResponse, request: UpstreamRequest, deadline: float) -> None:
        self._response = response
        self._request = request
        self._first_byte_deadline = deadline
        self._done = False
        self.status = response.status
        self.headers: Mapping[str, str] = {k.lower(): v for k, v in response.headers.items()}

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        content = self._response.content
        timeout = max(0.0, self._first_byte_deadline - loop.time())
        kind = "first_token_timeout"
        try:
            while True:
                try:
                    async with asyncio.timeout(timeout):
                        chunk = await content.readany()
                except TimeoutError:
                    raise UpstreamError(kind, f"no data from upstream for {timeout:.1f}s") from None
                if not chunk:
                    self._done = True
                    return
                yield chunk
                timeout = self._request.idle_timeout_s
                kind = "idle_timeout"
        except (aiohttp.ClientPayloadError, aiohttp.ServerDisconnectedError, aiohttp.ClientOSError) as exc:
            raise UpstreamError("protocol", f"upstream connection dropped: {type(exc).__name__}") from None

    async def read(self) -> bytes:
        parts = [chunk async for chunk in self.iter_chunks()]
        return b"".join(parts)

    async def aclose(self) -> None:
        if self._done:
            self._response.release()
        else:
            # Unread body: close the connection so the upstream stops generating.
            self._response.close()
        self._done = True


class AiohttpUpstream:
    # Below the 5 s idle timeout of uvicorn-based upstreams (vLLM, TGI routers, our mock), so
    # the pool drops an idle connection before the upstream closes it under our feet.
    def __init__(self, *, max_connections: int = 0, keepalive_s: float = 4.0) -> None:
        self._session: aiohttp.ClientSession | None = None
        self._max_connections = max_connections
        self._keepalive_s = keepalive_s

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                keepalive_timeout=self._keepalive_s,
                ttl_dns_cache=300,
                enable_cleanup_closed=True,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
                timeout=aiohttp.ClientTimeout(total=None),
            )
        return self._session

    async def send(self, request: UpstreamRequest) -> AiohttpResponse:
        session = self._get_session()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + request.first_byte_timeout_s
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=request.connect_timeout_s)
        try:
            async with asyncio.timeout(request.first_byte_timeout_s):
                try:
                    response = await self._request(session, request, timeout)
                except (aiohttp.ServerDisconnectedError, aiohttp.ClientOSError):
                    # A pooled connection the upstream closed while idle: the request never
                    # reached it, so one immediate retry on a fresh connection is safe.
                    response = await self._request(session, request, timeout)
        except TimeoutError:
            raise UpstreamError("first_token_timeout", "upstream sent no response in time") from None
        except aiohttp.ServerTimeoutError:
            raise UpstreamError("connect", "timed out connecting to upstream") from None
        except aiohttp.ClientConnectorError as exc:
            raise UpstreamError("connect", f"cannot connect to upstream: {exc.os_error}") from None
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError, aiohttp.ClientOSError) as exc:
            raise UpstreamError("protocol", f"upstream closed the connection: {type(exc).__name__}") from None
        except aiohttp.ClientError as exc:
            raise UpstreamError("protocol", f"upstream request failed: {type(exc).__name__}") from None
        return AiohttpResponse(response, request, deadline)

    @staticmethod
    async def _request(
        session: aiohttp.ClientSession, request: UpstreamRequest, timeout: aiohttp.ClientTimeout
    ) -> aiohttp.ClientResponse:
        return await session.request(
            request.method,
            request.url,
            data=request.body,
            headers=dict(request.headers),
            timeout=timeout,
            allow_redirects=False,
        )

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
