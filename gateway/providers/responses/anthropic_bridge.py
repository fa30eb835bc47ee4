"""`AnthropicThroughResponses`: an Anthropic client (`/v1/messages`: Claude Code, the anthropic
SDK) of a deployment with `api = "responses"`, served through its upstream's Responses API.

Two translations the gateway has, one after the other: Messages -> chat completions (the one an
Anthropic client of any OpenAI-format deployment goes through) -> Responses
(`chat_bridge`'s), and back: a response -> a chat completion -> a Messages answer; a stream's
events -> chat chunks -> Messages events, chunk by chunk as they come.

A request that turned thinking on (`thinking_blocks`) gets the reasoning model's summaries as
`thinking` blocks, each carrying its encrypted reasoning in its `signature` (Claude Code sends
the blocks back as they came): the next request of the tool loop gives the model its earlier
thought back (`chat_bridge`), as Claude's signed blocks do for Claude.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from gateway import tokens
from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError
from gateway.providers.anthropic.client_to_openai import (
    OpenAIToAnthropicStreamAdapter,
    anthropic_chat_body,
)
from gateway.providers.anthropic.requests_anthropic_to_openai import for_openai_api
from gateway.providers.anthropic.responses_openai_to_anthropic import openai_response_to_anthropic
from gateway.providers.anthropic.thinking_blocks import ThinkingDisplay
from gateway.providers.base import PreparedCall, Usage
from gateway.providers.openai import is_openai_api
from gateway.providers.responses.chat_bridge import ChatThroughResponses, reasoning_deployment
from gateway.providers.responses.streams_responses_to_chat import ResponsesToChatStream


class AnthropicThroughResponsesStream:
    """Responses events -> chat chunks -> Anthropic events."""

    def __init__(
        self,
        model: str,
        input_tokens_estimate: int,
        origin: str = "",
        thinking: ThinkingDisplay | None = None,
    ) -> None:
        self._to_chat = ResponsesToChatStream(include_usage=True, origin=origin, searches=True)
        self._to_anthropic = OpenAIToAnthropicStreamAdapter(model, input_tokens_estimate, thinking)
        self.usage: Usage | None = None  # once the stream ended

    @property
    def text(self) -> list[str]:
        return self._to_anthropic.text

    def written_text(self) -> str:
        """The answer's text and tool-call input so far (`WritesText`)."""
        return self._to_chat.written_text()

    def _relay(self, chat: Sequence[bytes]) -> list[bytes]:
        return self._to_anthropic.feed(b"".join(chat)) if chat else []

    def feed(self, chunk: bytes) -> list[bytes]:
        try:
            chat = self._to_chat.feed(chunk)
        except GatewayError as exc:  # what came before the failure, in the client's format
            exc.pending = self._relay(exc.pending)
            raise
        return self._relay(chat)

    def finish(self) -> list[bytes]:
        out = self._relay(self._to_chat.finish())
        out += self._to_anthropic.finish()
        self.usage = self._to_anthropic.usage
        if self.usage is not None and self._to_chat.usage is not None:
            self.usage.web_searches = self._to_chat.usage.web_searches  # (chat has no count)
        return out


class AnthropicThroughResponses(ChatThroughResponses):
    """An Anthropic client and a deployment served through the Responses API; `thinking`: how
    the request asked to see the model's thinking (`thinking_display`)."""

    def __init__(self, origin: str = "", thinking: ThinkingDisplay | None = None) -> None:
        super().__init__(origin)
        self.thinking = thinking

    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        reasons = reasoning_deployment(deployment)
        chat = anthropic_chat_body(body, deployment, reasoning_details=True, reasons=reasons)
        if is_openai_api(provider):
            for_openai_api(chat, body)
        return self._call(chat, deployment, provider, api_key, self.thinking == "shown")

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        chat, usage = self._answer(data, searches=True)
        model = str(chat.get("model") or "")
        converted = openai_response_to_anthropic(chat, model, self.thinking)
        return orjson.dumps(converted), usage, converted

    def stream(self, body: dict[str, Any]) -> AnthropicThroughResponsesStream:
        estimate = tokens.count_messages(body.get("messages"), body.get("system"))
        model = str(body.get("model") or "")
        return AnthropicThroughResponsesStream(model, estimate, self.origin, self.thinking)
