"""One upstream attempt: send the request to one deployment and take in its answer.

Success fills the exchange (a JSON body, or a stream whose first converted bytes are already in
hand, so a stream that fails before its first byte can still move to another deployment).
Failure raises `AttemptFailed`, which says whether another try may help.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import math
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from gateway.clock import Clock
from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentApi, DeploymentConfig, ModelConfig
from gateway.errors import (
    GatewayError,
    UpstreamFailed,
    UpstreamRejected,
    UpstreamStreamError,
    UpstreamTimeout,
    upstream_failed,
)
from gateway.observability.trace_context import UpstreamTrace
from gateway.providers import EndpointKind, adapter_for, response_failure, wire_provider
from gateway.providers.chat_cut_short import cut_short_answer, ran_out_of_tokens
from gateway.quoted_text import quoted
from gateway.routing.attempt_failure import (
    AttemptFailed,
    is_busy,
    is_content_policy,
    is_context_overflow,
    is_missing_model,
)
from gateway.routing.exchange import Attempt, Exchange, RouteRequest, StreamReply, UpstreamCall
from gateway.routing.paused_turns import ContinuedResponse, continued_answer
from gateway.routing.upstream_headers import retry_after_s, take_upstream_headers
from gateway.runtime import Runtime
from gateway.upstream import (
    UpstreamClient,
    UpstreamError,
    UpstreamRequest,
    UpstreamResponse,
    UpstreamTimeouts,
    WholeResponse,
    request_of,
)

# The upstream client that serves a provider (the network, or the in-process mock).
ClientFor = Callable[[ProviderConfig], UpstreamClient]


# The client-facing codes of the transport failures that have one (else `upstream_error`).
_TRANSPORT_CODES = {
    "redirect": "upstream_redirect",
    "too_large": "upstream_response_too_large",
    "tls": "upstream_tls_error",
}


def _failure_from_upstream_error(exc: UpstreamError, deployment: DeploymentConfig) -> AttemptFailed:
    name = deployment.name
    if exc.kind.endswith("timeout"):
        return AttemptFailed(
            UpstreamTimeout(f"upstream {name} timed out ({exc.kind})"), retryable=True
        )
    code = _TRANSPORT_CODES.get(exc.kind)
    return AttemptFailed(
        UpstreamFailed(f"upstream {name} failed ({exc.kind}): {quoted(exc)}", code=code),
        retryable=True,
    )


def build_call(
    runtime: Runtime,
    kind: EndpointKind,
    body: dict[str, Any],
    anthropic_beta: str | None,
    deployment: DeploymentConfig,
    client_for: ClientFor,
    trace: tuple[UpstreamTrace, int | None] | None = None,
    operation: str = "",
    api: DeploymentApi | None = None,
    dropped: tuple[str, ...] = (),
) -> UpstreamCall:
    """The upstream call of a request to `deployment`, prepared by the client that sends it;
    `trace` (the request's trace context, the attempt's span id when it is traced) adds its
    `traceparent` and `tracestate` headers; `operation`, when not the kind's own
    (`adapter_for`); `api`, when not the deployment's (`learned_apis`); `dropped`, fields
    left out besides the provider's `drop_params` (`learned_params`)."""
    provider = runtime.config.providers[deployment.provider]
    wire = wire_provider(provider, kind)
    if dropped:
        wire = _dropping(wire, dropped)
    adapter = adapter_for(
        kind, wire, anthropic_beta, body, api or deployment.api, deployment.model, operation
    )
    call = adapter.prepare(body, deployment, wire, runtime.provider_key(provider.name))
    extra = runtime.provider_headers.get(provider.name)
    headers = call.headers if extra is None else {**call.headers, **extra}
    span_id = None
    if trace is not None:
        span_id = trace[1]
        headers = {**headers, **trace[0].headers(span_id)}
    request = UpstreamRequest("POST", call.url, headers, call.body)
    prepared = client_for(provider).prepare(request)
    continues = call.continues_paused_turns
    return UpstreamCall(deployment, provider, adapter, prepared, span_id, continues)


@functools.lru_cache(maxsize=256)
def _dropping(provider: ProviderConfig, dropped: tuple[str, ...]) -> ProviderConfig:
    """`provider` with `dropped` in its `drop_params` (made once per provider and list)."""
    fields = tuple(dict.fromkeys((*provider.drop_params, *dropped)))
    return dataclasses.replace(provider, drop_params=fields)


