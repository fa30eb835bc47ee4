"""lowest_latency learns from timeouts: a deployment that starts hanging is not sent every
request first on the strength of its fast days (fake upstream, fake clock)."""

from __future__ import annotations

from pathlib import Path

import orjson

from gateway.config import load_config
from gateway.routing.exchange import Exchange
from gateway.runtime import build_runtime
from gateway.upstream import FakeReply, UpstreamError, UpstreamRequest
from tests.unit.routing.router_harness import ANSWER, CONFIG, ENV, Harness

QUICK = """
[[models]]
name = "quick"
strategy = "lowest_latency"
[[models.deployments]]
provider = "up"
model = "fast-then-hung"
[[models.deployments]]
provider = "up"
model = "steady"
"""


async def test_a_deployment_that_times_out_loses_its_lowest_latency_lead(tmp_path: Path) -> None:
    hung = False

    def answer(request: UpstreamRequest) -> FakeReply:
        fast = orjson.loads(request.body)["model"] == "fast-then-hung"
        if fast and hung:
            h.clock.advance(20.0)  # the first-byte timeout, within the request's 30 s
            raise UpstreamError("first_byte_timeout", "no answer")
        h.clock.advance(0.1 if fast else 0.5)
        return FakeReply(200, {"content-type": "application/json"}, ANSWER)

    h = Harness(tmp_path, answer)
    (tmp_path / "gateway.toml").write_text(CONFIG + QUICK)
    h.runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=ENV), env=ENV)
    for _ in range(4):  # both measured: the fast one leads
        await h.router.route(h.request("quick"), Exchange())
    hung = True
    firsts = []
    for _ in range(4):
        h.clock.advance(120.0)  # quiet traffic: too few timeouts in a window to open a breaker
        exchange = Exchange()
        await h.router.route(h.request("quick"), exchange)
        assert exchange.deployment is not None and exchange.deployment.name == "up/steady"
        firsts.append(exchange.attempts[0].deployment)
    assert firsts == ["up/fast-then-hung"] + ["up/steady"] * 3
