"""Anthropic Messages API upstreams: their adapters.

- `AnthropicMessagesAdapter`: Anthropic client -> Anthropic upstream, passed through.
- `OpenAIClientToAnthropic`: OpenAI client -> Anthropic upstream, translated both ways.

(`AnthropicClientToOpenAI`, Anthropic client -> OpenAI-compatible upstream, is in
`client_to_openai`.) Here live the URLs, headers and SSE framing; the translation itself is
pure and lives in the sibling modules named for their direction.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.errors import GatewayError, InvalidRequest
from gateway.providers.anthropic.cache_scope import without_cache_scope
from gateway.providers.anthropic.context_edits import with_context_edits
from gateway.providers.anthropic.effort import with_effort_for
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.anthropic.forced_tools import with_tool_choice_for
from gateway.providers.anthropic.paused_turns import offers_server_tool
from gateway.providers.anthropic.prompt_cache import with_automatic_cache
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
from gateway.providers.anthropic.responses_anthropic_to_openai import anthropic_response_to_openai
from gateway.providers.anthropic.sampling import with_sampling_for
from gateway.providers.anthropic.streams_anthropic_to_openai import AnthropicToOpenAIStream
from gateway.providers.anthropic.system_turns import system_turns_for
from gateway.providers.anthropic.thinking import with_thinking_for
from gateway.providers.anthropic.thinking_binding import with_binding_header
from gateway.providers.anthropic.thinking_blocks import thinking_for_claude
from gateway.providers.anthropic.turn_controls import without_turn_controls
from gateway.providers.anthropic.usage import usage_from_anthropic
from gateway.providers.base import (
    PreparedCall,
    Usage,
    client_wants_usage,
    endpoint_url,
    parse_upstream_json,
    require_objects,
    stream_cut_short,
    upstream_json,
)
from gateway.providers.upstream_errors import (
    error_from_upstream,
    stream_error_from_upstream,
)
from gateway.sse import SSEDecoder, encode_event

_DONE_EVENT = b"data: [DONE]\n\n"


def anthropic_headers(
    api_key: str | None, provider: ProviderConfig, extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The headers of a Messages API call: JSON, the provider's API version, the key if any,
    then `extra` (passed-through client headers such as `anthropic-beta`)."""
    headers = {"content-type": "application/json", "anthropic-version": provider.anthropic_version}
    if api_key:
        headers["x-api-key"] = api_key
    if extra:
        headers.update(extra)
    return headers


def _messages_url(provider: ProviderConfig) -> str:
    return endpoint_url(provider.base_url, "/v1/messages", provider.query.pairs)


def parse_event(data: bytes) -> dict[str, Any]:
    """One SSE event's JSON data, either wire's; malformed, the stream's `upstream_malformed`."""
    return parse_upstream_json(data, "upstream sent a malformed stream event")


# What the model wrote, by content delta type: all of it billed as output tokens.
_WRITTEN = {"text_delta": "text", "thinking_delta": "thinking", "input_json_delta": "partial_json"}


def _written(delta: object) -> str:
    """The text one `content_block_delta` adds: text, thinking or a tool call's input."""
    if type(delta) is not dict:
        return ""
    name = _WRITTEN.get(str(delta.get("type")))
    written = delta.get(name) if name else None
    return written if type(written) is str else ""