async def call_deployment(
    request: RouteRequest,
    exchange: Exchange,
    model: ModelConfig,
    call: UpstreamCall,
    client: UpstreamClient,
    timeouts: UpstreamTimeouts,
    body_timeout_s: float,
    clock: Clock,
) -> None:
    """Try `call.deployment` once; on success the exchange holds the answer, else AttemptFailed."""
    deployment, adapter = call.deployment, call.adapter
    exchange.deployment, exchange.provider, exchange.adapter = deployment, call.provider, adapter
    started = clock.monotonic()
    if exchange.started is None:
        exchange.started = started
    attempt = Attempt(
        deployment.name,
        model.name,
        None,
        None,
        0.0,
        (started - request.started) * 1000,
        call.span_id,
    )
    exchange.attempts.append(attempt)
    response: UpstreamResponse | None = None
    exchange.upstream_request_id = exchange.upstream_headers = None
    try:
        response = await client.send(call.prepared, timeouts)
        attempt.status = response.status
        take_upstream_headers(exchange, response.headers, request.runtime.secrets)
        if response.status >= 400:
            attempt.error_kind = f"http_{response.status}"
            failure = await _rejection(response, call)
            if not failure.out_of_tokens:
                raise failure
            # Answered as the empty answer the limit cut, as the other APIs answer it (the
            # attempt keeps the upstream's 400: `chat_cut_short`).
            await response.aclose()
            headers, cut = cut_short_answer(deployment.model, request.stream)
            response = WholeResponse(200, headers, cut)
        if request.stream:
            # The attempt's whole time (`total_timeout_s`, or what is left of the request's):
            # waiting for the first event here, the rest of the stream in the responder.
            deadline = time.monotonic() + max(0.0, body_timeout_s - (clock.monotonic() - started))
            async with asyncio.timeout(deadline - time.monotonic()):
                stream = await _start_stream(
                    response, call, request.body, client, timeouts, attempt
                )
            stream.deadline = deadline
            exchange.stream = stream
            response = None  # the responder owns it now
        else:
            if response.body_complete:
                data = await response.read()  # all in already: nothing to time out
            else:
                # What is left of the attempt's time (`total_timeout_s` counts from the connect,
                # the wait for the headers included), as for a stream.
                async with asyncio.timeout(
                    max(0.0, body_timeout_s - (clock.monotonic() - started))
                ):
                    data = await response.read()
            if call.continues_paused_turns:
                left_s = max(0.0, body_timeout_s - (clock.monotonic() - started))
                data = await continued_answer(data, call, client, timeouts, left_s, attempt)
            exchange.body, exchange.usage, exchange.json = adapter.convert_json(data)
            exchange.finished = clock.monotonic()
            if request.kind == "responses":  # a failed response: relayed, then recorded
                exchange.failure = response_failure(exchange.json)
    except UpstreamError as exc:
        attempt.error_kind = exc.kind
        raise _failure_from_upstream_error(exc, deployment) from None
    except TimeoutError:
        attempt.error_kind = "timeout"
        raise AttemptFailed(
            UpstreamTimeout(f"upstream {deployment.name} took too long"), retryable=True
        ) from None
    except UpstreamFailed as exc:
        # Malformed answers: the deployment is misbehaving, another may not be. A stream that
        # said it is overloaded before its first byte is a 529 in all but its status; one that
        # named a 4xx (llama.cpp's prompt over its context) is that refusal.
        rejection = exc.rejection if isinstance(exc, UpstreamStreamError) else None
        if rejection is not None:
            attempt.error_kind = f"http_{rejection.upstream_status}"
            raise _refused(rejection, rejection.upstream_status) from None
        attempt.error_kind = attempt.error_kind or exc.kind
        busy = isinstance(exc, UpstreamStreamError) and exc.rate_limited
        raise AttemptFailed(exc, retryable=True, rate_limited=busy) from None
    except AttemptFailed:
        raise
    except asyncio.CancelledError:
        attempt.error_kind = "client_closed"  # the client left: the request is cancelled
        raise
    except GatewayError as exc:
        attempt.error_kind = attempt.error_kind or exc.kind
        raise AttemptFailed(exc, retryable=False) from None
    finally:
        attempt.duration_ms = (clock.monotonic() - started) * 1000
        if response is not None:
            await response.aclose()


