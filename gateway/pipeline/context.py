"""The state of one request as it moves through the pipeline stages."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.config.types import DeploymentConfig, KeyConfig, ModelConfig, ProviderConfig
from gateway.errors import GatewayError, WireFormat
from gateway.providers import Adapter, EndpointKind, StreamConverter, Usage

if TYPE_CHECKING:
    from gateway.runtime import Runtime
    from gateway.upstream import UpstreamResponse


@dataclass(frozen=True)
class Endpoint:
    path: str
    kind: EndpointKind
    wire: WireFormat  # the client's format, for bodies and errors


@dataclass(slots=True)
class Attempt:
    deployment: str
    model: str
    status: int | None
    error_kind: str | None
    duration_ms: float
    # When the attempt began, in ms after the request arrived.
    start_ms: float = 0.0


@dataclass(slots=True)
class StreamReply:
    upstream: UpstreamResponse
    chunks: AsyncIterator[bytes]
    converter: StreamConverter
    # Client-format bytes already converted while the first upstream chunk was awaited.
    pending: list[bytes]


@dataclass(slots=True)
class RequestContext:
    endpoint: Endpoint
    runtime: Runtime
    request_id: str
    ts: float  # wall clock at arrival
    started: float  # monotonic at arrival
    headers: dict[str, str]
    raw_body: bytes = b""
    body: dict[str, Any] | None = None
    key: KeyConfig | None = None
    model_name: str | None = None
    model: ModelConfig | None = None
    stream: bool = False
    deployment: DeploymentConfig | None = None
    provider: ProviderConfig | None = None
    adapter: Adapter | None = None
    attempts: list[Attempt] = field(default_factory=list)
    fallback_used: bool = False
    status: int = 0
    error: GatewayError | None = None
    usage: Usage | None = None
    response_body: bytes | None = None
    response_json: Any = None
    stream_reply: StreamReply | None = None
    upstream_started: float | None = None
    upstream_finished: float | None = None
    first_byte_sent: float | None = None
    client_closed: bool = False
    # Guardrail findings for the record: [{name, stage, action, entities}].
    guardrails: list[dict[str, Any]] = field(default_factory=list)
    # Per-request guardrail state (e.g. the placeholder map of `restore`).
    guard_state: Any = None
    # "hit" | "miss" | "bypass"
    cache: str = "bypass"
    cache_key: str | None = None
    cache_store: bool = False
    # Client-format bytes sent for a stream, kept only when the answer will be cached.
    sent_chunks: list[bytes] | None = None
    # A cache hit served as a stream: the pieces to send.
    cached_stream: list[bytes] | None = None
    # What the limiter reserved for this request (gateway.limits.limiter.Held), settled when it ends.
    limits_held: Any = None
    # The first upstream call, made while the limits were checked (routing.attempt.UpstreamCall).
    # Out of repr: its headers carry the provider key.
    upstream_draft: Any = field(default=None, repr=False)
    _prompt_estimate: int | None = None
    # Work the response needs but the upstream call does not (`defer`).
    _deferred: list[Callable[[], None]] | None = None

    def defer(self, work: Callable[[], None]) -> None:
        """Do `work` at the request's next await (while the upstream works, nearly always), and
        at the latest when the response starts (`run_deferred`, from `gateway_headers`)."""
        if self._deferred is None:
            self._deferred = []
            asyncio.get_running_loop().call_soon(self.run_deferred)
        self._deferred.append(work)

    def run_deferred(self) -> None:
        """The deferred work not done yet, in order; each runs once."""
        while self._deferred:
            work = self._deferred.pop(0)
            try:
                work()
            except Exception:  # a bug here must not fail a request that is otherwise answered
                logging.getLogger("gateway").exception(
                    "deferred work of request %s failed", self.request_id
                )

    def prompt_estimate(self) -> int:
        """tiktoken estimate of the prompt, computed at most once per request."""
        if self._prompt_estimate is None:
            from gateway import tokens

            body = self.body or {}
            if self.endpoint.kind == "embeddings":
                value = body.get("input")
                texts = (
                    [value]
                    if isinstance(value, str)
                    else [v for v in value or () if isinstance(v, str)]
                )
                self._prompt_estimate = sum(tokens.count_text(t) for t in texts)
            else:
                self._prompt_estimate = tokens.count_messages(
                    body.get("messages"), body.get("system")
                )
        return self._prompt_estimate

    response_headers: dict[str, str] = field(default_factory=dict)
