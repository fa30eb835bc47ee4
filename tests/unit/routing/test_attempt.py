"""One attempt: the provider's static headers, secret headers and query go out, and the
transport's own failures (redirect, oversize body, untrusted TLS) reach the client with their
codes."""

from __future__ import annotations

import random
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
from gateway.runtime import build_runtime
from gateway.state import MemoryState
from gateway.upstream import FakeReply, FakeUpstream, UpstreamRequest
from gateway.upstream.base import (
    UpstreamError,
    UpstreamRedirect,
    UpstreamTLSError,
    UpstreamTooLarge,
)

CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "up"
type = "openai"
base_url = "http://upstream.invalid/v1?tenant=t1"
api_key_env = "UP_KEY"
headers = { "X-Org" = "blue", Authorization = "Bearer override" }
query = { region = "eu" }
headers_env = { "Ocp-Apim-Subscription-Key" = "APIM_KEY" }

[[models]]
name = "m"
[[models.deployments]]
provider = "up"
model = "answer"
"""
ANSWER = orjson.dumps({"choices": [], "usage": {"prompt_tokens": 1, "completion_tokens": 1}})


async def route(tmp_path: Path, upstream: FakeUpstream) -> Exchange:
    (tmp_path / "gateway.toml").write_text(CONFIG)
    env = {"UP_KEY": "sk-upstream", "APIM_KEY": "apim-subscription-0123"}
    runtime = build_runtime(load_config(tmp_path / "gateway.toml", env=env), env=env)
    clock = FakeClock()
    state, stats, metrics = MemoryState(), DeploymentStats(), Metrics()
    router = Router(state, stats, metrics, lambda p: upstream, clock, random.Random())
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    request = RouteRequest(
        runtime=runtime,
        kind="chat",
        body=body,
        model=runtime.config.models["m"],
        stream=False,
        key_id="k",
        started=clock.monotonic(),
        body_bytes=10,
        prompt_tokens=lambda: 1,
    )
    exchange = Exchange()
    await router.route(request, exchange)
    return exchange


async def test_static_headers_and_query_go_out_with_every_request(tmp_path: Path) -> None:
    upstream = FakeUpstream(lambda request: FakeReply(200, {}, ANSWER))
    await route(tmp_path, upstream)
    sent: UpstreamRequest = upstream.requests[0]
    assert sent.url == "http://upstream.invalid/v1/chat/completions?tenant=t1&region=eu"
    assert sent.headers["x-org"] == "blue"
    assert sent.headers["authorization"] == "Bearer override"  # the config wins, one header
    assert "Authorization" not in sent.headers
    assert sent.headers["ocp-apim-subscription-key"] == "apim-subscription-0123"


@pytest.mark.parametrize(
    ("raised", "code", "shown"),
    [
        (UpstreamRedirect(302, "https://login.test/sso?t=1"), "upstream_redirect", "login.test"),
        (UpstreamTooLarge(1024), "upstream_response_too_large", "1024"),
        (UpstreamTLSError("certificate not trusted"), "upstream_tls_error", "not trusted"),
    ],
)
async def test_transport_failures_keep_their_code(
    tmp_path: Path, raised: Exception, code: str, shown: str
) -> None:
    def fail(request: UpstreamRequest) -> FakeReply:
        raise raised

    with pytest.raises(GatewayError) as caught:
        await route(tmp_path, FakeUpstream(fail))
    assert caught.value.status == 502 and caught.value.code == code
    assert shown in caught.value.message


@pytest.mark.parametrize(
    ("status", "failure"),
    [
        (429, UpstreamError("protocol", "upstream sent a malformed compressed body")),
        (400, UpstreamTooLarge(1024)),
    ],
)
async def test_an_error_answer_keeps_its_status_when_its_body_is_unreadable(
    tmp_path: Path, status: int, failure: UpstreamError
) -> None:
    """A 429 whose body is corrupt gzip is still a rate limit (with its Retry-After), not a
    502: the status says what happened, the body only adds the provider's words."""
    upstream = FakeUpstream(
        lambda request: FakeReply(status, {"retry-after": "7"}, [b'{"error": ', failure])
    )
    with pytest.raises(GatewayError) as caught:
        await route(tmp_path, upstream)
    assert caught.value.status == status
    assert f"answered status {status}" in caught.value.message
    assert f"its body could not be read: {failure.kind}" in caught.value.message


OUT_OF_TOKENS = orjson.dumps(
    {
        "error": {
            "message": "Could not finish the message because max_tokens or model output limit "
            "was reached. Please try again with higher max_tokens.",
            "type": "invalid_request_error",
            "param": None,
            "code": None,
        }
    }
)


async def test_a_reasoning_models_limit_spent_thinking_is_the_answer_it_cut(
    tmp_path: Path,
) -> None:
    upstream = FakeUpstream(lambda request: FakeReply(400, {}, OUT_OF_TOKENS))
    exchange = await route(tmp_path, upstream)
    assert exchange.json is not None
    [choice] = exchange.json["choices"]
    assert choice == {
        "index": 0,
        "message": {"role": "assistant", "content": ""},
        "finish_reason": "length",
    }
    assert [a.status for a in exchange.attempts] == [400]  # the upstream's, kept
    assert exchange.usage is not None and not exchange.usage.reported  # the gateway counts


async def test_another_400_stays_the_clients_error(tmp_path: Path) -> None:
    other = OUT_OF_TOKENS.replace(b"Could not finish the message", b"Could not read the message")
    with pytest.raises(GatewayError) as refused:
        await route(tmp_path, FakeUpstream(lambda request: FakeReply(400, {}, other)))
    assert refused.value.status == 400
