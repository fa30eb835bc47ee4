"""Anthropic's `x-should-retry` on an error answer says whether retrying can help, whatever the
status: the router obeys it for the deployment that sent it, and the client gets it too (the
Anthropic and OpenAI SDKs both obey it)."""

from __future__ import annotations

from pathlib import Path

import orjson

from gateway.upstream import FakeReply, FakeUpstream, UpstreamRequest
from tests.unit.routing.router_harness import ANSWER, Harness, tried

OVERLOADED = orjson.dumps(
    {"type": "error", "error": {"type": "api_error", "message": "Internal server error"}}
)
CONFLICT = orjson.dumps(
    {"type": "error", "error": {"type": "invalid_request_error", "message": "conflict"}}
)


async def test_should_retry_false_keeps_the_deployment_from_being_asked_again(
    tmp_path: Path,
) -> None:
    def no_use(request: UpstreamRequest) -> FakeReply:
        return FakeReply(500, {"x-should-retry": "false"}, OVERLOADED)

    h = Harness(tmp_path, no_use)  # "unreachable": one deployment, max_attempts = 3
    error, exchange = await h.fail("unreachable")
    # Without it the 500 is retried on the same deployment after a backoff.
    assert tried(exchange) == [("up/down-x", 500, "http_500")] and h.clock.sleeps == []
    assert error.status == 502 and error.headers["x-should-retry"] == "false"


async def test_should_retry_false_leaves_the_other_deployments_and_fallbacks(
    tmp_path: Path,
) -> None:
    def no_use(request: UpstreamRequest) -> FakeReply:
        if orjson.loads(request.body)["model"] == "e500-only":
            return FakeReply(500, {"x-should-retry": "false"}, OVERLOADED)
        return FakeReply(200, {"content-type": "application/json"}, ANSWER)

    h = Harness(tmp_path, no_use)  # "broken": fallbacks = ["fine"]
    exchange = await h.route("broken")
    assert tried(exchange) == [("up/e500-only", 500, "http_500"), ("up/ok-fine", 200, None)]


async def test_should_retry_true_retries_an_error_that_is_otherwise_passed_on(
    tmp_path: Path,
) -> None:
    calls = 0

    def conflict_once(request: UpstreamRequest) -> FakeReply:
        nonlocal calls
        calls += 1
        if calls == 1:
            return FakeReply(409, {"x-should-retry": "true"}, CONFLICT)
        return FakeReply(200, {"content-type": "application/json"}, ANSWER)

    h = Harness(tmp_path, conflict_once)  # "fine": one deployment, no fallback
    exchange = await h.route("fine")
    assert tried(exchange) == [("up/ok-fine", 409, "http_409"), ("up/ok-fine", 200, None)]
    # Without it a 409 is the client's error, passed on at once.
    h.upstream = FakeUpstream(lambda request: FakeReply(409, {}, CONFLICT))
    error, exchange = await h.fail("fine")
    assert error.status == 409 and len(exchange.attempts) == 1
    assert "x-should-retry" not in error.headers
