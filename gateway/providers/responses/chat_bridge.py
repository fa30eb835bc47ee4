"""`ChatThroughResponses`: a chat completions client of a deployment with `api = "responses"`,
served through its upstream's Responses API (`requests_chat_to_responses`,
`responses_responses_to_chat`, `streams_responses_to_chat`).

Some models are served by the Responses API only (the codex and pro models), others take
function tools with reasoning only there (gpt-5.6: "Function tools with reasoning_effort are
not supported in /v1/chat/completions. Please use /v1/responses instead."); the chat clients of
such a deployment are answered all the same. A reasoning deployment's request is first given
what its model takes (`for_reasoning_model`), then translated.

A reasoning model's encrypted reasoning is asked for (`include`; the request keeps nothing
upstream, `store: false`) and comes back on the answer as `reasoning_details`, sealed with the
deployment (`origin`: `chat_reasoning`); a client that sends the message back (the openai SDK's
`model_dump()`) has it go back to that deployment, so the model goes on from its thought in a
tool loop, as OpenAI advises for stateless requests. One adapter per request: it knows its
deployment's origin.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError, InvalidRequest
from gateway.json_types import JSON
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.azure import openai_wire_for
from gateway.providers.base import (
    PreparedCall,
    StreamConverter,
    Usage,
    client_wants_usage,
    parse_upstream_json,
    upstream_json,
)
from gateway.providers.openai import for_reasoning_model
from gateway.providers.responses.objects import usage_from_responses, usage_with_searches
from gateway.providers.responses.requests_chat_to_responses import chat_request_to_responses
from gateway.providers.responses.responses_only import responses_only_model
from gateway.providers.responses.responses_responses_to_chat import responses_response_to_chat
from gateway.providers.responses.stream_passthrough import response_failure
from gateway.providers.responses.streams_responses_to_chat import ResponsesToChatStream
from gateway.providers.service_tiers import with_tier
from gateway.providers.upstream_errors import error_from_upstream


def reasoning_deployment(deployment: DeploymentConfig) -> bool:
    """Whether a deployment served through the Responses API reasons: `reasoning = true`, or a
    model OpenAI serves there only (the codex and pro models all reason)."""
    return deployment.reasoning or responses_only_model(deployment.model)


class ChatThroughResponses:
    """A chat client and a deployment served through the Responses API: translated both ways;
    `origin`: the deployment's (`chat_reasoning.reasoning_origin`)."""

    def __init__(self, origin: str = "") -> None:
        self.origin = origin

    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        chat = dict(body)
        if reasoning_deployment(deployment):
            for_reasoning_model(chat)
        return self._call(chat, deployment, provider, api_key)

    def _call(
        self,
        chat: JSON,
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
        summaries: bool = False,
    ) -> PreparedCall:
        """The Responses call asking what the chat body `chat` asks (`summaries`: the
        reasoning's too)."""
        wire = openai_wire_for(provider)
        reasons = reasoning_deployment(deployment)
        model = wire.model(provider, deployment)
        try:
            upstream = chat_request_to_responses(chat, model, reasons, summaries, self.origin)
        except TranslationError as exc:
            raise InvalidRequest(str(exc), param=exc.param) from None
        url = wire.url(provider, deployment, "responses")
        return PreparedCall(url, wire.headers(api_key), upstream_json(upstream, provider))

    def _answer(self, data: bytes, searches: bool = False) -> tuple[JSON, Usage]:
        """The upstream's answer as a chat completion (`searches`: with its web searches, for
        the Anthropic bridge), and its usage (a failed response is the failure it reports)."""
        parsed = parse_upstream_json(data)
        failure = response_failure(parsed)
        if failure is not None:
            raise failure
        usage = usage_with_searches(usage_from_responses(parsed.get("usage")) or Usage(), parsed)
        return responses_response_to_chat(parsed, self.origin, searches), with_tier(usage, parsed)

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        chat, usage = self._answer(data)
        return orjson.dumps(chat), usage, chat

    def stream(self, body: dict[str, Any]) -> StreamConverter:
        return ResponsesToChatStream(client_wants_usage(body), self.origin)

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)
