"""The adapters of the Responses API (`POST /v1/responses`), one per kind of upstream.

- `ResponsesPassthrough`: an upstream that speaks Responses (OpenAI; Azure, vLLM and others
  with `responses = true`): the body passes with only `model` changed, events are forwarded as
  they arrive, the usage is read from `response.completed`.
- `ResponsesToChat`: an OpenAI-compatible upstream without Responses: translated to chat
  completions and back (`requests_responses_to_chat`, `responses_chat_to_responses`,
  `streams_chat_to_responses`).
- `ResponsesToAnthropic`: an Anthropic upstream: translated to chat completions, then through
  the chat -> Messages translation the chat endpoint uses, and back the same way.

The last two compact a conversation the gateway's way (`compaction`): a summary asked of the
model, answered as the `compaction` item OpenAI's compaction answers; the first passes
compactions through to an upstream that compacts (OpenAI's, Azure's), does the same on the
`/responses` of one that does not, and sends a gateway `compaction` item as the user message
it stands for.

A translated response gets a `resp_` id made here (the upstream has none to give). Messages
has no JSON-schema switch: a `text.format` `json_schema` goes to Anthropic as the chat
endpoint's does, a tool Claude is forced to call whose input comes back as the answer's text
(`gateway.providers.anthropic.structured_output`, which says when).
"""

from __future__ import annotations

from typing import Literal

import orjson

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError, InvalidRequest
from gateway.json_types import JSON
from gateway.providers.anthropic.adapters import anthropic_headers
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.anthropic.paused_turns import offers_server_tool
from gateway.providers.anthropic.prompt_cache import with_automatic_cache
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
from gateway.providers.anthropic.responses_anthropic_to_openai import anthropic_response_to_openai
from gateway.providers.anthropic.sampling import with_sampling_for
from gateway.providers.anthropic.streams_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.anthropic.structured_output import structured_output_tool
from gateway.providers.anthropic.thinking_binding import with_binding_header
from gateway.providers.anthropic.usage import usage_from_anthropic
from gateway.providers.azure import openai_wire_for
from gateway.providers.base import (
    PreparedCall,
    Usage,
    endpoint_url,
    parse_upstream_json,
    stream_cut_short,
    upstream_json,
)
from gateway.providers.openai import for_reasoning_model, without_refused_settings
from gateway.providers.openai_usage import usage_from_openai
from gateway.providers.reasoning_history import wants_reasoning_content, with_reasoning_content
from gateway.providers.responses.compaction import (
    compacted,
    readable_compactions,
    summary_request,
)
from gateway.providers.responses.events import encode
from gateway.providers.responses.objects import (
    new_id,
    usage_from_responses,
    usage_with_searches,
)
from gateway.providers.responses.requests_responses_to_chat import (
    chat_response_format,
    responses_request_to_chat,
)
from gateway.providers.responses.responses_chat_to_responses import chat_response_to_responses
from gateway.providers.responses.stream_passthrough import (
    ResponsesStreamPassthrough,
    stream_event_json,
)
from gateway.providers.responses.streams_chat_to_compaction import ChatToCompactionStream
from gateway.providers.responses.streams_chat_to_responses import ChatToResponsesStream
from gateway.providers.responses.streams_responses_to_compaction import (
    ResponsesToCompactionStream,
)
from gateway.providers.responses.web_search import live_search_options
from gateway.providers.service_tiers import with_tier
from gateway.providers.thought_signatures import wants_thought_signatures, with_thought_signatures
from gateway.providers.upstream_errors import error_from_upstream, stream_error_from_upstream
from gateway.sse import SSEDecoder

# A Responses request's compaction (`POST /v1/responses/compact`: Codex's remote compaction,
# the openai SDK's `responses.compact`): its answer, `object: "response.compaction"`, holds the
# user messages and one `compaction` item, the encrypted state only its upstream can read (or
# the gateway's summary, from a deployment without the Responses API).
COMPACT_OPERATION = "responses/compact"
Compaction = Literal["trigger", "endpoint"]


