"""The request pipeline: an explicit, ordered list of stages.

Each stage reads and fills the RequestContext, or raises a GatewayError that ends the request
with that error. The record is written once per request by the caller (`gateway.handler`),
whatever happens here.
"""

from __future__ import annotations

import time
from typing import Any, Awaitable, Callable

import orjson

from gateway.context import Attempt, RequestContext, StreamReply
from gateway.errors import (
    AuthenticationError,
    GatewayError,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    UpstreamFailed,
    UpstreamTimeout,
)
from gateway.providers import adapter_for, wire_provider
from gateway.routing.strategies import Candidate, Selection, weighted
from gateway.services import Services
from gateway.upstream import UpstreamError, UpstreamRequest
from gateway.validation import validate_chat, validate_embeddings, validate_messages

Stage = Callable[[RequestContext, Services], Awaitable[None]]

_VALIDATORS = {"chat": validate_chat, "messages": validate_messages, "embeddings": validate_embeddings}


async def authenticate(ctx: RequestContext, services: Services) -> None:
    """Find the gateway key: `Authorization: Bearer`, or `x-api-key` on the Anthropic endpoint."""
    presented = None
    authorization = ctx.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            presented = token.strip()
    if presented is None and ctx.endpoint.wire == "anthropic":
        presented = ctx.headers.get("x-api-key") or None
    if presented is None:
        raise AuthenticationError(
            "missing API key: send 'Authorization: Bearer <key>'"
            + (" or 'x-api-key: <key>'" if ctx.endpoint.wire == "anthropic" else ""),
            code="missing_api_key",
        )
    key = ctx.runtime.find_key(presented)
    if key is None:
        raise AuthenticationError("invalid API key")
    ctx.key = key


async def parse_body(ctx: RequestContext, services: Services) -> None:
    """Parse the JSON body once and check the fields the gateway relies on."""
    try:
        body: Any = orjson.loads(ctx.raw_body)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object", code="invalid_json")
    _VALIDATORS[ctx.endpoint.kind](body)
    ctx.body = body
    ctx.model_name = body["model"]
    ctx.stream = bool(body.get("stream")) and ctx.endpoint.kind != "embeddings"


async def resolve_model(ctx: RequestContext, services: Services) -> None:
    """The public model name -> its model group; 404 when unknown, 403 when the key may not use it."""
    assert ctx.key is not None and ctx.model_name is not None
    model = ctx.runtime.config.models.get(ctx.model_name)
    if model is None:
        raise NotFound(f"the model '{ctx.model_name}' does not exist on this gateway", param="model", code="model_not_found")
    if not ctx.key.allows(model.name):
        raise PermissionDenied(f"this key is not allowed to use the model '{model.name}'", param="model")
    ctx.model = model


def _upstream_exception(exc: UpstreamError, deployment: str) -> GatewayError:
    if exc.kind.endswith("timeout"):
        return UpstreamTimeout(f"upstream {deployment} timed out ({exc.kind}): {exc}")
    return UpstreamFailed(f"upstream {deployment} failed ({exc.kind}): {exc}")


async def call_upstream(ctx: RequestContext, services: Services) -> None:
    """Send the request to one deployment of the model and take in its answer (or first chunk)."""
    assert ctx.model is not None and ctx.body is not None
    config = ctx.runtime.config
    deployment = weighted([Candidate(d) for d in ctx.model.deployments], Selection(services.rng)).deployment
    provider = config.providers[deployment.provider]
    wire = wire_provider(provider, ctx.endpoint.kind)
    adapter = adapter_for(ctx.endpoint.kind, wire, ctx.headers.get("anthropic-beta"))
    ctx.deployment, ctx.provider, ctx.adapter = deployment, provider, adapter
    call = adapter.prepare(ctx.body, deployment, wire, ctx.runtime.provider_key(provider.name))
    timeouts = deployment.timeouts
    request = UpstreamRequest(
        method="POST",
        url=call.url,
        headers=call.headers,
        body=call.body,
        connect_timeout_s=timeouts.connect_s,
        first_byte_timeout_s=timeouts.first_token_s,
        idle_timeout_s=timeouts.idle_s,
    )
    started = ctx.upstream_started = time.monotonic()
    attempt = Attempt(deployment.name, None, None, 0.0)
    ctx.attempts.append(attempt)
    response = None
    try:
        response = await services.client_for(provider).send(request)
        attempt.status = response.status
        if response.status >= 400:
            data = await response.read()
            error = adapter.convert_error(response.status, data, deployment)
            attempt.error_kind = f"http_{response.status}"
            retry_after = response.headers.get("retry-after")
            if retry_after and response.status == 429:
                error.headers["retry-after"] = retry_after
            raise error
        if ctx.stream:
            converter = adapter.stream(ctx.body)
            chunks = response.iter_chunks()
            pending: list[bytes] = []
            async for chunk in chunks:
                pending = converter.feed(chunk)
                if pending:
                    break
            else:
                pending = converter.finish()
            ctx.stream_reply = StreamReply(response, chunks, converter, pending)
            response = None  # the responder owns it now
        else:
            data = await response.read()
            ctx.response_body, ctx.usage, ctx.response_json = adapter.convert_json(data)
            ctx.upstream_finished = time.monotonic()
    except UpstreamError as exc:
        attempt.error_kind = exc.kind
        raise _upstream_exception(exc, deployment.name) from None
    except GatewayError as exc:
        attempt.error_kind = attempt.error_kind or exc.kind
        raise
    finally:
        attempt.duration_ms = (time.monotonic() - started) * 1000
        if response is not None:
            await response.aclose()


STAGES: tuple[Stage, ...] = (authenticate, parse_body, resolve_model, call_upstream)
