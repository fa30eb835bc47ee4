"""Anthropic client -> OpenAI-compatible upstream (chat completions, on OpenAI's wire or
Azure's): the request translated (`anthropic_chat_body`, which the Responses API bridge uses
too), the answer and its stream translated back (`OpenAIToAnthropicStreamAdapter`). The
translation itself is pure and lives in the sibling modules named for their direction.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway import tokens
from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError, InvalidRequest
from gateway.providers.anthropic.adapters import parse_event
from gateway.providers.anthropic.context_edits import with_context_edits
from gateway.providers.anthropic.effort import openai_reasoning_effort
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.anthropic.requests_anthropic_to_openai import (
    anthropic_request_to_openai,
    for_openai_api,
)
from gateway.providers.anthropic.responses_openai_to_anthropic import openai_response_to_anthropic
from gateway.providers.anthropic.streams_openai_to_anthropic import OpenAIToAnthropicStream
from gateway.providers.anthropic.thinking_blocks import ThinkingDisplay
from gateway.providers.anthropic.usage import usage_from_anthropic
from gateway.providers.base import (
    PreparedCall,
    Usage,
    parse_upstream_json,
    require_objects,
    stream_cut_short,
    upstream_json,
)
from gateway.providers.openai import (
    OPENAI_WIRE,
    OpenAIWire,
    completion_tokens_field,
    for_reasoning_model,
    is_openai_api,
)
from gateway.providers.openai_usage import usage_from_openai
from gateway.providers.reasoning_history import wants_reasoning_content, with_reasoning_content
from gateway.providers.service_tiers import with_tier
from gateway.providers.thought_signatures import wants_thought_signatures, with_thought_signatures
from gateway.providers.upstream_errors import (
    error_from_upstream,
    error_of_event,
    stream_error_from_upstream,
)
from gateway.sse import SSEDecoder, encode_event


class OpenAIToAnthropicStreamAdapter:
    """OpenAI chunks from upstream -> Anthropic events for the client."""

    def __init__(
        self, model: str, input_tokens_estimate: int, thinking: ThinkingDisplay | None = None
    ) -> None:
        self._decoder = SSEDecoder()
        self._translator = OpenAIToAnthropicStream(model, input_tokens_estimate, thinking)
        self.usage: Usage | None = None
        self.text: list[str] = []
        # The upstream's usage as OpenAI reported it (reasoning tokens included), if it did.
        self._reported: Usage | None = None
        self._done = False  # `[DONE]` came

    def _encode(self, events: list[tuple[str, dict[str, Any]]]) -> list[bytes]:
        out = []
        for name, data in events:
            if name == "content_block_delta":
                delta = data.get("delta") or {}
                if delta.get("type") == "text_delta":
                    self.text.append(str(delta.get("text", "")))
            out.append(encode_event(orjson.dumps(data), name))
        return out

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            for event in self._decoder.feed(chunk):
                if event.data == b"[DONE]":
                    self._done = True
                    continue
                if event.event == "error":  # llama.cpp's `error:` line, `event: error`
                    raise stream_error_from_upstream(error_of_event(event.data), anthropic=False)
                parsed = parse_event(event.data)
                if parsed.get("error"):
                    raise stream_error_from_upstream(parsed["error"], anthropic=False)
                if parsed.get("usage") is not None:
                    reported = usage_from_openai(parsed["usage"])
                    self._reported = with_tier(reported, parsed) if reported else self._reported
                out.extend(self._encode(self._translator.feed(parsed)))
            return out
        except GatewayError as exc:  # the events before it are the client's all the same
            exc.pending = out
            raise

    def finish(self) -> list[bytes]:
        if not (self._done or self._translator.finish_reason):
            raise stream_cut_short("[DONE] or a finish_reason")
        out = self._encode(self._translator.finish())
        self.usage = self._reported or usage_from_anthropic(self._translator.usage)
        return out


def anthropic_chat_body(
    body: dict[str, Any],
    deployment: DeploymentConfig,
    reasoning_content: bool = False,
    thought_signatures: bool = False,
    reasoning_details: bool = False,
    reasons: bool | None = None,
) -> dict[str, Any]:
    """The chat body an Anthropic request is sent as to an OpenAI-format deployment (by chat
    completions, or through the Responses API): its context edits applied (`context_edits`),
    translated (TranslationError is the client's 400), the reasoning carried back when the
    upstream wants it (`reasoning_history`; the encrypted reasoning with `reasoning_details`,
    through the Responses API), its tool calls signed when it wants that
    (`thought_signatures`), and a reasoning deployment's rules applied
    (the client's effort as `reasoning_effort`; `reasons`: whether it is one, when not its
    `reasoning` setting alone says)."""
    body = with_context_edits(body)  # (a copy where it clears: the client's body stays)
    try:
        upstream = anthropic_request_to_openai(
            body, deployment.model, reasoning_content, reasoning_details
        )
    except TranslationError as exc:
        raise InvalidRequest(str(exc), param=exc.param) from None
    if reasoning_content:
        with_reasoning_content(upstream)
    if thought_signatures:
        with_thought_signatures(upstream)
    if deployment.reasoning if reasons is None else reasons:
        effort = openai_reasoning_effort(body.get("output_config"))
        if effort is not None:
            upstream["reasoning_effort"] = effort
        for_reasoning_model(upstream)
    return upstream


class AnthropicClientToOpenAI:
    """Anthropic client -> OpenAI-compatible upstream (reached as `wire` says): requests,
    responses and streams translated; the upstream's reasoning as `thinking` blocks, for the
    requests that asked to see it as `thinking` says (`thinking_blocks`)."""

    def __init__(
        self, wire: OpenAIWire = OPENAI_WIRE, thinking: ThinkingDisplay | None = None
    ) -> None:
        self.wire = wire
        self.thinking = thinking

    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        upstream = anthropic_chat_body(
            body, deployment, wants_reasoning_content(provider), wants_thought_signatures(provider)
        )
        if is_openai_api(provider):
            for_openai_api(upstream, body)
        if not deployment.reasoning and is_openai_api(provider):
            # OpenAI refuses `max_tokens` for its reasoning models (o-series, gpt-5) and takes
            # `max_completion_tokens` for all; other compatible servers may know only the first.
            completion_tokens_field(upstream)
        if not provider.stream_usage:
            upstream.pop("stream_options", None)  # the server refuses it
        url = self.wire.url(provider, deployment, "chat/completions")
        return PreparedCall(url, self.wire.headers(api_key), upstream_json(upstream, provider))

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        parsed = parse_upstream_json(data)
        require_objects(parsed, "choices")
        model = str(parsed.get("model") or "")
        converted = openai_response_to_anthropic(parsed, model, self.thinking)
        usage = with_tier(usage_from_openai(parsed.get("usage")) or Usage(), parsed)
        return orjson.dumps(converted), usage, converted

    def stream(self, body: dict[str, Any]) -> OpenAIToAnthropicStreamAdapter:
        estimate = tokens.count_messages(body.get("messages"), body.get("system"))
        model = str(body.get("model") or "")
        return OpenAIToAnthropicStreamAdapter(model, estimate, self.thinking)

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)
