"""Pick the adapter for (endpoint, provider type): one place that knows every pairing."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, Literal

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentApi
from gateway.errors import InvalidRequest
from gateway.providers.anthropic.adapters import AnthropicMessagesAdapter, OpenAIClientToAnthropic
from gateway.providers.anthropic.client_to_openai import AnthropicClientToOpenAI
from gateway.providers.anthropic.count_tokens import AnthropicCountTokensAdapter
from gateway.providers.anthropic.structured_output import structured_output_tool
from gateway.providers.anthropic.thinking_blocks import ThinkingDisplay, thinking_display
from gateway.providers.anthropic.web_search import asks_web_search
from gateway.providers.azure import AZURE_CHAT, AZURE_EMBEDDINGS, AZURE_WIRE
from gateway.providers.base import Adapter, PreparedCall, StreamConverter, Usage, innermost
from gateway.providers.chat_reasoning import reasoning_origin
from gateway.providers.checked import CheckedAdapter
from gateway.providers.openai import (
    OPENAI_WIRE,
    OpenAIChatAdapter,
    OpenAICompletionsAdapter,
    OpenAIEmbeddingsAdapter,
    is_openai_api,
)
from gateway.providers.responses.adapters import (
    COMPACT_OPERATION,
    Compaction,
    ResponsesPassthrough,
    ResponsesToAnthropic,
    ResponsesToChat,
)
from gateway.providers.responses.anthropic_bridge import AnthropicThroughResponses
from gateway.providers.responses.chat_bridge import ChatThroughResponses
from gateway.providers.responses.compaction import compaction_requested
from gateway.providers.responses.input_tokens import INPUT_TOKENS_OPERATION
from gateway.providers.responses.responses_only import responses_only_model
from gateway.providers.responses.stream_passthrough import response_failure

EndpointKind = Literal["chat", "messages", "embeddings", "responses", "completions", "count_tokens"]
MOCK_BASE_URLS = {"openai": "mock://local/v1", "anthropic": "mock://local"}
_ANTHROPIC_KINDS = ("messages", "count_tokens")
# What only OpenAI-format upstreams serve: Anthropic's API has neither, and nothing to
# translate them to. The router sends them to a model's other deployments only.
OPENAI_ONLY_KINDS: frozenset[str] = frozenset({"embeddings", "completions"})
_OPENAI_ONLY_NAMES = {"embeddings": "embeddings", "completions": "legacy completions"}


def serves_openai_only(provider: ProviderConfig) -> bool:
    """Whether `provider` serves `OPENAI_ONLY_KINDS` (every type but `anthropic`)."""
    return provider.type != "anthropic"


def unserved(model: str, kind: EndpointKind) -> InvalidRequest:
    """The 400 of an `OPENAI_ONLY_KINDS` request to a model none of whose deployments serve it."""
    hint = ": use /v1/chat/completions" if kind == "completions" else ""
    return InvalidRequest(
        f"the model '{model}' has no deployment that serves {_OPENAI_ONLY_NAMES[kind]} "
        f"(its deployments are on Anthropic providers, whose API has none){hint}",
        param="model",
    )


_OPENAI_CHAT = OpenAIChatAdapter()
_THINKING_DISPLAYS: tuple[ThinkingDisplay | None, ...] = (None, "shown", "omitted")
_OPENAI_EMBEDDINGS = OpenAIEmbeddingsAdapter()
# By how the request asked to see the model's thinking (`thinking_display`).
_ANTHROPIC_TO_OPENAI = {
    display: AnthropicClientToOpenAI(OPENAI_WIRE, display) for display in _THINKING_DISPLAYS
}
_ANTHROPIC_TO_AZURE = {
    display: AnthropicClientToOpenAI(AZURE_WIRE, display) for display in _THINKING_DISPLAYS
}
_ANTHROPIC_PASSTHROUGH = AnthropicMessagesAdapter()
_RESPONSES_PASSTHROUGH = ResponsesPassthrough()
_RESPONSES_COMPACT = ResponsesPassthrough(COMPACT_OPERATION)
_RESPONSES_INPUT_TOKENS = ResponsesPassthrough(INPUT_TOKENS_OPERATION)
_OPENAI_COMPLETIONS = OpenAICompletionsAdapter()
_AZURE_COMPLETIONS = OpenAICompletionsAdapter(AZURE_WIRE)
_ANTHROPIC_COUNT_TOKENS = AnthropicCountTokensAdapter()


def wire_provider(provider: ProviderConfig, kind: EndpointKind) -> ProviderConfig:
    """The in-process mock speaks whichever format the client does, so nothing is translated."""
    return provider if provider.type != "mock" else _mock_wire(provider, kind)


@functools.lru_cache(maxsize=256)
def _mock_wire(provider: ProviderConfig, kind: EndpointKind) -> ProviderConfig:
    wire: Literal["openai", "anthropic"] = "anthropic" if kind in _ANTHROPIC_KINDS else "openai"
    return dataclasses.replace(
        provider,
        type=wire,
        base_url=MOCK_BASE_URLS[wire],
        responses=provider.responses is not False,
    )


def speaks_responses(provider: ProviderConfig) -> bool:
    """Whether the upstream serves the Responses API itself: the `responses` flag of an OpenAI
    type provider, or, unset, whether it is OpenAI's own API; of an Azure one (unset: no, an
    older api-version or region has none); the in-process mock does too."""
    if provider.type == "mock":
        return provider.responses is not False
    if provider.type == "azure":
        return provider.responses is True
    if provider.type != "openai":
        return False
    if provider.responses is not None:
        return provider.responses
    return is_openai_api(provider)


def compacts_upstream(provider: ProviderConfig) -> bool:
    """Whether `provider`'s server compacts a conversation itself (`/responses/compact`, a
    `compaction_trigger` input): its `compaction` setting, or, unset, OpenAI's own API and
    Azure's with the Responses API; other Responses servers (vLLM, Ollama, ...) answer a trigger
    as any input and have no compact route, so the gateway compacts for them."""
    if not speaks_responses(provider):
        return False
    if provider.compaction is not None:
        return provider.compaction == "upstream"
    return provider.type == "azure" or is_openai_api(provider)


def adapter_for(
    kind: EndpointKind,
    provider: ProviderConfig,
    anthropic_beta: str | None = None,
    body: dict[str, Any] | None = None,
    api: DeploymentApi = "chat",
    model: str = "",
    operation: str = "",
) -> Adapter:
    """The adapter serving `kind` from `provider`; `body` (the request) is needed by the
    Responses translations, which echo its fields, and by a chat request's structured output
    on Anthropic; `api` and `model`, the deployment's: chat and Anthropic clients are served
    through the Responses API when it says "responses", or "auto" for a model OpenAI serves
    there only, from a provider that speaks it. Behind CheckedAdapter: whatever an upstream
    sends, a translator's failure is a 502 `upstream_malformed`, never a bare 500. `operation`
    `responses/compact` (a Responses request's compaction) is passed through to upstreams that
    speak the Responses API, and made by the gateway for the others (`compaction`), as is a
    `/v1/responses` request whose input ends with a `compaction_trigger` item;
    `responses/input_tokens` (a count) is passed through to upstreams that speak it."""
    if operation == COMPACT_OPERATION:
        if kind != "responses":
            raise InvalidRequest("a compaction is a Responses API request")
        if compacts_upstream(provider):
            return CheckedAdapter(_RESPONSES_COMPACT)
        if speaks_responses(provider):
            return CheckedAdapter(ResponsesPassthrough("responses", "endpoint", body))
        compacting = _translated_responses(provider)
        return CheckedAdapter(compacting(body or {}, "endpoint"))
    if operation == INPUT_TOKENS_OPERATION:  # (routed only to those that count: the others
        if kind != "responses" or not speaks_responses(provider):  # are estimated before)
            raise InvalidRequest(f"provider '{provider.name}' does not count Responses tokens")
        return CheckedAdapter(_RESPONSES_INPUT_TOKENS)
    if kind in ("chat", "messages") and _through_responses(api, provider, model, kind, body):
        # One per request: it seals the model's encrypted reasoning with the deployment.
        origin = reasoning_origin(provider.name, model)
        if kind == "chat":
            return CheckedAdapter(ChatThroughResponses(origin))
        display = thinking_display(body) if body is not None else None
        return CheckedAdapter(AnthropicThroughResponses(origin, display))
    if kind == "chat" and provider.type == "anthropic":
        # One per request: it seals Claude's thinking blocks with the deployment. A structured
        # output is a forced tool there, whose input is the answer's text.
        structured = body is not None and structured_output_tool(body) is not None
        origin = reasoning_origin(provider.name, model)
        return CheckedAdapter(OpenAIClientToAnthropic(structured, origin))
    return CheckedAdapter(_adapter(kind, provider, anthropic_beta, body, model))


def _through_responses(
    api: DeploymentApi,
    provider: ProviderConfig,
    model: str,
    kind: EndpointKind,
    body: dict[str, Any] | None,
) -> bool:
    """Whether a chat or Anthropic client is served through the Responses API: `api` says
    so, or, on "auto", from a provider that speaks it, for a model OpenAI serves there only or
    an Anthropic client's web search (`anthropic.web_search`; the request's tools are read
    only then, never for an Anthropic upstream)."""
    if api == "chat" or provider.type == "anthropic":
        return False
    if api == "responses":
        return True
    if not speaks_responses(provider):
        return False
    return responses_only_model(model) or (kind == "messages" and asks_web_search(body))


def _translated_responses(provider: ProviderConfig) -> type[ResponsesToChat]:
    """The translation serving Responses requests from `provider`, which does not speak it."""
    return ResponsesToAnthropic if provider.type == "anthropic" else ResponsesToChat


def _adapter(
    kind: EndpointKind,
    provider: ProviderConfig,
    anthropic_beta: str | None,
    body: dict[str, Any] | None,
    model: str,
) -> Adapter:
    upstream = provider.type
    if kind == "responses":
        request = body or {}
        trigger: Compaction | None = "trigger" if compaction_requested(request) else None
        if speaks_responses(provider):
            if trigger is None or compacts_upstream(provider):
                return _RESPONSES_PASSTHROUGH
            return ResponsesPassthrough("responses", trigger, request)
        # One per request: Claude's thinking blocks are sealed with the deployment.
        origin = reasoning_origin(provider.name, model) if upstream == "anthropic" else ""
        return _translated_responses(provider)(request, trigger, origin)
    if kind == "embeddings":
        if upstream == "anthropic":
            raise InvalidRequest(
                f"provider '{provider.name}' ({upstream}) does not serve embeddings"
            )
        return AZURE_EMBEDDINGS if upstream == "azure" else _OPENAI_EMBEDDINGS
    if kind == "chat":
        return AZURE_CHAT if upstream == "azure" else _OPENAI_CHAT
    if kind == "completions":
        if upstream == "anthropic":
            raise InvalidRequest(
                f"provider '{provider.name}' ({upstream}) does not serve legacy completions: "
                "use /v1/chat/completions"
            )
        return _AZURE_COMPLETIONS if upstream == "azure" else _OPENAI_COMPLETIONS
    if kind == "count_tokens":
        if upstream != "anthropic":
            raise InvalidRequest(f"provider '{provider.name}' ({upstream}) does not count tokens")
        if anthropic_beta:
            return AnthropicCountTokensAdapter({"anthropic-beta": anthropic_beta})
        return _ANTHROPIC_COUNT_TOKENS
    if upstream == "anthropic":
        if anthropic_beta:
            return AnthropicMessagesAdapter({"anthropic-beta": anthropic_beta})
        return _ANTHROPIC_PASSTHROUGH
    display = thinking_display(body) if body is not None else None
    return (_ANTHROPIC_TO_AZURE if upstream == "azure" else _ANTHROPIC_TO_OPENAI)[display]


__all__ = [
    "OPENAI_ONLY_KINDS",
    "Adapter",
    "EndpointKind",
    "PreparedCall",
    "StreamConverter",
    "Usage",
    "adapter_for",
    "compacts_upstream",
    "innermost",
    "response_failure",
    "serves_openai_only",
    "speaks_responses",
    "unserved",
    "wire_provider",
]
