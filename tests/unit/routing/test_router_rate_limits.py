"""Rate limits at the router: a 429 benches a deployment (never its breaker) for the upstream's
wait, quota errors are tried once per deployment, failed attempts are logged once per cause."""

from __future__ import annotations

import logging
from pathlib import Path

import orjson
import pytest

from gateway.config import load_config
from gateway.errors import GatewayError
from gateway.routing.exchange import Exchange
from gateway.runtime import build_runtime
from gateway.upstream import FakeReply, UpstreamRequest
from tests.unit.routing.router_harness import (
    ANSWER,
    CONFIG,
    ENV,
    Harness,
    answer,
)

MIXED = """
[[models]]
name = "mixed"
strategy = "round_robin"
[[models.deployments]]
provider = "up"
model = "flaky-a"
[[models.deployments]]
provider = "up"
model = "e429slow-b"
"""


async def test_a_rate_limit_is_passed_on_at_once_with_its_retry_after(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    error, exchange = await h.fail("limited")
    assert error.status == 429 and error.code == "rate_limit_exceeded"
    assert (error.headers["retry-after"], error.headers["retry-after-ms"]) == ("2", "2000")
    # The only deployment is benched for the wait it asked for: not called again meanwhile.
    assert h.sent() == ["e429-x"] and h.clock.sleeps == []


async def test_rate_limits_bench_deployments_without_opening_breakers(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    error, exchange = await h.fail("busy")
    # Each deployment once, then the fallback, at once; nothing is waited for.
    assert sorted(h.sent()[:2]) == ["e429-a", "e429ms-b"] and h.sent()[2] == "e429slow-c"
    assert len(h.sent()) == 3 and h.clock.sleeps == []
    # The shortest wait of the three (retry-after-ms 700 on e429ms-b), in both headers.
    assert error.status == 429 and error.code == "rate_limit_exceeded"
    assert (error.headers["retry-after"], error.headers["retry-after-ms"]) == ("1", "700")
    names = ["up/e429-a", "up/e429ms-b", "up/e429slow-c"]
    states = await h.state.breaker_states(names, h.clock.time())
    assert all(s.state == "closed" and s.failures == 0 for s in states.values())

    # While they are benched, a request calls nobody and gets the rate limit with what is left
    # of the shortest wait.
    h.clock.advance(0.5)
    error, exchange = await h.fail("busy")
    assert len(h.sent()) == 3 and exchange.attempts == []
    assert error.status == 429 and error.headers["retry-after-ms"] == "200"
    # The shortest cooldown ends: that deployment alone is tried again.
    h.clock.advance(0.3)
    await h.fail("busy")
    assert h.sent()[3:] == ["e429ms-b"]


async def test_a_rate_limit_naming_no_wait_benches_for_the_configured_cooldown(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, answer)
    error, _ = await h.fail("bare-limit")
    assert error.status == 429 and error.type == "tokens"  # the upstream's own type
    assert error.headers["retry-after"] == "5"  # [routing] rate_limit_cooldown_s default


async def test_insufficient_quota_is_tried_once_per_deployment(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    error, exchange = await h.fail("no-quota")
    assert sorted(h.sent()) == ["quota-a", "quota-b"] and h.clock.sleeps == []
    assert (error.status, error.type, error.code) == (
        429,
        "insufficient_quota",
        "insufficient_quota",
    )
    assert error.message.startswith("You exceeded your current quota")


async def test_failed_attempts_are_logged_once_per_cause_and_deployment(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    h = Harness(tmp_path, answer)
    request = h.request("unreachable")
    request.request_id = "req_abc"
    with caplog.at_level(logging.WARNING, logger="gateway.upstream"):
        with pytest.raises(GatewayError):
            await h.router.route(request, Exchange())
    (line,) = [r.getMessage() for r in caplog.records]  # two connect failures, one line
    assert "deployment=up/down-x" in line and "cause=connect" in line
    assert "request=req_abc" in line and "connection refused" in line
    assert "sk-upstream" not in caplog.text
    caplog.clear()
    h.clock.advance(11)
    with caplog.at_level(logging.WARNING, logger="gateway.upstream"):
        await h.fail("limited")
        await h.fail("unreachable")
    lines = [r.getMessage() for r in caplog.records]
    assert any("cause=http_429 rate_limit_exceeded" in line for line in lines)
    assert any("cause=connect" in line and "1 more left out" in line for line in lines)
    # The provider refusing the gateway's key is the operator's concern; a client's bad
    # request is not.
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gateway.upstream"):
        await h.fail("misconfigured")
        await h.fail("refused")
    (line,) = [r.getMessage() for r in caplog.records]
    assert "deployment=up/badkey-x cause=http_401" in line


async def test_a_sibling_rate_limit_does_not_delay_the_retry_of_a_failed_deployment(
    tmp_path: Path,
) -> None:
    """The 429's Retry-After (30 s here, the request's whole deadline) benches its deployment;
    the deployment that answered 500 is tried again after the plain backoff, and serves."""
    calls = 0

    def flaky_beside_limited(request: UpstreamRequest) -> FakeReply:
        nonlocal calls
        if orjson.loads(request.body)["model"] == "e429slow-b":
            return answer(request)
        calls += 1
        if calls == 1:
            return FakeReply(500, {}, b"{}")
        return FakeReply(200, {"content-type": "application/json"}, ANSWER)

    h = Harness(tmp_path, flaky_beside_limited)
    (tmp_path / "gateway.toml").write_text(CONFIG + MIXED)
    h.runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=ENV), env=ENV)
    exchange = await h.route("mixed")
    assert exchange.deployment is not None and exchange.deployment.name == "up/flaky-a"
    assert h.sent() == ["flaky-a", "e429slow-b", "flaky-a"]
    (slept,) = h.clock.sleeps
    assert slept <= 0.5  # backoff_base_s with jitter


# 503s as servers send them when they shed load or are still loading the model.
BUSY_503 = {
    # Ollama's OpenAI-compatible endpoint with its queue (OLLAMA_MAX_QUEUE) full.
    "ollama": (
        {},
        {
            "error": {
                "message": "server busy, please try again.  maximum pending requests exceeded",
                "type": "api_error",
                "param": None,
                "code": None,
            }
        },
    ),
    # llama.cpp server while it loads its model.
    "llamacpp": (
        {},
        {"error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}},
    ),
    # Any 503 that says when to come back (a proxy's HTML page).
    "retry": ({"retry-after": "7"}, None),
}
SHEDDING = """
[[models]]
name = "shedding"
strategy = "round_robin"
[[models.deployments]]
provider = "up"
model = "busy-a"
[[models.deployments]]
provider = "up"
model = "ok-b"

[[models]]
name = "shedding-alone"
[[models.deployments]]
provider = "up"
model = "busy-x"
"""


@pytest.mark.parametrize("server", sorted(BUSY_503))
async def test_a_503_that_says_it_is_busy_benches_the_deployment_without_a_fault(
    tmp_path: Path, server: str
) -> None:
    headers, body = BUSY_503[server]

    def shedding(request: UpstreamRequest) -> FakeReply:
        if str(orjson.loads(request.body)["model"]).startswith("busy"):
            data = orjson.dumps(body) if body is not None else b"<html>503</html>"
            return FakeReply(503, headers, data)
        return answer(request)

    h = Harness(tmp_path, shedding)  # breaker_failures = 2
    (tmp_path / "gateway.toml").write_text(CONFIG + SHEDDING)
    h.runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=ENV), env=ENV)
    for _ in range(3):
        exchange = await h.route("shedding")
        assert exchange.deployment is not None and exchange.deployment.name == "up/ok-b"
    # Asked once, then left out for its wait (no backoff: the other deployment served at once).
    assert h.sent().count("busy-a") == 1 and h.clock.sleeps == []
    states = await h.state.breaker_states(["up/busy-a"], h.clock.time())
    assert states["up/busy-a"].failures == 0
    # Alone, it is answered with its own 503 and the wait: Retry-After, or the default cooldown.
    error, _ = await h.fail("shedding-alone")
    assert error.status == 503 and h.sent().count("busy-x") == 1
    assert error.headers["retry-after"] == ("7" if server == "retry" else "5")
    states = await h.state.breaker_states(["up/busy-x"], h.clock.time())
    assert states["up/busy-x"].failures == 0


async def test_a_bare_503_is_still_a_fault(tmp_path: Path) -> None:
    def down(request: UpstreamRequest) -> FakeReply:
        return FakeReply(503, {}, orjson.dumps({"error": {"message": "Service Unavailable"}}))

    h = Harness(tmp_path, down)  # breaker_failures = 2
    (tmp_path / "gateway.toml").write_text(CONFIG + SHEDDING)
    h.runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=ENV), env=ENV)
    error, exchange = await h.fail("shedding-alone")
    assert error.status == 503 and len(exchange.attempts) == 2  # retried after a backoff
    states = await h.state.breaker_states(["up/busy-x"], h.clock.time())
    assert states["up/busy-x"].state == "open"
