"""`total_timeout_s` bounds one attempt from the connect to the end of the answer: a JSON body
gets only what the wait for the headers left of it (fake upstream, fake clock)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.errors import GatewayError
from gateway.routing.exchange import Exchange
from gateway.runtime import build_runtime
from gateway.upstream import FakeReply, FakeUpstream, PreparedRequest, UpstreamTimeouts
from gateway.upstream.base import UpstreamRequest
from gateway.upstream.fake import FakeResponse
from tests.unit.routing.router_harness import ANSWER, CONFIG, ENV, Harness

SLOW = """
[[models]]
name = "slow"
max_attempts = 1
[[models.deployments]]
provider = "up"
model = "ok-slow"
total_timeout_s = 5.0
"""


class BodyStillComing(FakeResponse):
    """Headers in, the body not yet: reading it takes a turn of the event loop."""

    @property
    def body_complete(self) -> bool:
        return False

    async def read(self) -> bytes:
        await asyncio.sleep(0)
        return ANSWER


class LateHeaders(FakeUpstream):
    """The headers come when the attempt's whole `total_timeout_s` is spent."""

    def __init__(self, harness: Harness) -> None:
        super().__init__(lambda request: FakeReply())
        self.harness = harness

    async def send(
        self, request: UpstreamRequest | PreparedRequest, timeouts: UpstreamTimeouts
    ) -> FakeResponse:
        self.harness.clock.advance(5.0)
        response = BodyStillComing(FakeReply(200, {"content-type": "application/json"}))
        self.responses.append(response)
        return response


async def test_a_json_body_gets_only_what_is_left_of_the_attempts_time(tmp_path: Path) -> None:
    h = Harness(tmp_path, lambda request: FakeReply())
    (tmp_path / "gateway.toml").write_text(CONFIG + SLOW)
    h.runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=ENV), env=ENV)
    upstream = LateHeaders(h)
    h.router.client_for = lambda provider: upstream
    exchange = Exchange()
    with pytest.raises(GatewayError) as caught:
        await h.router.route(h.request("slow"), exchange)
    assert caught.value.status == 504
    assert [(a.status, a.error_kind) for a in exchange.attempts] == [(200, "timeout")]
    assert all(r.closed for r in upstream.responses)
