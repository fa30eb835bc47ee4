"""`TokenCache` and `BearerTokenUpstream`: a token kept until shortly before it expires, one
refresh however many requests wait for it, and every request signed with it."""

from __future__ import annotations

import asyncio

import pytest

from gateway.clock import FakeClock
from gateway.upstream import FakeReply, FakeUpstream, UpstreamRequest, UpstreamTimeouts
from gateway.upstream.bearer import BearerTokenUpstream, TokenCache
from gateway.upstream.entra import AccessToken, TokenError

REQUEST = UpstreamRequest("POST", "http://az/openai/deployments/d/chat/completions", {}, b"{}")


class Tokens:
    """A scripted token endpoint: each fetch gets the next token, or waits for `release`."""

    def __init__(self, lifetime_s: float = 3600.0) -> None:
        self.lifetime_s = lifetime_s
        self.calls = 0
        self.fail = False
        self.release: asyncio.Event | None = None

    async def fetch(self) -> AccessToken:
        self.calls += 1
        if self.release is not None:
            await self.release.wait()
        if self.fail:
            raise TokenError("the token endpoint answered 500")
        return AccessToken(f"token-{self.calls}", self.lifetime_s)


async def test_a_token_is_kept_until_five_minutes_before_it_expires() -> None:
    clock, tokens = FakeClock(), Tokens(3600.0)
    cache = TokenCache(tokens.fetch, clock)
    assert await cache.token() == "token-1"
    clock.advance(3600 - 300 - 1)
    assert await cache.token() == "token-1" and tokens.calls == 1
    clock.advance(1)
    assert await cache.token() == "token-2" and tokens.calls == 2


async def test_a_short_lived_token_is_refreshed_halfway() -> None:
    clock, tokens = FakeClock(), Tokens(60.0)
    cache = TokenCache(tokens.fetch, clock)
    await cache.token()
    clock.advance(29.9)
    assert await cache.token() == "token-1"
    clock.advance(0.1)
    assert await cache.token() == "token-2"


async def test_many_requests_waiting_for_a_token_make_one_token_request() -> None:
    tokens = Tokens()
    tokens.release = asyncio.Event()
    cache = TokenCache(tokens.fetch, FakeClock())
    waiting = [asyncio.create_task(cache.token()) for _ in range(50)]
    await asyncio.sleep(0)  # every waiter reaches the refresh before it ends
    tokens.release.set()
    assert set(await asyncio.gather(*waiting)) == {"token-1"}
    assert tokens.calls == 1


async def test_a_waiter_that_leaves_does_not_cancel_the_refresh_of_the_others() -> None:
    tokens = Tokens()
    tokens.release = asyncio.Event()
    cache = TokenCache(tokens.fetch, FakeClock())
    leaving, staying = asyncio.create_task(cache.token()), asyncio.create_task(cache.token())
    await asyncio.sleep(0)
    leaving.cancel()
    tokens.release.set()
    assert await staying == "token-1" and tokens.calls == 1


async def test_a_failed_refresh_keeps_a_valid_token_and_fails_once_it_expired() -> None:
    clock, tokens = FakeClock(), Tokens(3600.0)
    cache = TokenCache(tokens.fetch, clock)
    await cache.token()
    tokens.fail = True
    clock.advance(3400)  # due for a refresh, still valid
    assert await cache.token() == "token-1"
    clock.advance(200)  # expired
    with pytest.raises(TokenError):
        await cache.token()
    tokens.fail = False
    assert await cache.token() == "token-4"  # the next request tries again


async def test_every_request_is_signed_prepared_or_not() -> None:
    upstream = FakeUpstream(lambda request: FakeReply(200, body=b"{}"))
    clock, tokens = FakeClock(), Tokens(3600.0)
    client = BearerTokenUpstream(upstream, TokenCache(tokens.fetch, clock))
    timeouts = UpstreamTimeouts()
    unsigned = client.prepare(REQUEST)  # no token yet: signed when sent
    await client.send(unsigned, timeouts)
    prepared = client.prepare(REQUEST)  # a fresh token: signed ahead
    await client.send(prepared, timeouts)
    clock.advance(3500)  # prepared with a token due for a refresh: signed again
    await client.send(prepared, timeouts)
    sent = [request.headers["authorization"] for request in upstream.requests]
    assert sent == ["Bearer token-1", "Bearer token-1", "Bearer token-2"]
    assert "authorization" not in REQUEST.headers


async def test_no_token_in_time_fails_the_request_as_a_token_error() -> None:
    tokens = Tokens()
    tokens.release = asyncio.Event()  # never set
    upstream = FakeUpstream(lambda request: FakeReply(200))
    client = BearerTokenUpstream(upstream, TokenCache(tokens.fetch, FakeClock()))
    with pytest.raises(TokenError, match="within 0.01 s"):
        await client.send(REQUEST, UpstreamTimeouts(first_byte_s=0.01))
    assert upstream.requests == []
