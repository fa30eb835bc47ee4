"""A stream the router handed over is still its deployment's business until it ends: it stays
in flight (least_busy counts it) and a failure the upstream causes after the first byte counts
against the deployment's breaker."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from gateway.errors import GatewayError, UpstreamStreamError
from gateway.routing.exchange import Exchange, StreamReply
from gateway.upstream import FakeReply, UpstreamError, UpstreamRequest
from tests.unit.routing.router_harness import Harness

CHUNK = (
    b'data: {"id":"c","object":"chat.completion.chunk","created":1,"model":"x",'
    b'"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n'
)
DEPLOYMENT = "up/ok-fine"


def streaming(request: UpstreamRequest) -> FakeReply:
    """A stream whose first chunk is in, the rest still to come (then cut)."""
    return FakeReply(
        200, {"content-type": "text/event-stream"}, [CHUNK, UpstreamError("closed", "cut")]
    )


async def open_stream(h: Harness) -> StreamReply:
    request = h.request("fine")
    request.stream = True
    exchange = Exchange()
    await h.router.route(request, exchange)
    assert exchange.stream is not None
    return exchange.stream


async def test_a_stream_stays_in_flight_until_it_is_closed(tmp_path: Path) -> None:
    h = Harness(tmp_path, streaming)
    first, second = await open_stream(h), await open_stream(h)
    assert h.router.stats.snapshot(DEPLOYMENT)["inflight"] == 2
    await first.aclose()
    await first.aclose()  # closing again tells the router nothing more
    assert h.router.stats.snapshot(DEPLOYMENT)["inflight"] == 1
    await second.aclose()
    assert h.router.stats.snapshot(DEPLOYMENT)["inflight"] == 0
    assert all(r.closed for r in h.upstream.responses)


async def test_streams_the_upstream_broke_open_the_breaker(tmp_path: Path) -> None:
    h = Harness(tmp_path, streaming)  # breaker_failures = 2
    for _ in range(3):  # not the upstream's fault: the client left, a guardrail, the deadline
        await (await open_stream(h)).aclose(upstream_fault=False)
    states = await h.state.breaker_states([DEPLOYMENT], h.clock.time())
    assert states[DEPLOYMENT].state == "closed" and states[DEPLOYMENT].failures == 0
    for _ in range(2):
        await (await open_stream(h)).aclose(upstream_fault=True)
    states = await h.state.breaker_states([DEPLOYMENT], h.clock.time())
    assert states[DEPLOYMENT].state == "open"


async def test_a_probe_streams_first_byte_closes_the_breaker(tmp_path: Path) -> None:
    """Traffic resumes as soon as a half-open deployment streams again, not at the probe's end;
    a cut after that still counts as a failure."""
    down = True

    def flaky(request: UpstreamRequest) -> FakeReply:
        if down:
            raise UpstreamError("connect", "refused")
        return streaming(request)

    h = Harness(tmp_path, flaky)  # breaker_failures = 2, breaker_cooldown_s = 10
    request = h.request("fine")
    request.stream = True
    with pytest.raises(GatewayError):
        await h.router.route(request, Exchange())
    assert (await h.state.breaker_states([DEPLOYMENT], h.clock.time()))[DEPLOYMENT].state == "open"
    h.clock.advance(10.0)
    down = False
    probe = await open_stream(h)
    states = await h.state.breaker_states([DEPLOYMENT], h.clock.time())
    assert states[DEPLOYMENT].state == "closed" and states[DEPLOYMENT].failures == 0
    await probe.aclose(upstream_fault=True)
    states = await h.state.breaker_states([DEPLOYMENT], h.clock.time())
    assert states[DEPLOYMENT].state == "closed" and states[DEPLOYMENT].failures == 1


async def test_an_overload_said_mid_stream_benches_the_deployment_not_its_breaker(
    tmp_path: Path,
) -> None:
    """Anthropic's `overloaded_error` event after the first byte is a 529 said late: the next
    request does not go straight back to the deployment, and no fault is counted."""
    h = Harness(tmp_path, streaming)  # breaker_failures = 2
    overloaded = UpstreamStreamError(
        "upstream stream error: Overloaded",
        error_type="overloaded_error",
        anthropic_type="overloaded_error",
        code="overloaded",
        rate_limited=True,
    )
    for _ in range(2):
        h.clock.advance(5.0)  # past the bench of the one before
        await (await open_stream(h)).aclose(upstream_fault=False, busy=overloaded)
    calls = len(h.upstream.requests)
    error, exchange = await h.fail("fine")
    assert len(h.upstream.requests) == calls and exchange.attempts == []
    assert error.status == 529 and error.code == "overloaded"
    assert error.headers["retry-after"] == "5"  # [routing] rate_limit_cooldown_s default
    states = await h.state.breaker_states([DEPLOYMENT], h.clock.time())
    assert states[DEPLOYMENT].state == "closed" and states[DEPLOYMENT].failures == 0
    h.clock.advance(5.0)  # the bench is over: the deployment is called again
    await (await open_stream(h)).aclose()
    assert len(h.upstream.requests) == calls + 1


async def test_a_rate_limit_said_before_the_first_byte_is_logged_by_its_code_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    limited = (
        b'data: {"error": {"message": "Rate limit reached", "type": "rate_limit_error", '
        b'"code": "rate_limit_exceeded"}}\n\n'
    )

    def limited_stream(request: UpstreamRequest) -> FakeReply:
        return FakeReply(200, {"content-type": "text/event-stream"}, [limited])

    h = Harness(tmp_path, limited_stream)
    request = h.request("fine")
    request.stream = True
    with caplog.at_level(logging.WARNING, logger="gateway.upstream"):
        with pytest.raises(GatewayError) as caught:
            await h.router.route(request, Exchange())
    assert caught.value.status == 429
    (line,) = [r.getMessage() for r in caplog.records]
    assert "cause=rate_limit_exceeded request=" in line  # not "rate_limit_exceeded" twice
