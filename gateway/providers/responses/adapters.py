"""The adapters of the Responses API (`POST /v1/responses`), one per kind of upstream.

- `ResponsesPassthrough`: an upstream that speaks Responses (OpenAI; vLLM and others with
  `responses = true`): the body passes with only `model` changed, events are forwarded as
  they arrive, the usage is read from `response.completed`.
- `ResponsesToChat`: an OpenAI-compatible upstream without Responses: translated to chat
  completions and back (`requests_responses_to_chat`, `responses_chat_to_responses`,
  `streams_chat_to_responses`).
- `ResponsesToAnthropic`: an Anthropic upstream: translated to chat completions, then through
  the chat -> Messages translation the chat endpoint uses, and back the same way.

A translated response gets a `resp_` id made here (the upstream has none to give). Messages
has no JSON-schema switch: a `text.format` `json_schema` goes to Anthropic as a forced tool
with that schema (`STRUCTURED_TOOL`, Anthropic's own advice for structured output), whose input
comes back as the answer's text.
"""

from __future__ import annotations

import orjson

from gateway.config.types import DeploymentConfig, ProviderConfig
from gateway.errors import GatewayError, InvalidRequest, UpstreamFailed, UpstreamStreamError
from gateway.json_types import JSON
from gateway.providers.anthropic.adapters import anthropic_headers
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
from gateway.providers.anthropic.responses_anthropic_to_openai import anthropic_response_to_openai
from gateway.providers.anthropic.streams_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.anthropic.usage import usage_from_anthropic
from gateway.providers.azure import openai_wire_for
from gateway.providers.base import (
    PreparedCall,
    RelaysFailure,
    Usage,
    endpoint_url,
    parse_upstream_json,
    stream_cut_short,
)
from gateway.providers.openai import (
    OPENAI_WIRE,
    completion_tokens_field,
    openai_headers,
)
from gateway.providers.openai_usage import usage_from_openai
from gateway.providers.responses.events import encode
from gateway.providers.responses.objects import new_id, usage_from_responses
from gateway.providers.responses.requests_responses_to_chat import responses_request_to_chat
from gateway.providers.responses.responses_chat_to_responses import chat_response_to_responses
from gateway.providers.responses.streams_chat_to_responses import ChatToResponsesStream
from gateway.providers.upstream_errors import error_from_upstream, stream_error_from_upstream
from gateway.sse import EventBuffer, SSEDecoder, parse_event

_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
# The events that carry, beside the answer's text, what the model wrote (billed as output).
_WRITTEN_EVENTS = frozenset(
    {
        "response.function_call_arguments.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.refusal.delta",
    }
)
STRUCTURED_TOOL = "structured_output"


def _event(data: bytes) -> JSON:
    return parse_upstream_json(data, "upstream sent a malformed stream event")