class AnthropicStreamPassthrough:
    """Forwards Anthropic events unchanged, reading usage and text on the way."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self.usage: Usage | None = None
        # The upstream's usage merged over the stream, as `AnthropicToOpenAIStream` keeps it.
        self._reported: dict[str, object] = {}
        self.text: list[str] = []
        self._written: list[str] = []  # thinking and tool input (the text is in `text`)
        self.ended = False  # `message_stop` came
        self.finish_reason: str | None = None  # the `stop_reason` (`ReportsFinish`)

    def written_text(self) -> str:
        """The answer's text, thinking and tool-call input so far (`WritesText`)."""
        return "".join(self.text) + "".join(self._written)

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            for event in self._decoder.feed(chunk):
                parsed = parse_event(event.data)
                kind = parsed.get("type")
                if kind == "message_stop":
                    self.ended = True
                elif kind == "message_start":
                    message = parsed.get("message")
                    self._merge_usage(message.get("usage") if type(message) is dict else None)
                    self.usage = self.usage or Usage()
                elif kind == "content_block_delta":
                    delta = parsed.get("delta")
                    if type(delta) is not dict:  # an upstream's odd event: passed on as it is
                        pass
                    elif delta.get("type") == "text_delta":
                        self.text.append(str(delta.get("text", "")))
                    else:
                        self._written.append(_written(delta))
                elif kind == "message_delta":
                    self._merge_usage(parsed.get("usage"))
                    delta = parsed.get("delta")
                    reason = delta.get("stop_reason") if type(delta) is dict else None
                    self.finish_reason = reason if type(reason) is str else self.finish_reason
                elif kind == "error":
                    raise stream_error_from_upstream(parsed.get("error"), anthropic=True)
                out.append(event.raw)
            return out
        except GatewayError as exc:  # the events before it are the client's all the same
            exc.pending = out
            raise

    def _merge_usage(self, usage: object) -> None:
        """`message_delta` counts are cumulative: they replace those of `message_start`. Every
        count is checked (`usage_from_anthropic`) before its event is passed on, so a client
        never sees a count the record refuses."""
        if isinstance(usage, dict):
            self._reported.update({k: v for k, v in usage.items() if v is not None})
            self.usage = usage_from_anthropic(self._reported)

    def finish(self) -> list[bytes]:
        if not self.ended:
            raise stream_cut_short("message_stop")
        return []


class AnthropicMessagesAdapter:
    """Anthropic client -> Anthropic upstream: the body passes with `model` replaced, without the
    sampling settings the deployment's model refuses (`sampling`) and with adaptive thinking for
    manual thinking where the model takes only that and manual for adaptive before it
    (`thinking`), an effort level the model takes (`effort`), no forced tool use where the model
    refuses it (`forced_tools`): a route or a fallback may send a
    request written for one Claude to another; without the thinking blocks the
    gateway made of another model's reasoning, which Anthropic would refuse
    (`thinking_blocks`); with a mid-conversation system message as a user turn for a model
    before Opus 4.8 (`system_turns`), without the per-turn controls of a system turn for a model
    that does not take them (`turn_controls`); and, to the models that bind thinking blocks to their
    conversation, asking that a block whose conversation changed be dropped, not refused
    (`thinking_binding`); without the cache breakpoints' `scope` when its beta is not sent
    (`cache_scope`)."""

    path = "/v1/messages"  # the upstream route; `AnthropicCountTokensAdapter` has its own

    def __init__(self, passthrough_headers: dict[str, str] | None = None) -> None:
        self._extra = passthrough_headers

    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        upstream = dict(body)
        upstream["model"] = deployment.model
        if "context_management" in provider.drop_params:  # refused: done here (`context_edits`)
            upstream = with_context_edits(upstream)
        with_sampling_for(upstream, deployment, provider)
        without_turn_controls(upstream, deployment.model)  # (may set the effort)
        with_thinking_for(upstream, deployment.model)  # (reads the effort first)
        with_effort_for(upstream, deployment.model)
        with_tool_choice_for(upstream, deployment.model)
        thinking_for_claude(upstream, deployment.model)
        system_turns_for(upstream, deployment.model)
        url = endpoint_url(provider.base_url, self.path, provider.query.pairs)
        headers = anthropic_headers(api_key, provider, self._extra)
        without_cache_scope(upstream, headers.get("anthropic-beta"))
        with_binding_header(upstream, deployment.model, headers, provider.drop_betas)
        return PreparedCall(url, headers, upstream_json(upstream, provider))

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        parsed = parse_upstream_json(data)
        require_objects(parsed, "content")
        return data, usage_from_anthropic(parsed.get("usage")) or Usage(), parsed

    def stream(self, body: dict[str, Any]) -> AnthropicStreamPassthrough:
        return AnthropicStreamPassthrough()

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)