class ResponsesPassthrough:
    """A Responses client and a Responses upstream: only `model` (and the auth) change;
    `operation`: `responses`, `responses/compact` or `responses/input_tokens`. `compaction`
    (with the client's `request`): an upstream that does not compact is asked for a summary on
    its `/responses`, answered as the compaction (`compaction`)."""

    def __init__(
        self,
        operation: str = "responses",
        compaction: Compaction | None = None,
        request: JSON | None = None,
    ) -> None:
        self.operation = operation
        self.compaction = compaction
        self.request = request or {}

    def prepare(
        self,
        body: JSON,
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        wire = openai_wire_for(provider)
        if self.compaction is not None:
            body = summary_request(body)
        upstream = dict(readable_compactions(body))  # (the gateway's summaries, if any)
        upstream["model"] = wire.model(provider, deployment)
        if deployment.reasoning:  # (the Responses API has no `max_tokens` to rename)
            reasoning = upstream.get("reasoning")
            without_refused_settings(
                upstream, reasoning.get("effort") if type(reasoning) is dict else None
            )
        operation = "responses" if self.compaction is not None else self.operation
        url = wire.url(provider, deployment, operation)
        return PreparedCall(url, wire.headers(api_key), upstream_json(upstream, provider))

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, JSON]:
        parsed = parse_upstream_json(data)
        usage = usage_with_searches(usage_from_responses(parsed.get("usage")) or Usage(), parsed)
        usage = with_tier(usage, parsed)
        if self.compaction is None:
            return data, usage, parsed
        answer = compacted(self.compaction, self.request, parsed)
        return orjson.dumps(answer), usage, answer

    def stream(self, body: JSON) -> ResponsesStreamPassthrough:
        if self.compaction is not None:
            return ResponsesToCompactionStream(body)
        return ResponsesStreamPassthrough()

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)


class _TranslatedStream:
    """Chat chunks (from `_chunks`) -> Responses events, as SSE bytes; `compacting`: of a
    summary, sent as a compaction's one item (`streams_chat_to_compaction`)."""

    def __init__(self, request: JSON, compacting: bool = False) -> None:
        self._decoder = SSEDecoder()
        translator = ChatToCompactionStream if compacting else ChatToResponsesStream
        self._translator = translator(request, new_id("resp"))
        self.usage: Usage | None = None
        # The upstream's proper end came: `[DONE]` or a finish_reason (Anthropic: message_stop).
        self.ended = False

    @property
    def text(self) -> list[str]:
        return self._translator.events.texts

    @property
    def response(self) -> JSON:
        return self._translator.response

    @property
    def response_id(self) -> str:
        return str(self._translator.response["id"])

    @property
    def finish_reason(self) -> str | None:
        """The response's `status` once it ended (`ReportsFinish`)."""
        status = self._translator.response.get("status")
        return status if isinstance(status, str) and status != "in_progress" else None

    def _chunks(self, event_name: str | None, data: bytes) -> list[JSON]:
        if data == b"[DONE]":
            self.ended = True
            return []
        chunk = stream_event_json(data)
        if event_name == "error":  # llama.cpp's `error:` line, `event: error`
            raise stream_error_from_upstream(chunk.get("error", chunk), anthropic=False)
        if chunk.get("error"):
            raise stream_error_from_upstream(chunk["error"], anthropic=False)
        choices = chunk.get("choices")
        if isinstance(choices, list):
            self.ended = self.ended or any(
                isinstance(c, dict) and c.get("finish_reason") for c in choices
            )
        return [chunk]

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            for event in self._decoder.feed(chunk):
                for parsed in self._chunks(event.event, event.data):
                    out += [encode(e) for e in self._translator.feed(parsed)]
            return out
        except GatewayError as exc:  # the events before it are the client's all the same
            exc.pending = out
            raise

    def finish(self) -> list[bytes]:
        if not self.ended:
            raise stream_cut_short("its end")
        out = [encode(e) for e in self._translator.finish()]
        self.usage = usage_from_openai(self._translator.usage)
        return out


class _AnthropicTranslatedStream(_TranslatedStream):
    """Anthropic events -> chat chunks (the chat endpoint's translator) -> Responses events."""

    def __init__(self, request: JSON, compacting: bool = False, origin: str = "") -> None:
        super().__init__(request, compacting)
        model = str(request.get("model") or "")
        structured = not compacting and _structured(request)
        self._to_chat = AnthropicToOpenAIStream(model, True, structured=structured, origin=origin)

    def _chunks(self, event_name: str | None, data: bytes) -> list[JSON]:
        parsed = stream_event_json(data)
        kind = event_name or parsed.get("type")
        self.ended = self.ended or kind == "message_stop"
        if kind == "error":
            raise stream_error_from_upstream(parsed.get("error"), anthropic=True)
        chunks = self._to_chat.feed(kind, parsed)
        if kind == "message_start" or kind == "message_delta":
            self._read_usage()
        return chunks

    def _read_usage(self) -> None:
        # From Anthropic's own counts, as they arrive: the chat form has no place for cache
        # writes (priced above input), and a stream cut short keeps what it reported so far.
        if self._to_chat.anthropic_usage:
            self.usage = usage_from_anthropic(self._to_chat.anthropic_usage)

    def finish(self) -> list[bytes]:
        out: list[bytes] = []
        for parsed in self._to_chat.finish():
            out += [encode(e) for e in self._translator.feed(parsed)]
        out += super().finish()
        self._read_usage()
        return out


