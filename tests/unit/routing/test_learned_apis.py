"""A deployment on `api = "auto"` whose chat completions say, in OpenAI's words, to use the
Responses API is asked again there at once, and its next such requests go there first. The
upstream is the mock provider, in process, which refuses gpt-5.6's function tools with
reasoning on chat completions and a codex model's chat completions as OpenAI does."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError, UpstreamRejected
from gateway.mock_provider.handler import MockHandler
from gateway.mock_provider.inprocess import InProcessMockUpstream
from gateway.providers import EndpointKind
from gateway.providers.responses.responses_only import CHAT_REFUSAL
from gateway.routing.exchange import Exchange
from gateway.routing.learned_apis import LearnedApis, responses_only
from gateway.upstream import (
    FakeReply,
    FakeUpstream,
    PreparedRequest,
    UpstreamClient,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeouts,
    request_of,
)
from tests.unit.routing.router_harness import ConfiguredRouter, responses_answer

CONFIG = """
[routing]
max_attempts = 1

[[providers]]
name = "oai"
type = "openai"
base_url = "http://mock.invalid/v1"
responses = true

[[models]]
name = "sol"
[[models.deployments]]
provider = "oai"
model = "gpt-5.6-sol"
reasoning = true

[[models]]
name = "sol-as-chat"
[[models.deployments]]
provider = "oai"
model = "gpt-5.6-sol"
api = "chat"

[[models]]
name = "sol-again"
[[models.deployments]]
provider = "oai"
model = "gpt-5.6-sol"

[[models]]
name = "coder"
[[models.deployments]]
provider = "oai"
model = "gpt-5.1-codex"
api = "chat"

[[models]]
name = "coder-prod"
[[models.deployments]]
provider = "oai"
model = "coder-prod-7"
"""
# An Azure-style deployment named freely, serving a codex model: OpenAI's 404 on chat.
CODEX_ON_CHAT = orjson.dumps(
    {
        "error": {
            "message": CHAT_REFUSAL,
            "type": "invalid_request_error",
            "param": "model",
            "code": None,
        }
    }
)
RESPONSE = responses_answer("coder-prod-7")
TOOL = {
    "type": "function",
    "function": {"name": "read_file", "parameters": {"type": "object", "properties": {}}},
}


class Recording:
    """An upstream client (the in-process mock by default) keeping the path of every request."""

    def __init__(self, inner: UpstreamClient) -> None:
        self.inner = inner
        self.paths: list[str] = []

    def prepare(self, request: UpstreamRequest) -> PreparedRequest:
        return self.inner.prepare(request)

    async def send(
        self, request: UpstreamRequest | PreparedRequest, timeouts: UpstreamTimeouts
    ) -> UpstreamResponse:
        self.paths.append(request_of(request).url.removeprefix("http://mock.invalid"))
        return await self.inner.send(request, timeouts)

    async def aclose(self) -> None:
        await self.inner.aclose()


class Routed(ConfiguredRouter):
    def __init__(self, tmp_path: Path, upstream: UpstreamClient | None = None) -> None:
        self.upstream = Recording(upstream or InProcessMockUpstream(MockHandler()))
        super().__init__(tmp_path, CONFIG, self.upstream)

    async def ask(self, model: str, kind: EndpointKind = "chat", **fields: Any) -> Exchange:
        body = {"model": model, "messages": [{"role": "user", "content": "Read it."}], **fields}
        return await self.route(body, kind)

    def sent(self) -> list[str]:
        paths, self.upstream.paths = self.upstream.paths, []
        return paths


THINKING_TOOLS: dict[str, Any] = {"tools": [TOOL], "reasoning_effort": "high"}


async def test_tools_with_reasoning_go_through_the_responses_api_once_the_upstream_said_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    routed = Routed(tmp_path)
    with caplog.at_level(logging.INFO, "gateway.routing"):
        exchange = await routed.ask("sol", **THINKING_TOOLS)
    assert routed.sent() == ["/v1/chat/completions", "/v1/responses"]
    assert [(a.status, a.error_kind) for a in exchange.attempts] == [(400, "http_400"), (200, None)]
    assert exchange.json is not None and exchange.json["choices"][0]["message"]["tool_calls"]
    assert "chat requests with tools go through the Responses API" in caplog.text
    await routed.ask("sol", **THINKING_TOOLS)
    assert routed.sent() == ["/v1/responses"]  # learned: straight there
    await routed.ask("sol")
    assert routed.sent() == ["/v1/chat/completions"]  # without tools: chat, as before


async def test_a_model_served_there_only_goes_there_for_every_chat_request(tmp_path: Path) -> None:
    """A deployment's own name says nothing (Azure's are free-form); the upstream's 404 does."""

    def coder(request: UpstreamRequest) -> FakeReply:
        if request.url.endswith("/chat/completions"):
            return FakeReply(404, {}, CODEX_ON_CHAT)
        return FakeReply(200, {}, RESPONSE)

    routed = Routed(tmp_path, FakeUpstream(coder))
    exchange = await routed.ask("coder-prod")
    assert routed.sent() == ["/v1/chat/completions", "/v1/responses"]
    assert exchange.json is not None
    assert exchange.json["choices"][0]["message"]["content"] == "Done."
    await routed.ask("coder-prod")  # no tools: every chat request goes there now
    assert routed.sent() == ["/v1/responses"]


