"""Requests signed with a cached bearer token (`Authorization: Bearer`): `TokenCache` keeps one
token until shortly before it expires and gets the next one once, however many requests want it
at that moment; `BearerTokenUpstream` wraps a provider's network client and signs what it sends.

A token is refreshed `REFRESH_MARGIN_S` (5 minutes) before its expiry, or halfway through its
life when that is shorter. When a refresh fails while the old token is still valid, requests keep
using it (and the next one tries again); once it has expired, they fail with the `TokenError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace

from gateway.clock import Clock
from gateway.upstream.base import (
    PlainPrepared,
    PreparedRequest,
    UpstreamClient,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeouts,
    request_of,
)
from gateway.upstream.entra import AccessToken, TokenError

log = logging.getLogger("gateway.upstream.entra")

REFRESH_MARGIN_S = 300.0


@dataclass(frozen=True)
class _Held:
    value: str = field(repr=False)
    refresh_at: float  # monotonic seconds
    expires_at: float


class TokenCache:
    def __init__(
        self, fetch: Callable[[], Awaitable[AccessToken]], clock: Clock, label: str = ""
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._label = label
        self._held: _Held | None = None
        self._pending: asyncio.Task[str] | None = None

    def fresh(self) -> str | None:
        """The token, when it is not yet due for a refresh."""
        held = self._held
        if held is not None and self._clock.monotonic() < held.refresh_at:
            return held.value
        return None

    async def token(self) -> str:
        """A valid token: the cached one, or the one the single refresh in flight gets."""
        held = self._held
        if held is not None and self._clock.monotonic() < held.refresh_at:
            return held.value
        task = self._pending
        if task is None:
            task = self._pending = asyncio.get_running_loop().create_task(self._refresh())
            # Retrieved even when every waiter left (no "exception never retrieved").
            task.add_done_callback(lambda done: done.cancelled() or done.exception())
        try:
            return await asyncio.shield(task)  # a waiter leaving does not cancel the refresh
        except TokenError:
            if held is not None and self._clock.monotonic() < held.expires_at:
                return held.value
            raise

    async def _refresh(self) -> str:
        try:
            token = await self._fetch()
            now = self._clock.monotonic()
            margin = min(REFRESH_MARGIN_S, token.lifetime_s / 2)
            expires_at = now + token.lifetime_s
            self._held = _Held(token.value, expires_at - margin, expires_at)
            log.info("%s: new Entra ID token, valid for %.0f s", self._label, token.lifetime_s)
            return token.value
        finally:
            self._pending = None


@dataclass(frozen=True, slots=True)
class _Signed:
    """A request prepared by the inner client, signed with `token`."""

    inner: PreparedRequest
    token: str = field(repr=False)

    @property
    def request(self) -> UpstreamRequest:
        return self.inner.request


def signed(request: UpstreamRequest, token: str) -> UpstreamRequest:
    return replace(request, headers={**request.headers, "authorization": f"Bearer {token}"})


class BearerTokenUpstream:
    """`inner` (a provider's network client, possibly shared) with every request signed by
    `tokens`; closing it closes `on_close` (the token source's own client), not `inner`."""

    def __init__(
        self,
        inner: UpstreamClient,
        tokens: TokenCache,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._inner = inner
        self._tokens = tokens
        self._on_close = on_close

    def prepare(self, request: UpstreamRequest) -> PreparedRequest:
        token = self._tokens.fresh()
        if token is None:
            return PlainPrepared(request)  # signed when sent, once a token is in
        return _Signed(self._inner.prepare(signed(request, token)), token)

    async def send(
        self, request: UpstreamRequest | PreparedRequest, timeouts: UpstreamTimeouts
    ) -> UpstreamResponse:
        if isinstance(request, _Signed) and request.token == self._tokens.fresh():
            return await self._inner.send(request.inner, timeouts)
        try:
            async with asyncio.timeout(timeouts.first_byte_s):
                token = await self._tokens.token()
        except TimeoutError:
            raise TokenError(
                f"no answer from the token endpoint within {timeouts.first_byte_s:g} s"
            ) from None
        return await self._inner.send(signed(request_of(request), token), timeouts)

    async def aclose(self) -> None:
        if self._on_close is not None:
            await self._on_close()
