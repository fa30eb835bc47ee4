"""What the router is asked (`RouteRequest`) and what it leaves behind (`Exchange`).

The pipeline builds a `RouteRequest` from its request context and hands the router an
`Exchange` to fill: every attempt, the deployment tried last, and, on success, the answer in the
client's format (a JSON body, or a stream whose first converted bytes are already in hand).
The exchange is filled as the router goes, so a failed or cancelled request still shows what
was tried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.errors import GatewayError, UpstreamStreamError
from gateway.observability.trace_context import UpstreamTrace
from gateway.providers import Adapter, EndpointKind, StreamConverter, Usage
from gateway.runtime import Runtime
from gateway.state import BreakerState
from gateway.upstream import PreparedRequest, UpstreamResponse


@dataclass(slots=True)
class Attempt:
    deployment: str
    model: str
    status: int | None
    error_kind: str | None
    duration_ms: float
    # When the attempt began, in ms after the request arrived.
    start_ms: float = 0.0
    # Its span id when the request is traced (sent upstream in `traceparent`).
    span_id: int | None = None
    # Why the gateway's continuation of a turn Claude paused failed, if one did (the client
    # got the answer so far: `paused_turns`).
    continuation_error: str | None = None


@dataclass(slots=True)
class StreamReply:
    upstream: UpstreamResponse
    chunks: AsyncIterator[bytes]
    converter: StreamConverter
    # Client-format bytes already converted while the first upstream chunk was awaited.
    pending: list[bytes]
    # When the stream must have ended (`time.monotonic()`): the attempt's `total_timeout_s`
    # from its start, or the request's deadline when sooner. None: no bound of its own.
    deadline: float | None = None
    # The router's, told once when the stream is over (ended, failed or abandoned) whether the
    # upstream was at fault, and its error when it said it is busy: the call stays in flight on
    # its deployment until then, a stream the upstream broke counts against its breaker, and
    # one it ended as overloaded or rate-limited benches the deployment.
    on_end: Callable[[bool, GatewayError | None], Awaitable[None]] | None = None

    async def aclose(self, upstream_fault: bool = False, busy: GatewayError | None = None) -> None:
        """Close the upstream response, then tell the router the stream is over (once)."""
        try:
            await self.upstream.aclose()
        finally:
            on_end, self.on_end = self.on_end, None
            if on_end is not None:
                await on_end(upstream_fault, busy)


# Asked by the router before it tries a fallback model (the pipeline's: it reserves the limits
# the key has on that model, `[model_limits."NAME"]`): True to try it, False to pass it over.
AdmitFallback = Callable[[ModelConfig], Awaitable[bool]]


# Not frozen (a frozen dataclass costs ~1 us more to make, per request): neither is changed
# after it is made.
@dataclass(slots=True)
class UpstreamCall:
    """One call to one deployment, ready for its client's `send`."""

    deployment: DeploymentConfig
    provider: ProviderConfig
    adapter: Adapter
    # Out of repr: the request's headers carry the provider key.
    prepared: PreparedRequest = field(repr=False)
    # The attempt's span id when the request is traced.
    span_id: int | None = None
    # A turn the upstream paused is continued here (`PreparedCall.continues_paused_turns`).
    continues_paused_turns: bool = False


@dataclass(slots=True)
class RouteRequest:
    """One request as the router sees it."""

    runtime: Runtime  # the config the request runs under, even if a reload happens meanwhile
    kind: EndpointKind
    body: dict[str, Any]
    model: ModelConfig
    stream: bool
    key_id: str  # sticky routing by key
    started: float  # monotonic, when the request arrived (deadline and attempt offsets)
    body_bytes: int  # the request's size: a prompt smaller than a context window needs no count
    prompt_tokens: Callable[[], int]  # the prompt's token estimate, computed on demand
    anthropic_beta: str | None = None
    request_id: str = ""  # named in the log lines of failed attempts
    # The model's breakers as read with the limits check (None: read them).
    breakers: Mapping[str, BreakerState] | None = None
    # Only this deployment (by name) may answer, with no fallback: it holds the conversation
    # a Responses API `previous_response_id` continues.
    deployment: str | None = None
    # The models the key may use (`[[keys]] models`; None: every one). A fallback outside them
    # is skipped, never called.
    models: tuple[str, ...] | None = None
    # The request's trace context (None: it has none): when it is traced, each attempt gets a
    # span id and a `traceparent` header naming it; else the client's is passed on.
    trace: UpstreamTrace | None = None
    # Asked before each fallback model is tried (None: no fallback model has limits of its
    # own for this key, so none is asked).
    admit_fallback: AdmitFallback | None = None
    # The upstream operation when not the kind's own (`Endpoint.operation`).
    operation: str = ""


@dataclass(slots=True)
class Exchange:
    """What happened upstream for one request; filled by `Router.route` as it goes."""

    attempts: list[Attempt] = field(default_factory=list)
    deployment: DeploymentConfig | None = None  # the one tried last (the one that answered)
    provider: ProviderConfig | None = None
    adapter: Adapter | None = None
    fallback_used: bool = False
    # Fallback models passed over because the key may not use them, in the order met (a tuple:
    # nothing to make for the requests that skip none).
    fallbacks_skipped: tuple[str, ...] = ()
    # Fallback models passed over because the key's own limits on them refused the request.
    fallbacks_limited: tuple[str, ...] = ()
    started: float | None = None  # monotonic, when the first upstream call began
    finished: float | None = None  # when the answer was all in (a stream: when it ended)
    # The answer, in the client's format: a JSON body (with its parsed form), or a stream.
    body: bytes | None = None
    json: dict[str, Any] | None = None
    usage: Usage | None = None
    stream: StreamReply | None = None
    # The failure a JSON answer reports of itself (a Responses `"status": "failed"`): the
    # answer is relayed as it is, and recorded and counted as a failure of its attempt.
    failure: UpstreamStreamError | None = None
    # Of the last upstream answer: its request id (`x-request-id`, Anthropic's `request-id`)
    # and its `x-ratelimit-*` headers, passed on to the client.
    upstream_request_id: str | None = None
    upstream_headers: dict[str, str] | None = None