class ResponsesStreamPassthrough(RelaysFailure):
    """Forwards Responses events unchanged, as received, reading the final response and its
    usage on the way.

    Only the events that end a response (`response.completed`, `.incomplete`, `.failed`) are
    parsed as they pass (the usage and the final object are in them); the text deltas are kept
    as bytes and read only when the text is asked for (no usage, logged bodies, remote
    guardrails). A stream that ends without a final event is reported as failed (`finish`);
    one whose final event is `response.failed` is relayed as it is and its error kept in
    `failure`; an `error` event ends it with the gateway's error event, its code kept.
    """

    def __init__(self) -> None:
        self._buffer = EventBuffer()
        self._deltas: list[bytes] = []  # the data of each response.output_text.delta
        self._written: list[bytes] = []  # ... and of every other delta the model wrote
        self.usage: Usage | None = None
        self.response: JSON | None = None  # the final response object, once it arrived

    @property
    def text(self) -> list[str]:
        parts: list[str] = []
        for data in self._deltas:
            delta = _event(data).get("delta")
            if isinstance(delta, str):
                parts.append(delta)
        return parts

    def written_text(self) -> str:
        """All the model wrote so far (`WritesText`), for counting its tokens: its reasoning,
        refusals and function-call arguments, then its text; read only for an estimate."""
        written = [_event(data).get("delta") for data in self._written]
        return "".join(d for d in written if isinstance(d, str)) + "".join(self.text)

    def feed(self, chunk: bytes) -> list[bytes]:
        complete = self._buffer.take(chunk)
        if not complete:
            return []
        try:
            for part in complete.split(b"\n\n")[:-1]:
                name, data = _name_and_data(part)
                if name == "response.output_text.delta":
                    self._deltas.append(data)
                elif name in _WRITTEN_EVENTS:
                    self._written.append(data)
                elif name == "error":
                    raise stream_error_from_upstream(_error_of(_event(data)), anthropic=False)
                elif name in _FINAL_EVENTS or (name is None and data and data != b"[DONE]"):
                    self._final(_event(data))
            return [complete]
        except GatewayError as exc:  # the events before `part` are the client's all the same
            # An event's fate depends on its bytes alone: the first like `part` is the one.
            parts = complete.split(b"\n\n")
            exc.pending = [b"".join(p + b"\n\n" for p in parts[: parts.index(part)])]
            raise

    def _final(self, parsed: JSON) -> None:
        if parsed.get("type") not in _FINAL_EVENTS:
            return
        response = parsed.get("response")
        if isinstance(response, dict):
            self.response = response
            self.usage = usage_from_responses(response.get("usage")) or self.usage
            if parsed["type"] == "response.failed":
                self.failure = _failed(response.get("error"))

    def finish(self) -> list[bytes]:
        if self.response is None:
            raise UpstreamFailed(
                "upstream stream ended before its response was complete",
                code="stream_interrupted",
            )
        return []


def _error_of(event: JSON) -> object:
    """The error of a Responses `error` event: its own `code`, `message` and `param` (the
    event's `type` is "error", no error type), or an `error` object when it holds one."""
    nested = event.get("error")
    if isinstance(nested, dict):
        return nested
    return {name: event.get(name) for name in ("code", "message", "param")}


def response_failure(response: JSON | None) -> UpstreamStreamError | None:
    """The failure a JSON Responses answer reports of itself (`"status": "failed"`, its
    `error`), relayed to the client as it is and recorded as the failure a stream's
    `response.failed` is; None for any other answer (`incomplete` is a truncation, no failure)."""
    if response is None or response.get("status") != "failed":
        return None
    return _failed(response.get("error"))


def _failed(error: object) -> UpstreamStreamError:
    """The error of a failed response (`{"code", "message"}`): of a `response.failed` event's,
    or of a JSON answer's (`response_failure`)."""
    fields = error if isinstance(error, dict) else {}
    if not fields.get("message"):
        fields = {**fields, "message": "the response failed"}
    return stream_error_from_upstream(fields, anthropic=False)


def _name_and_data(part: bytes) -> tuple[str | None, bytes]:
    """(event name, data) of one SSE event without its blank line; the common shape
    (`event: X` then one `data:` line) without the general parser."""
    if part.startswith(b"event: "):
        newline = part.find(b"\n")
        if newline > 0 and part.startswith(b"data: ", newline + 1) and part.count(b"\n") == 1:
            return part[7:newline].decode(), part[newline + 7 :]
    event = parse_event(part + b"\n\n")
    if event is None:
        return None, b""
    return event.event, event.data


class ResponsesPassthrough:
    """A Responses client and a Responses upstream: only `model` (and the auth) change."""

    def prepare(
        self,
        body: JSON,
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        upstream = dict(body)
        upstream["model"] = deployment.model
        url = OPENAI_WIRE.url(provider, deployment, "responses")
        return PreparedCall(url, openai_headers(api_key), orjson.dumps(upstream))

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, JSON]:
        parsed = parse_upstream_json(data)
        return data, usage_from_responses(parsed.get("usage")) or Usage(), parsed

    def stream(self, body: JSON) -> ResponsesStreamPassthrough:
        return ResponsesStreamPassthrough()

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)