async def test_a_deployment_that_says_chat_gets_the_upstreams_refusal(tmp_path: Path) -> None:
    routed = Routed(tmp_path)
    with pytest.raises(GatewayError) as refused:
        await routed.ask("sol-as-chat", **THINKING_TOOLS)
    assert refused.value.status == 400 and "Please use /v1/responses" in refused.value.message
    assert routed.sent() == ["/v1/chat/completions"]
    with pytest.raises(GatewayError) as codex:
        await routed.ask("coder")
    assert codex.value.status == 404 and routed.sent() == ["/v1/chat/completions"]


async def test_what_is_learned_of_a_model_holds_for_its_other_deployments(tmp_path: Path) -> None:
    """The (provider, model) is what was learned about, not the deployment: another model
    group's deployment of it on `auto` goes there at once; one that says `chat` does not."""
    routed = Routed(tmp_path)
    await routed.ask("sol", **THINKING_TOOLS)
    routed.sent()
    await routed.ask("sol-again", **THINKING_TOOLS)
    assert routed.sent() == ["/v1/responses"]
    with pytest.raises(GatewayError):
        await routed.ask("sol-as-chat", **THINKING_TOOLS)
    assert routed.sent() == ["/v1/chat/completions"]


@pytest.mark.parametrize(
    ("message", "learned"),
    [
        (
            "Function tools with reasoning_effort are not supported for gpt-5.6-sol in "
            "/v1/chat/completions. Please use /v1/responses instead.",
            True,
        ),
        (
            "Function tools with reasoning_effort are not supported in /v1/chat/completions. "
            "Please use /v1/responses instead.",
            True,
        ),
        (
            "Function tools with reasoning_effort are not supported for gpt-6-sol in "
            "/v1/chat/completions. To use function tools, use /v1/responses or set "
            "reasoning_effort to 'none'.",
            True,
        ),
        (CHAT_REFUSAL, True),
        # An error quoting what a client sent must not move a deployment others share.
        ("Invalid value: 'Please use /v1/responses instead.'", False),
        (f"Invalid 'user': {CHAT_REFUSAL}", False),
    ],
)
def test_only_openais_own_words_are_learned_from(message: str, learned: bool) -> None:
    deployment = DeploymentConfig(provider="oai", model="gpt-5.6-sol")
    scope = responses_only(deployment, "chat", UpstreamRejected(400, message))
    assert (scope is not None) is learned
    assert responses_only(deployment, "embeddings", UpstreamRejected(400, message)) is None
    says_chat = DeploymentConfig(provider="oai", model="x", api="chat")
    assert responses_only(says_chat, "chat", UpstreamRejected(400, message)) is None
    apis = LearnedApis()
    if scope is not None:
        apis.commit(deployment, scope)
    expected = "responses" if learned else None
    assert apis.api(deployment, "chat", {"tools": [TOOL]}) == expected


async def test_an_anthropic_client_goes_there_too(tmp_path: Path) -> None:
    """Claude Code on gpt-5.6 (a `reasoning` deployment, which sends its effort): its tools
    with the effort are refused on chat completions alike."""
    routed = Routed(tmp_path)
    claude_code: dict[str, Any] = {
        "max_tokens": 200,
        "tools": [{"name": "read_file", "input_schema": {"type": "object", "properties": {}}}],
        "output_config": {"effort": "high"},
    }
    exchange = await routed.ask("sol", "messages", **claude_code)
    assert routed.sent() == ["/v1/chat/completions", "/v1/responses"]
    assert exchange.json is not None and exchange.json["type"] == "message"
    await routed.ask("sol", "messages", **claude_code)
    assert routed.sent() == ["/v1/responses"]
