"""The router's retries, backoff, breakers and fallbacks, with a fake upstream and a fake
clock: no sockets, no sleeps. Each upstream model name in the config answers as the handler
below says (`ok-*` 200, `e500-*` 500, ...); the fake clock records every wait."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from gateway.clock import FakeClock
from gateway.config import load_config
from gateway.errors import GatewayError
from gateway.observability.metrics import Metrics
from gateway.routing.deployment_stats import DeploymentStats
from gateway.routing.exchange import Exchange, RouteRequest
from gateway.routing.router import Router
from gateway.runtime import Runtime, build_runtime
from gateway.state import MemoryState
from gateway.upstream import (
    FakeReply,
    FakeUpstream,
    PreparedRequest,
    UpstreamError,
    UpstreamRequest,
    UpstreamTimeouts,
)
from gateway.upstream.fake import FakeResponse

ANSWER = orjson.dumps(
    {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "x",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
)


def _error(status: int, code: str | None = None, kind: str = "x") -> bytes:
    return orjson.dumps({"error": {"message": f"status {status}", "type": kind, "code": code}})


QUOTA = orjson.dumps(
    {
        "error": {
            "message": "You exceeded your current quota, please check your plan and billing "
            "details.",
            "type": "insufficient_quota",
            "param": None,
            "code": "insufficient_quota",
        }
    }
)


def answer(request: UpstreamRequest) -> FakeReply:
    """The fake provider: the upstream model name says how it answers."""
    model = str(orjson.loads(request.body)["model"])
    if model.startswith("ok"):
        return FakeReply(200, {"content-type": "application/json"}, ANSWER)
    if model.startswith("e500"):
        return FakeReply(500, {}, _error(500))
    if model.startswith("e429ms"):
        return FakeReply(429, {"retry-after-ms": "700"}, _error(429, "rate_limit_exceeded"))
    if model.startswith("e429slow"):
        return FakeReply(429, {"retry-after": "30"}, _error(429, "rate_limit_exceeded"))
    if model.startswith("e429bare"):
        return FakeReply(429, {}, _error(429, "rate_limit_exceeded", "tokens"))
    if model.startswith("e429"):
        return FakeReply(429, {"retry-after": "2"}, _error(429, "rate_limit_exceeded"))
    if model.startswith("quota"):
        return FakeReply(429, {}, QUOTA)
    if model.startswith("e503"):
        return FakeReply(503, {"retry-after": "2"}, _error(503))
    if model.startswith("e400"):
        return FakeReply(400, {}, _error(400, "invalid_value"))
    if model.startswith("policy"):
        return FakeReply(400, {}, _error(400, "content_policy_violation"))
    if model.startswith("badkey"):
        return FakeReply(401, {}, _error(401, "invalid_api_key"))
    if model.startswith("down"):
        raise UpstreamError("connect", "connection refused")
    raise AssertionError(model)


CONFIG = """
[server]
request_timeout_s = 30

[routing]
max_attempts = 3
backoff_base_s = 0.5
backoff_max_s = 4.0
breaker_failures = 2
breaker_window_s = 60
breaker_cooldown_s = 10

[[providers]]
name = "up"
type = "openai"
base_url = "http://upstream.invalid/v1"
api_key_env = "UP_KEY"

[[models]]
name = "retry"
strategy = "round_robin"
[[models.deployments]]
provider = "up"
model = "e500-a"
[[models.deployments]]
provider = "up"
model = "ok-b"

[[models]]
name = "broken"
fallbacks = ["fine"]
[[models.deployments]]
provider = "up"
model = "e500-only"

[[models]]
name = "fine"
[[models.deployments]]
provider = "up"
model = "ok-fine"

[[models]]
name = "limited"
[[models.deployments]]
provider = "up"
model = "e429-x"

[[models]]
name = "busy"
strategy = "round_robin"
fallbacks = ["also-busy"]
[[models.deployments]]
provider = "up"
model = "e429-a"
[[models.deployments]]
provider = "up"
model = "e429ms-b"

[[models]]
name = "also-busy"
[[models.deployments]]
provider = "up"
model = "e429slow-c"

[[models]]
name = "bare-limit"
[[models.deployments]]
provider = "up"
model = "e429bare-x"

[[models]]
name = "no-quota"
strategy = "round_robin"
[[models.deployments]]
provider = "up"
model = "quota-a"
[[models.deployments]]
provider = "up"
model = "quota-b"

[[models]]
name = "overloaded"
[[models.deployments]]
provider = "up"
model = "e503-x"

