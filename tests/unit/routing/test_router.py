"""The router's retries, backoff, breakers, fallbacks and pinning, with a fake upstream and a
fake clock (router_harness.py): no sockets, no sleeps."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from gateway.config import load_config
from gateway.errors import GatewayError
from gateway.routing.exchange import Exchange
from gateway.runtime import build_runtime
from gateway.upstream import (
    FakeReply,
    FakeUpstream,
    PreparedRequest,
    UpstreamRequest,
    UpstreamTimeouts,
)
from gateway.upstream.fake import FakeResponse
from tests.unit.routing.router_harness import (
    CONFIG,
    ENV,
    Harness,
    answer,
    tried,
)


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


async def test_a_prompt_the_upstream_finds_too_long_goes_to_the_context_fallback(
    tmp_path: Path,
) -> None:
    """No `context_window` configured (or an estimate that fell short): the upstream's own 400
    `context_length_exceeded` is what says the prompt does not fit."""
    too_long = orjson.dumps(
        {
            "error": {
                "message": "This model's maximum context length is 8192 tokens.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
        }
    )

    def short(request: UpstreamRequest) -> FakeReply:
        if orjson.loads(request.body)["model"] == "ok-small":
            return FakeReply(400, {}, too_long)
        return answer(request)

    h = Harness(tmp_path, short)  # "small": context_window = 10, context_window_fallbacks
    exchange = await h.route("small", prompt_tokens=5, body_bytes=5)  # fits, by the estimate
    assert h.sent() == ["ok-small", "ok-fine"] and exchange.fallback_used
    assert tried(exchange) == [
        ("up/ok-small", 400, "http_400"),
        ("up/ok-fine", 200, None),
    ]


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


async def test_every_breaker_open_answers_502_with_the_time_until_a_probe(
    tmp_path: Path,
) -> None:
    h = Harness(tmp_path, answer)
    await h.fail("unreachable")  # two connect failures: the breaker opens for 10 s
    error, _ = await h.fail("unreachable")
    assert (error.status, error.code) == (502, "no_healthy_deployment")
    assert error.headers["retry-after"] == "10" and error.headers["retry-after-ms"] == "10000"
    h.clock.advance(6.5)
    error, _ = await h.fail("unreachable")
    assert error.headers["retry-after"] == "4" and error.headers["retry-after-ms"] == "3500"


async def test_the_deadline_stops_retries_that_would_outlive_it(tmp_path: Path) -> None:
    h = Harness(tmp_path, answer)
    request = h.request("timing-out")
    h.clock.advance(29.0)  # 1 s left of request_timeout_s = 30; Retry-After asks for 2 s
    exchange = Exchange()
    with pytest.raises(GatewayError) as caught:
        await h.router.route(request, exchange)
    assert caught.value.status == 504 and len(exchange.attempts) == 1 and h.clock.sleeps == []


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


async def test_a_pinned_deployment_refused_on_content_policy_passes_the_refusal_on(
    tmp_path: Path,
) -> None:
    """No content-policy fallback either: the fallback model holds no conversation, and a
    pinned request sent there found no deployment and answered a 502."""
    h = Harness(tmp_path, answer)
    request = h.request("filtered")
    request.deployment = "up/policy-x"
    exchange = Exchange()
    with pytest.raises(GatewayError) as caught:
        await h.router.route(request, exchange)
    assert caught.value.status == 400 and caught.value.code == "content_policy_violation"
    assert h.sent() == ["policy-x"]


SIBLING = """[[models.deployments]]
provider = "up"
model = "e429slow-x"
"""


async def test_a_pinned_deployment_rate_limited_says_when_to_come_back(tmp_path: Path) -> None:
    """The upstream's 429, then the bench it started: both with Retry-After, as unpinned; the
    wait is the pinned deployment's own, not a shorter one of a sibling it may not use."""
    h = Harness(tmp_path, answer)
    (tmp_path / "gateway.toml").write_text(
        CONFIG.replace('model = "e429-x"\n', 'model = "e429-x"\n' + SIBLING, 1)
    )
    h.runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=ENV), env=ENV)

    async def pinned() -> GatewayError:
        request = h.request("limited")
        request.deployment = "up/e429slow-x"
        with pytest.raises(GatewayError) as caught:
            await h.router.route(request, Exchange())
        return caught.value

    for error in [await pinned(), await pinned()]:  # the upstream's 429, then its bench
        assert error.status == 429
        assert (error.headers["retry-after"], error.headers["retry-after-ms"]) == ("30", "30000")
    assert h.sent() == ["e429slow-x"]
    with pytest.raises(GatewayError):  # the sibling is benched for 2 s
        await h.router.route(h.request("limited"), Exchange())
    assert h.sent() == ["e429slow-x", "e429-x"]
    assert (await pinned()).headers["retry-after"] == "30"


async def test_a_deployment_whose_upstream_lacks_the_model_is_left_for_the_fallback(
    tmp_path: Path,
) -> None:
    """Ollama's 404 for a model it has not pulled: the deployment's configuration, not the
    client's request. The next deployment or fallback is tried, the same one never again."""
    missing = orjson.dumps(
        {
            "error": {
                "message": 'model "llama3.3:70b" not found, try pulling it first',
                "type": "api_error",
                "param": None,
                "code": None,
            }
        }
    )

    def unpulled(request: UpstreamRequest) -> FakeReply:
        if orjson.loads(request.body)["model"] in ("e500-only", "e429-x"):
            return FakeReply(404, {}, missing)
        return answer(request)

    h = Harness(tmp_path, unpulled)  # "broken": one deployment, fallbacks = ["fine"]
    exchange = await h.route("broken")
    assert tried(exchange) == [("up/e500-only", 404, "http_404"), ("up/ok-fine", 200, None)]
    assert exchange.fallback_used and h.clock.sleeps == []
    # Benched for [routing] missing_model_cooldown_s (60 s): later requests go straight to the
    # fallback instead of paying a round trip each; no breaker fault is counted.
    h.clock.advance(59.0)
    exchange = await h.route("broken")
    assert tried(exchange) == [("up/ok-fine", 200, None)] and exchange.fallback_used
    states = await h.state.breaker_states(["up/e500-only"], h.clock.time())
    assert states["up/e500-only"].state == "closed" and states["up/e500-only"].failures == 0
    h.clock.advance(1.0)  # the model may have been pulled meanwhile: asked again
    exchange = await h.route("broken")
    assert [a.deployment for a in exchange.attempts] == ["up/e500-only", "up/ok-fine"]
    # With nothing else to try ("limited": one deployment, no fallback), the client gets the
    # 404 again, at once, with no call made and no Retry-After (it is no rate limit).
    await h.fail("limited")
    calls = len(h.sent())
    error, exchange = await h.fail("limited")
    assert len(h.sent()) == calls and exchange.attempts == []
    assert error.status == 404 and "try pulling it first" in error.message
    assert "retry-after" not in error.headers
