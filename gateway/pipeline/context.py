"""The state of one request as it moves through the pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypedDict

from gateway import tokens
from gateway.cache.semantic_use import SemanticUse
from gateway.config.types import KeyConfig, ModelConfig
from gateway.errors import GatewayError, WireFormat
from gateway.guardrails.base import Placeholders
from gateway.limits.fallback_held import FallbackHeld
from gateway.limits.held import Held
from gateway.limits.prepared_plans import PreparedHeld
from gateway.observability.trace_context import TraceIds
from gateway.prompts.apply import PromptUse
from gateway.providers import EndpointKind, Usage
from gateway.routing.exchange import Exchange, StreamReply
from gateway.runtime import Runtime


@dataclass(frozen=True, slots=True)
class HttpRoute:
    """A request on a route that is not a GenAI operation (`/v1/models`, stored responses, the
    token count, the catch-all 404), as its trace names it: the method, and the route template
    (`None` when no route matched), never the path, which may hold ids or any client text."""

    method: str
    template: str | None


@dataclass(frozen=True)
class Endpoint:
    path: str
    kind: EndpointKind
    wire: WireFormat  # the client's format, for bodies and errors
    # Whether the exact cache may answer it (its entries rebuild chat, messages or embeddings).
    cacheable: bool = True
    # Set on a route that is not a GenAI operation: its span is an HTTP server span.
    http: HttpRoute | None = None
    # The upstream operation when not the kind's own (`responses/compact`: Responses upstreams).
    operation: str = ""


class GuardrailHit(TypedDict):
    """One guardrail's findings on one stage, as the record shows them (never the values)."""

    name: str
    stage: str
    action: str
    entities: list[str]


@dataclass(slots=True)
class RequestContext:
    endpoint: Endpoint
    runtime: Runtime  # the config this request runs under, even if a reload happens meanwhile
    request_id: str
    ts: float  # wall clock at arrival
    started: float  # monotonic at arrival
    headers: dict[str, str]
    raw_body: bytes = b""
    body: dict[str, Any] | None = None  # the parsed JSON body
    key: KeyConfig | None = None
    # The key's previous secret was presented (one being rotated out: `previous_key_sha256`).
    previous_secret: bool = False
    model_name: str | None = None
    model: ModelConfig | None = None
    stream: bool = False
    # Attribution (gateway.pipeline.attribution): end user, gateway tags, session id.
    user: str | None = None
    tags: dict[str, str] | None = None
    session_id: str | None = None
    # The request's trace ids when it is traced ([tracing]).
    trace: TraceIds | None = None
    # Responses API `previous_response_id`: the deployment that holds the conversation.
    pinned_deployment: str | None = None
    # The registered prompt this request used (`x-gateway-prompt` / the body's `prompt`).
    prompt: PromptUse | None = None
    # What the limiter reserved for this request, settled when it ends (a `FallbackHeld` once
    # the router moved it to a fallback model with limits of its own).
    limits_held: Held | PreparedHeld | FallbackHeld | None = None
    # What happened upstream: attempts, the deployment, the answer (see gateway.routing).
    exchange: Exchange = field(default_factory=Exchange)
    # The answer to send, from the upstream (copied from the exchange) or the cache.
    response_body: bytes | None = None
    response_json: dict[str, Any] | None = None
    usage: Usage | None = None
    stream_reply: StreamReply | None = None
    # A cache hit served as a stream: the pieces to send.
    cached_stream: list[bytes] | None = None
    status: int = 0
    error: GatewayError | None = None
    first_byte_sent: float | None = None
    # When the response's headers were built (monotonic): Server-Timing's `gateway;dur`.
    response_started: float | None = None
    client_closed: bool = False
    guardrails: list[GuardrailHit] = field(default_factory=list)
    # Time spent in the guardrail stages (input and, before the response, output).
    guardrails_ms: float = 0.0
    # Time spent checking and reserving the limits (the state round trip, on_redis_error applied).
    limits_ms: float = 0.0
    # The placeholder map of a `restore` guardrail: input values the answer gets back.
    placeholders: Placeholders | None = None
    # "hit" | "miss" | "bypass"
    cache: str = "bypass"
    cache_key: str | None = None
    cache_store: bool = False
    # What the semantic cache did (its partition, vector, similarity, embedding spend).
    semantic: SemanticUse | None = None
    # Client-format bytes sent for a stream, kept only when the answer will be cached.
    sent_chunks: list[bytes] | None = None
    response_headers: dict[str, str] = field(default_factory=dict)
    # The x-ratelimit-* headers of the limits this request was checked against, encoded.
    rate_headers: list[tuple[bytes, bytes]] | None = None
    _prompt_estimate: int | None = None

    def prompt_estimate(self) -> int:
        """tiktoken estimate of the prompt, computed at most once per request."""
        if self._prompt_estimate is None:
            body = self.body or {}
            kind = self.endpoint.kind
            if kind == "embeddings" or kind == "completions":
                value = body.get("input" if kind == "embeddings" else "prompt")
                self._prompt_estimate = tokens.count_prompt(value)
            elif self.endpoint.kind == "responses":
                self._prompt_estimate = tokens.count_response_input(
                    body.get("input"), body.get("instructions")
                )
            else:
                self._prompt_estimate = tokens.count_messages(
                    body.get("messages"), body.get("system")
                )
        return self._prompt_estimate