[[models]]
name = "misconfigured"
[[models.deployments]]
provider = "up"
model = "badkey-x"

[[models]]
name = "refused"
fallbacks = ["fine"]
[[models.deployments]]
provider = "up"
model = "e400-x"

[[models]]
name = "unreachable"
[[models.deployments]]
provider = "up"
model = "down-x"

[[models]]
name = "filtered"
content_policy_fallbacks = ["fine"]
[[models.deployments]]
provider = "up"
model = "policy-x"

[[models]]
name = "small"
context_window_fallbacks = ["fine"]
[[models.deployments]]
provider = "up"
model = "ok-small"
context_window = 10

[[keys]]
id = "k"
key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
"""


ENV = {"UP_KEY": "sk-upstream"}


class Harness:
    def __init__(self, tmp_path: Path, handler: Callable[[UpstreamRequest], FakeReply]) -> None:
        (tmp_path / "gateway.toml").write_text(CONFIG)
        config = load_config(tmp_path / "gateway.toml", env=ENV)
        self.runtime: Runtime = build_runtime(config, env=ENV)
        self.upstream = FakeUpstream(handler)
        self.clock = FakeClock()
        self.state = MemoryState()
        self.router = Router(
            self.state,
            DeploymentStats(),
            Metrics(),
            lambda provider: self.upstream,
            self.clock,
            random.Random(7),
        )

    def request(self, model: str, prompt_tokens: int = 3, body_bytes: int = 100) -> RouteRequest:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}]}
        return RouteRequest(
            runtime=self.runtime,
            kind="chat",
            body=body,
            model=self.runtime.config.models[model],
            stream=False,
            key_id="k",
            started=self.clock.monotonic(),
            body_bytes=body_bytes,
            prompt_tokens=lambda: prompt_tokens,
        )

    async def route(self, model: str, **kwargs: int) -> Exchange:
        exchange = Exchange()
        await self.router.route(self.request(model, **kwargs), exchange)
        return exchange

    async def fail(self, model: str) -> tuple[GatewayError, Exchange]:
        exchange = Exchange()
        with pytest.raises(GatewayError) as caught:
            await self.router.route(self.request(model), exchange)
        return caught.value, exchange

    def sent(self) -> list[str]:
        return [str(orjson.loads(r.body)["model"]) for r in self.upstream.requests]


def tried(exchange: Exchange) -> list[tuple[str, int | None, str | None]]:
    return [(a.deployment, a.status, a.error_kind) for a in exchange.attempts]


async def test_a_failed_deployment_is_retried_at_once_on_its_sibling(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    exchange = await h.route("retry")
    assert tried(exchange) == [("up/e500-a", 500, "http_500"), ("up/ok-b", 200, None)]
    assert exchange.deployment is not None and exchange.deployment.name == "up/ok-b"
    assert exchange.usage is not None and exchange.usage.prompt_tokens == 3
    assert h.clock.sleeps == []  # a sibling not tried yet is tried without waiting
    assert all(r.closed for r in h.upstream.responses)


async def test_when_every_deployment_failed_the_router_backs_off_then_gives_up(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, answer)
    error, exchange = await h.fail("unreachable")
    assert error.status == 502 and "connect" in error.message
    assert [kind for _, _, kind in tried(exchange)] == ["connect"] * 2
    # max_attempts = 3, but the breaker (2 failures) opens after the second: no third call.
    assert len(h.clock.sleeps) == 1
    assert 0.25 <= h.clock.sleeps[0] <= 0.5  # backoff_base_s with jitter in [50%, 100%]


async def test_backoff_doubles_for_each_round(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    h.runtime = build_runtime(
        load_config(_with(tmp_path, "breaker_failures = 2", "breaker_failures = 50"), env=ENV),
        env=ENV,
    )
    error, exchange = await h.fail("unreachable")
    assert len(exchange.attempts) == 3
    first, second = h.clock.sleeps
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0


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


async def test_a_client_error_ends_the_request_without_retry_or_fallback(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    error, exchange = await h.fail("refused")
    assert error.status == 400
    assert h.sent() == ["e400-x"] and h.clock.sleeps == []


async def test_fallback_models_serve_when_the_group_fails(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    exchange = await h.route("broken")
    assert exchange.fallback_used
    assert [a.model for a in exchange.attempts][-1] == "fine"
    assert h.sent()[-1] == "ok-fine"


async def test_a_content_policy_refusal_goes_to_the_content_policy_fallback(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, answer)
    exchange = await h.route("filtered")
    assert h.sent() == ["policy-x", "ok-fine"] and exchange.fallback_used


async def test_a_prompt_too_large_for_every_window_goes_to_the_context_fallback(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, answer)
    exchange = await h.route("small", prompt_tokens=50, body_bytes=200)
    assert h.sent() == ["ok-fine"] and exchange.fallback_used
    # A small body fits without counting: the small model serves it.
    h.upstream.requests.clear()
    exchange = await h.route("small", prompt_tokens=50, body_bytes=5)
    assert h.sent() == ["ok-small"] and not exchange.fallback_used


async def test_the_breaker_opens_then_lets_one_probe_through_after_the_cooldown(
    tmp_path: Path,
) -> None:
    healthy = False

    def flaky(request: UpstreamRequest) -> FakeReply:
        if healthy:
            return answer(_renamed(request, "ok"))
        return answer(request)

    h = Harness(tmp_path, flaky)
    await h.fail("unreachable")  # two connect failures: the breaker opens
    calls = len(h.upstream.requests)
    error, exchange = await h.fail("unreachable")
    assert error.code == "no_healthy_deployment" and exchange.attempts == []
    assert len(h.upstream.requests) == calls  # benched: the upstream is not called
    (state,) = (await h.state.breaker_states(["up/down-x"], h.clock.time())).values()
    assert state.state == "open"

    h.clock.advance(10.5)  # the cooldown ends: half-open, one probe
    healthy = True
    exchange = await h.route("unreachable")
    assert tried(exchange) == [("up/down-x", 200, None)]
    (state,) = (await h.state.breaker_states(["up/down-x"], h.clock.time())).values()
    assert state.state == "closed" and state.failures == 0


async def test_the_deadline_stops_retries_that_would_outlive_it(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    request = h.request("overloaded")
    h.clock.advance(29.0)  # 1 s left of request_timeout_s = 30; Retry-After asks for 2 s
    exchange = Exchange()
    with pytest.raises(GatewayError) as caught:
        await h.router.route(request, exchange)
    assert caught.value.status == 503 and len(exchange.attempts) == 1 and h.clock.sleeps == []
    assert caught.value.headers["retry-after"] == "2"  # a 503 passes its Retry-After on


async def test_each_attempt_sends_what_its_client_prepared(tmp_path: Path) -> None:
    prepared: list[PreparedRequest] = []
    sent: list[object] = []

    class RecordingUpstream(FakeUpstream):
        def prepare(self, request: UpstreamRequest) -> PreparedRequest:
            made = super().prepare(request)
            prepared.append(made)
            return made

        async def send(
            self, request: UpstreamRequest | PreparedRequest, timeouts: UpstreamTimeouts
        ) -> FakeResponse:
            sent.append(request)
            return await super().send(request, timeouts)

    h = Harness(tmp_path, answer)
    h.upstream = RecordingUpstream(answer)
    await h.route("retry")  # two attempts: e500-a, then ok-b
    assert len(prepared) == 2 and all(a is b for a, b in zip(prepared, sent, strict=True))
    for made in prepared:  # the provider key goes to the upstream, never into a repr
        assert made.request.headers["authorization"] == "Bearer sk-upstream"
        assert "sk-upstream" not in repr(made)


def _renamed(request: UpstreamRequest, model: str) -> UpstreamRequest:
    body = dict(orjson.loads(request.body), model=model)
    return UpstreamRequest(request.method, request.url, request.headers, orjson.dumps(body))


def _with(tmp_path: Path, old: str, new: str) -> Path:
    path = tmp_path / "gateway.toml"
    path.write_text(CONFIG.replace(old, new))
    return path


async def test_a_pinned_deployment_is_the_only_one_tried_and_has_no_fallback(
    tmp_path: Path,
) -> None:
    """A Responses API follow-up (`previous_response_id`) may only go where its conversation
    is: round robin would move on to the healthy sibling, a failure would fall back."""
    h = Harness(tmp_path, answer)
    request = h.request("retry")
    request.deployment = "up/e500-a"
    exchange = Exchange()
    with pytest.raises(GatewayError) as caught:
        await h.router.route(request, exchange)
    assert caught.value.status == 502
    assert {deployment for deployment, _, _ in tried(exchange)} == {"up/e500-a"}
    request = h.request("broken")
    request.deployment = "up/e500-only"
    exchange = Exchange()
    with pytest.raises(GatewayError):
        await h.router.route(request, exchange)
    assert "ok-fine" not in h.sent() and "e500-only" in h.sent()