class ResponsesToChat:
    """A Responses client and a chat-completions-only upstream: translated both ways.
    `compaction`: the request compacts the conversation, the gateway's way (`compaction`):
    "trigger", a `/v1/responses` input ending with `compaction_trigger`; "endpoint",
    `/v1/responses/compact`."""

    # Whether `reasoning` items carry Claude's thinking blocks to the upstream (`carried_thinking`).
    carries_thinking = False

    def __init__(
        self, request: JSON, compaction: Compaction | None = None, origin: str = ""
    ) -> None:
        self.request = request
        self.compaction = compaction
        self.origin = origin  # the deployment's (`chat_reasoning.reasoning_origin`)

    def _answer(self, response: JSON) -> JSON:
        """The client's answer from the translated `response`."""
        if self.compaction is None:
            return response
        return compacted(self.compaction, self.request, response)

    def _structured(self) -> bool:
        return self.compaction is None and _structured(self.request)

    def _upstream_body(self, body: JSON, model: str, provider: ProviderConfig) -> JSON:
        if self.compaction is not None:
            body = summary_request(body)
        reasoning_content = wants_reasoning_content(provider)
        try:
            upstream = responses_request_to_chat(
                body, model, reasoning_content, self.carries_thinking
            )
        except TranslationError as exc:
            raise InvalidRequest(str(exc), param=exc.param) from None
        if reasoning_content:
            with_reasoning_content(upstream)
        if wants_thought_signatures(provider):
            with_thought_signatures(upstream)
        if upstream.get("stream"):
            upstream["stream_options"] = {"include_usage": True}
        return upstream

    def prepare(
        self,
        body: JSON,
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        upstream = self._upstream_body(body, deployment.model, provider)
        if deployment.reasoning:
            for_reasoning_model(upstream)
        if not provider.stream_usage:
            upstream.pop("stream_options", None)  # the server refuses it
        wire = openai_wire_for(provider)
        url = wire.url(provider, deployment, "chat/completions")
        return PreparedCall(url, wire.headers(api_key), upstream_json(upstream, provider))

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, JSON]:
        chat = parse_upstream_json(data)
        converted = self._answer(chat_response_to_responses(chat, self.request, new_id("resp")))
        usage = with_tier(usage_from_openai(chat.get("usage")) or Usage(), chat)
        return orjson.dumps(converted), usage, converted

    def stream(self, body: JSON) -> _TranslatedStream:
        return _TranslatedStream(body, self.compaction is not None)

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)


class ResponsesToAnthropic(ResponsesToChat):
    """A Responses client and an Anthropic upstream: Responses -> chat -> Messages, and back; a
    turn Claude paused in its server tools is continued by the gateway (`paused_turns`); a
    request that asks for its prompt cache (Codex's) gets Claude's automatic caching
    (`prompt_cache`); Claude's thinking blocks go to a client that asks for the encrypted
    reasoning as `reasoning` items, and back (`carried_thinking`, sealed with `origin`)."""

    carries_thinking = True

    def prepare(
        self,
        body: JSON,
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        chat = self._upstream_body(body, deployment.model, provider)
        chat.pop("stream_options", None)
        if (search := live_search_options(body)) is not None:
            chat["web_search_options"] = search  # Claude's search (`web_search`)
        try:
            upstream = openai_request_to_anthropic(chat, deployment.model, self.origin)
        except TranslationError as exc:
            raise InvalidRequest(str(exc), param=exc.param) from None
        with_sampling_for(upstream, deployment, provider)
        with_automatic_cache(upstream, body)
        url = endpoint_url(provider.base_url, "/v1/messages", provider.query.pairs)
        headers = anthropic_headers(api_key, provider)
        with_binding_header(upstream, deployment.model, headers, provider.drop_betas)
        sent = upstream_json(upstream, provider)
        return PreparedCall(url, headers, sent, offers_server_tool(upstream))

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, JSON]:
        message = parse_upstream_json(data)
        model = str(message.get("model") or "")
        chat = anthropic_response_to_openai(
            message, model, structured=self._structured(), origin=self.origin
        )
        converted = self._answer(chat_response_to_responses(chat, self.request, new_id("resp")))
        usage = usage_from_anthropic(message.get("usage")) or Usage()
        return orjson.dumps(converted), usage, converted

    def stream(self, body: JSON) -> _AnthropicTranslatedStream:
        return _AnthropicTranslatedStream(body, self.compaction is not None, self.origin)


def _structured(request: JSON) -> bool:
    """Whether Claude answers `request` through the forced structured-output tool: the chat
    endpoint's rule (`structured_output_tool`), on the chat request `request` becomes."""
    text = request.get("text")
    spec = text.get("format") if isinstance(text, dict) else None
    chat = {"response_format": chat_response_format(spec), "tools": request.get("tools")}
    return structured_output_tool(chat) is not None
