"""OpenAI-compatible upstreams (OpenAI, vLLM, Ollama, TGI, LM Studio, ...) for OpenAI clients.

The body passes through with only `model` (and, for streams, `stream_options.include_usage`,
or no `stream_options` at all for a provider with `stream_usage = false`) changed; stream
events are forwarded byte for byte as they arrive.
"""

from __future__ import annotations

import re
from typing import Any

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError
from gateway.providers.base import (
    PreparedCall,
    Usage,
    base_url_host,
    client_wants_usage,
    endpoint_url,
    parse_upstream_json,
    require_objects,
    token_count,
    upstream_json,
)
from gateway.providers.chat_reasoning import without_sealed_reasoning
from gateway.providers.openai_streams import (
    OpenAICompletionStreamPassthrough,
    OpenAIStreamPassthrough,
)
from gateway.providers.openai_usage import usage_from_openai
from gateway.providers.reasoning_history import wants_reasoning_content, with_reasoning_content
from gateway.providers.service_tiers import with_tier
from gateway.providers.thought_signatures import wants_thought_signatures, with_thought_signatures
from gateway.providers.upstream_errors import (
    error_from_upstream,
)


def openai_headers(api_key: str | None) -> dict[str, str]:
    headers = {"content-type": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    return headers


OPENAI_HOST = "api.openai.com"


def is_openai_api(provider: ProviderConfig) -> bool:
    """Whether the provider is OpenAI's own API (by its `base_url`), not a compatible server."""
    return base_url_host(provider.base_url) == OPENAI_HOST


class OpenAIWire:
    """Where an OpenAI-compatible provider serves an operation (`chat/completions`,
    `embeddings`) and how it takes the key. `azure.AzureWire` is the Azure OpenAI one."""

    def url(self, provider: ProviderConfig, deployment: DeploymentConfig, operation: str) -> str:
        return endpoint_url(provider.base_url, "/" + operation, provider.query.pairs)

    def model(self, provider: ProviderConfig, deployment: DeploymentConfig) -> str:
        """The `model` of a request body that names it (the Responses API's)."""
        return deployment.model

    def headers(self, api_key: str | None) -> dict[str, str]:
        return openai_headers(api_key)


OPENAI_WIRE = OpenAIWire()


def completion_tokens_field(upstream: dict[str, Any]) -> None:
    """`max_tokens` as `max_completion_tokens` (a value already there wins), for reasoning
    models (o-series, gpt-5), which refuse the first: OpenAI takes the second for every chat
    model, Azure for every model from api-version 2024-09-01-preview on."""
    if "max_tokens" in upstream:
        value = upstream.pop("max_tokens")
        upstream.setdefault("max_completion_tokens", value)


# Beside `max_tokens`, what OpenAI's reasoning models (o-series, gpt-5) refuse: the sampling
# settings ("Unsupported value: 'temperature' does not support 0.2 with this model. Only the
# default (1) value is supported."; "Unsupported parameter: 'presence_penalty' is not supported
# with this model."), and `stop` (o3, o4-mini: "Unsupported parameter: 'stop' ...").
_REFUSED = ("temperature", "top_p", "presence_penalty", "frequency_penalty", "logit_bias", "stop")


# gpt-5.1 to gpt-5.4 (not their codex and pro models) reason at effort "none" unless asked,
# and so take the sampling settings from a request that names no effort; gpt-5.5 and later
# reason at "medium" unless asked (temperature without an effort: "Unsupported parameter").
_NO_REASONING_BY_DEFAULT = re.compile(r"gpt-5\.[1-4](?!\d)(?!.*-(?:codex|pro)(?:-|$))")


def without_refused_settings(upstream: dict[str, Any], effort: object) -> None:
    """Leave out what a reasoning model refuses (`_REFUSED`), so that a request an app wrote for
    another model (a fallback, a route the operator moved) is answered, not refused: its
    sampling is the model's own, and its answer is not cut at the stop sequences. Kept when the
    request reasons not at all: it asks for no reasoning (`effort` "none", which gpt-5.1 and
    later take the sampling settings with), or names no effort to a model whose default is none
    (gpt-5.1 to gpt-5.4, by the upstream `model`'s name)."""
    if effort == "none":
        return
    if effort is None:
        model = upstream.get("model")
        if isinstance(model, str) and _NO_REASONING_BY_DEFAULT.search(model.lower()):
            return
    for name in _REFUSED:
        upstream.pop(name, None)


def for_reasoning_model(upstream: dict[str, Any]) -> None:
    """A chat body as a `reasoning` deployment takes it: `max_tokens` as
    `max_completion_tokens`, without what these models refuse (`without_refused_settings`)."""
    completion_tokens_field(upstream)
    without_refused_settings(upstream, upstream.get("reasoning_effort"))


def message_text(choice_message: object) -> str:
    if isinstance(choice_message, dict) and isinstance(choice_message.get("content"), str):
        return str(choice_message["content"])
    return ""


class OpenAIChatAdapter:
    operation = "chat/completions"
    # Chat bodies to a `reasoning` deployment carry `max_completion_tokens`, never `max_tokens`.
    maps_token_limit = True

    def __init__(self, wire: OpenAIWire = OPENAI_WIRE) -> None:
        self.wire = wire

    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        upstream = dict(body)
        upstream["model"] = deployment.model
        if deployment.reasoning and self.maps_token_limit:
            for_reasoning_model(upstream)
        if wants_reasoning_content(provider):
            with_reasoning_content(upstream)
        if wants_thought_signatures(provider):
            with_thought_signatures(upstream)
        without_sealed_reasoning(upstream)
        if not provider.stream_usage:
            upstream.pop("stream_options", None)  # the server refuses it, a client's too
        elif body.get("stream"):
            options = body.get("stream_options")
            upstream["stream_options"] = {
                **(options if isinstance(options, dict) else {}),
                "include_usage": True,
            }
        return self._call(provider, deployment, api_key, upstream)

    def _call(
        self,
        provider: ProviderConfig,
        deployment: DeploymentConfig,
        api_key: str | None,
        upstream: dict[str, Any],
    ) -> PreparedCall:
        url = self.wire.url(provider, deployment, self.operation)
        return PreparedCall(url, self.wire.headers(api_key), upstream_json(upstream, provider))

    # The list a 2xx answer must carry: `choices` (chat), `data` (embeddings).
    answer_list = "choices"

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        parsed = parse_upstream_json(data)
        require_objects(parsed, self.answer_list)
        usage = with_tier(usage_from_openai(parsed.get("usage")) or Usage(), parsed)
        return data, usage, parsed

    def stream(self, body: dict[str, Any]) -> OpenAIStreamPassthrough:
        return OpenAIStreamPassthrough(client_wants_usage(body))

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)