class AnthropicToOpenAIStreamAdapter:
    """Anthropic events from upstream -> OpenAI chunks for the client."""

    def __init__(
        self, model: str, include_usage: bool, structured: bool = False, origin: str = ""
    ) -> None:
        self._decoder = SSEDecoder()
        self._translator = AnthropicToOpenAIStream(
            model, include_usage, structured=structured, origin=origin
        )
        self.usage: Usage | None = None
        self.text: list[str] = []
        self._written: list[str] = []  # everything the model wrote, thinking included
        self.ended = False  # `message_stop` came

    def written_text(self) -> str:
        """The answer's text, thinking and tool-call input so far (`WritesText`)."""
        return "".join(self._written)

    @property
    def finish_reason(self) -> str | None:
        """The `finish_reason` the client was sent (`ReportsFinish`)."""
        return self._translator.finish_reason

    def carried_thinking(self) -> tuple[list[dict[str, Any]], list[str]]:
        """The thinking blocks the client was sent (`reasoning_details` entries) and the ids of
        the tool calls they led to (`pipeline.thinking_store` keeps them for the next call)."""
        return self._translator.carried, self._translator.call_ids

    def _encode(self, chunks: list[dict[str, Any]]) -> list[bytes]:
        out = []
        for chunk in chunks:
            for choice in chunk.get("choices") or ():
                content = (choice.get("delta") or {}).get("content")
                if isinstance(content, str):
                    self.text.append(content)
            out.append(encode_event(orjson.dumps(chunk)))
        return out

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            for event in self._decoder.feed(chunk):
                parsed = parse_event(event.data)
                kind = event.event or parsed.get("type")
                self.ended = self.ended or kind == "message_stop"
                if kind == "error":
                    raise stream_error_from_upstream(parsed.get("error"), anthropic=True)
                if kind == "content_block_delta":
                    self._written.append(_written(parsed.get("delta")))
                out.extend(self._encode(self._translator.feed(kind, parsed)))
            self._read_usage()
            return out
        except GatewayError as exc:  # the events before it are the client's all the same
            exc.pending = out
            raise

    def _read_usage(self) -> None:
        # From Anthropic's own counts: the OpenAI form has no place for cache writes.
        if self._translator.usage is not None:
            self.usage = usage_from_anthropic(self._translator.anthropic_usage)

    def finish(self) -> list[bytes]:
        if not self.ended:
            raise stream_cut_short("message_stop")
        out = self._encode(self._translator.finish())
        self._read_usage()
        out.append(_DONE_EVENT)
        return out


class OpenAIClientToAnthropic:
    """OpenAI client -> Anthropic upstream: requests, responses and streams translated; a turn
    Claude paused in its server tools is continued by the gateway (`paused_turns`); a request
    that asks for its prompt cache gets Claude's automatic caching (`prompt_cache`).
    `structured`: the requests it serves ask for a structured output that goes to Anthropic as
    a forced tool (`structured_output.structured_output_tool`), whose input is the answer.
    `origin`: the deployment's, which Claude's thinking blocks are sealed with on their way to
    the client and back (`carried_thinking`); sent back to the models that bind them to their
    conversation, a block whose conversation changed is dropped (`thinking_binding`)."""

    def __init__(self, structured: bool = False, origin: str = "") -> None:
        self.structured = structured
        self.origin = origin

    def prepare(
        self,
        body: dict[str, Any],
        deployment: DeploymentConfig,
        provider: ProviderConfig,
        api_key: str | None,
    ) -> PreparedCall:
        try:
            upstream = openai_request_to_anthropic(body, deployment.model, self.origin)
        except TranslationError as exc:
            raise InvalidRequest(str(exc), param=exc.param) from None
        with_sampling_for(upstream, deployment, provider)
        with_automatic_cache(upstream, body)
        headers = anthropic_headers(api_key, provider)
        with_binding_header(upstream, deployment.model, headers, provider.drop_betas)
        return PreparedCall(
            _messages_url(provider),
            headers,
            upstream_json(upstream, provider),
            offers_server_tool(upstream),
        )

    def convert_json(self, data: bytes) -> tuple[bytes, Usage, dict[str, Any]]:
        parsed = parse_upstream_json(data)
        require_objects(parsed, "content")
        model = str(parsed.get("model") or "")
        converted = anthropic_response_to_openai(
            parsed, model, structured=self.structured, origin=self.origin
        )
        usage = usage_from_anthropic(parsed.get("usage")) or Usage()
        return orjson.dumps(converted), usage, converted

    def stream(self, body: dict[str, Any]) -> AnthropicToOpenAIStreamAdapter:
        model = str(body.get("model") or "")
        return AnthropicToOpenAIStreamAdapter(
            model, client_wants_usage(body), self.structured, self.origin
        )

    def convert_error(self, status: int, data: bytes, deployment: DeploymentConfig) -> GatewayError:
        return error_from_upstream(status, data, deployment)