async def _rejection(response: UpstreamResponse, call: UpstreamCall) -> AttemptFailed:
    """The upstream's error answer as the client's error, and whether another try may help.
    The status decides: a body that cannot be read (a malformed compressed body, one past
    `max_response_bytes`) leaves the error without the upstream's text, not a 502 (a 429
    stays a rate limit, with its Retry-After)."""
    status = response.status
    unreadable: UpstreamError | None = None
    try:
        data = await response.read()
    except UpstreamError as exc:
        data, unreadable = b"", exc
    error = call.adapter.convert_error(status, data, call.deployment)
    if unreadable is not None:  # said to the client, and in the attempt's log line
        error.message += f" (its body could not be read: {unreadable.kind})"
    wait_s = retry_after_s(response.headers)
    if wait_s is None and isinstance(error, UpstreamRejected):
        wait_s = error.retry_after_s  # said in the body (Gemini's `RetryInfo`)
    if status == 503 and wait_s is not None:
        # Passed on as whole seconds (a 503 keeps its status; the upstream's text could carry
        # anything); a rate limit's wait is the router's.
        error.headers["retry-after"] = str(math.ceil(wait_s))
    # (said by chat completions only: the answer in its place is a chat completion)
    out_of_tokens = ran_out_of_tokens(status, error.message) and speaks_chat(call)
    failure = _refused(error, status, wait_s, out_of_tokens)
    should_retry = response.headers.get("x-should-retry")
    if should_retry == "true" or should_retry == "false":
        _obey_should_retry(failure, should_retry == "true")
    return failure


def speaks_chat(call: UpstreamCall) -> bool:
    """Whether `call` goes to an upstream's chat completions (OpenAI's, Azure's, any other)."""
    return urlsplit(request_of(call.prepared).url).path.endswith("/chat/completions")


def _obey_should_retry(failure: AttemptFailed, retry: bool) -> None:
    """Anthropic's `x-should-retry` (whether retrying this request can help, whatever the
    status): `true` makes the failure retryable (a 409, a 408); `false` keeps this deployment
    from being asked again within the request (others and the fallbacks may still serve it).
    Passed on to the client either way: the Anthropic and OpenAI SDKs both obey it."""
    failure.error.headers["x-should-retry"] = "true" if retry else "false"
    if retry:
        failure.retryable = True
    else:
        failure.elsewhere_only = True


def _refused(
    error: GatewayError, status: int, wait_s: float | None = None, out_of_tokens: bool = False
) -> AttemptFailed:
    """An upstream's refusal of `status` as a failed attempt, and whether another try may help.
    A 429, a 529 and a 503 that says it is busy (`is_busy`) are rate limits: the deployment is
    benched, not counted as a fault."""
    rate_limited = status in (429, 529) or (status == 503 and is_busy(error, wait_s))
    missing_model = is_missing_model(error)
    return AttemptFailed(
        error,
        retryable=rate_limited or upstream_failed(status) or missing_model,
        retry_after_s=wait_s,
        content_policy=is_content_policy(error),
        context_window=is_context_overflow(error),
        rate_limited=rate_limited,
        elsewhere_only=missing_model,
        missing_model=missing_model,
        out_of_tokens=out_of_tokens,
    )


async def _start_stream(
    response: UpstreamResponse,
    call: UpstreamCall,
    body: dict[str, Any],
    client: UpstreamClient,
    timeouts: UpstreamTimeouts,
    attempt: Attempt,
) -> StreamReply:
    """Read until the first bytes the client can be sent (or the end), converting as it goes;
    a turn the upstream pauses is continued on the way (`paused_turns`)."""
    converter = call.adapter.stream(body)
    if call.continues_paused_turns:
        response = ContinuedResponse(response, call, client, timeouts, attempt)
    chunks = response.iter_chunks()
    pending: list[bytes] = []
    async for chunk in chunks:
        pending = converter.feed(chunk)
        if pending:
            break
    else:
        pending = converter.finish()
    return StreamReply(response, chunks, converter, pending)