# What web frameworks answer a path they have no route for (Starlette/FastAPI, Go's net/http
# and gin, Express...), lowercased: nothing about a model.
_NO_ROUTE_MESSAGES = frozenset({"not found", "404 page not found", "404 not found", "not_found"})


def missing_route(
    error: GatewayError, status: int, deployment: DeploymentConfig, what: str
) -> GatewayError:
    """`error` of an upstream's 404 that says only "not found" (or nothing): the server most
    likely has no route for the operation (a chat-only server asked for `what`). Said so in
    the message; status, type and code stay the upstream's."""
    if status != 404:
        return error
    said = error.message.strip().lower()
    if said in _NO_ROUTE_MESSAGES or said == f"upstream {deployment.name} answered status 404":
        error.message = (
            f"upstream {deployment.name} answered 404 ({error.message}): the server does not "
            f"seem to serve {what}"
        )
    return error


class OpenAIEmbeddingsAdapter(OpenAIChatAdapter):
    operation = "embeddings"
    answer_list = "data"

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        error = super().convert_error(status, data, deployment)
        return missing_route(error, status, deployment, "embeddings (POST /embeddings)")

    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        upstream = dict(body)
        upstream["model"] = deployment.model
        return self._call(provider, deployment, api_key, upstream)

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        body, usage, parsed = super().convert_json(data)
        if usage.prompt_tokens == 0:
            # Some APIs count only `total_tokens` (Voyage's); all of it is input. Else every
            # input is non-empty (validation): zero is a server that does not count (`{}`,
            # zeros), not a count, and the gateway's estimate stands in.
            counted = parsed.get("usage")
            total = counted.get("total_tokens") if isinstance(counted, dict) else None
            total = token_count(total, "total_tokens")
            usage = Usage(prompt_tokens=total, reported=True) if total else Usage()
        return body, usage, parsed


class OpenAICompletionsAdapter(OpenAIChatAdapter):
    """Legacy `POST /v1/completions`: passed through like chat (usage asked for on streams)."""

    operation = "completions"
    maps_token_limit = False  # legacy completions know only `max_tokens`

    def stream(self, body: dict[str, Any]) -> OpenAICompletionStreamPassthrough:
        return OpenAICompletionStreamPassthrough(client_wants_usage(body))

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        error = super().convert_error(status, data, deployment)
        return missing_route(
            error,
            status,
            deployment,
            "legacy completions (POST /completions): use /v1/chat/completions",
        )