class _TranslatedStream:
    """Chat chunks (from `_chunks`) -> Responses events, as SSE bytes."""

    def __init__(self, request: JSON, structured_tool: str | None = None) -> None:
        self._decoder = SSEDecoder()
        self._translator = ChatToResponsesStream(request, new_id("resp"), structured_tool)
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

    def _chunks(self, event_name: str | None, data: bytes) -> list[JSON]:
        if data == b"[DONE]":
            self.ended = True
            return []
        chunk = _event(data)
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

    def __init__(self, request: JSON, structured_tool: str | None) -> None:
        super().__init__(request, structured_tool)
        self._to_chat = AnthropicToOpenAIStream(str(request.get("model") or ""), True)

    def _chunks(self, event_name: str | None, data: bytes) -> list[JSON]:
        parsed = _event(data)
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
    """A Responses client and a chat-completions-only upstream: translated both ways."""

    def __init__(self, request: JSON) -> None:
        self.request = request

    def _upstream_body(self, body: JSON, model: str) -> JSON:
        try:
            upstream = responses_request_to_chat(body, model)
        except TranslationError as exc:
            raise InvalidRequest(str(exc), param=exc.param) from None
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
        upstream = self._upstream_body(body, deployment.model)
        if deployment.reasoning:
            completion_tokens_field(upstream)
        if not provider.stream_usage:
            upstream.pop("stream_options", None)  # the server refuses it
        wire = openai_wire_for(provider)
        url = wire.url(provider, deployment, "chat/completions")
        return PreparedCall(url, wire.headers(api_key), orjson.dumps(upstream))

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, JSON]:
        chat = parse_upstream_json(data)
        converted = chat_response_to_responses(chat, self.request, new_id("resp"))
        usage = usage_from_openai(chat.get("usage")) or Usage()
        return orjson.dumps(converted), usage, converted

    def stream(self, body: JSON) -> _TranslatedStream:
        return _TranslatedStream(body)

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)


class ResponsesToAnthropic(ResponsesToChat):
    """A Responses client and an Anthropic upstream: Responses -> chat -> Messages, and back."""

    def prepare(
        self,
        body: JSON,
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        chat = self._upstream_body(body, deployment.model)
        chat.pop("stream_options", None)
        _as_forced_tool(chat)
        try:
            upstream = openai_request_to_anthropic(chat, deployment.model)
        except TranslationError as exc:
            raise InvalidRequest(str(exc), param=exc.param) from None
        url = endpoint_url(provider.base_url, "/v1/messages", provider.query.pairs)
        return PreparedCall(url, anthropic_headers(api_key, provider), orjson.dumps(upstream))

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, JSON]:
        message = parse_upstream_json(data)
        chat = anthropic_response_to_openai(message, str(message.get("model") or ""))
        converted = chat_response_to_responses(
            chat, self.request, new_id("resp"), _structured_tool(self.request)
        )
        usage = usage_from_anthropic(message.get("usage")) or Usage()
        return orjson.dumps(converted), usage, converted

    def stream(self, body: JSON) -> _AnthropicTranslatedStream:
        return _AnthropicTranslatedStream(body, _structured_tool(body))


def _structured_tool(request: JSON) -> str | None:
    spec = (request.get("text") or {}).get("format")
    return STRUCTURED_TOOL if isinstance(spec, dict) and spec.get("type") == "json_schema" else None


def _as_forced_tool(chat: JSON) -> None:
    """A chat `response_format` json_schema -> a forced tool taking that schema."""
    response_format = chat.get("response_format")
    if not isinstance(response_format, dict) or response_format.get("type") != "json_schema":
        return
    spec = response_format.get("json_schema") or {}
    function: JSON = {"name": STRUCTURED_TOOL, "parameters": spec.get("schema") or {}}
    if spec.get("description"):
        function["description"] = spec["description"]
    chat.pop("response_format")
    chat["tools"] = [*(chat.get("tools") or ()), {"type": "function", "function": function}]
    chat["tool_choice"] = {"type": "function", "function": {"name": STRUCTURED_TOOL}}
