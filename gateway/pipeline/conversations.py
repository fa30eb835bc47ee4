"""Responses API conversations: `previous_response_id` goes back to the deployment that made
the response, across replicas.

Before a successful `/v1/responses` answer with `store` not false is complete for the client
(`remember_answer`, the last stage: a JSON answer before it is sent, a stream before its last
bytes), so that a follow-up sent the moment it arrives finds it on any replica, the state
backend remembers (`StateBackend.remember`, `[state] responses_ttl_s`) under the response id:
the deployment that made it and who may build on it (the key's team, else the key). For a
deployment that speaks Responses that is all: the upstream keeps the conversation. A
translated deployment (chat-only or Anthropic) keeps none, so the gateway remembers the
conversation too: the input items, the answer's output items, and the response object for
`GET /v1/responses/{id}`.

A follow-up (`continue_conversation`, a pipeline stage) is routed to that deployment only, with
no fallback (another would answer without the context); a translated one gets the remembered
items ahead of its `input`. A previous response the gateway does not know (expired, never made,
another team's) is a 400 `previous_response_not_found`, as OpenAI answers; one whose deployment
left the config a 404, one whose deployment serves another model a 409 naming that model.
What the gateway keeps of one response is bounded (`[state] responses_max_bytes`): a follow-up
whose conversation would outgrow it is a 400 `context_length_exceeded`, before the upstream.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

from gateway.config.types import DeploymentConfig, KeyConfig
from gateway.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from gateway.guardrails.base import Placeholders
from gateway.pipeline.context import RequestContext
from gateway.pipeline.services import Services
from gateway.providers import StreamConverter, speaks_responses, wire_provider
from gateway.providers.base import WrappingConverter
from gateway.quoted_text import quoted
from gateway.runtime import Runtime
from gateway.state import StateUnavailable

log = logging.getLogger("gateway")
KEY_PREFIX = "response:"


def owner(key: KeyConfig) -> str:
    """Who may build on a response: the key's team, else the key itself."""
    return f"team:{key.team}" if key.team else f"key:{key.id}"


def find_deployment(runtime: Runtime, name: str) -> tuple[str, DeploymentConfig] | None:
    """(model name, deployment) of the deployment called `name`, if still configured."""
    for model in runtime.config.models.values():
        for deployment in model.deployments:
            if deployment.name == name:
                return model.name, deployment
    return None


def translated(runtime: Runtime, deployment: DeploymentConfig) -> bool:
    provider = runtime.config.providers[deployment.provider]
    return not speaks_responses(wire_provider(provider, "responses"))


async def recall(services: Services, key: KeyConfig, response_id: str) -> dict[str, Any] | None:
    """What the gateway remembers of `response_id` for this key, or None."""
    try:
        raw = await services.state.recall(KEY_PREFIX + response_id, services.clock.time())
    except StateUnavailable as exc:
        services.metrics.state_error(exc.kind)
        raise ServiceUnavailable(
            f"cannot look up the response: the state backend is down ({exc.kind})"
        ) from None
    try:
        entry = orjson.loads(raw) if raw is not None else None
    except orjson.JSONDecodeError:  # damaged, or not written by the gateway: unknown
        entry = None
    if not isinstance(entry, dict) or entry.get("owner") != owner(key):
        return None
    return entry


def not_found(response_id: str) -> NotFound:
    """404 for `GET`/`DELETE /v1/responses/{id}` of a response this key cannot see."""
    return NotFound(
        f"the response '{quoted(response_id)}' is unknown to this gateway (never made, expired, "
        "stored with store=false, or made for another team)",
        code="response_not_found",
    )


def previous_not_found(response_id: str) -> InvalidRequest:
    """400 for a `previous_response_id` this key cannot build on: OpenAI's status and code."""
    return InvalidRequest(
        f"the previous response '{quoted(response_id)}' is unknown to this gateway (never made, "
        "expired, stored with store=false, or made for another team)",
        param="previous_response_id",
        code="previous_response_not_found",
    )


def too_long(max_bytes: int) -> InvalidRequest:
    """400 for a follow-up whose conversation would outgrow what the gateway keeps of one:
    OpenAI's status and code for a conversation past the context window (the SDK's
    `BadRequestError`; agent toolkits read the code to trim or summarise)."""
    return InvalidRequest(
        f"the conversation is longer than this gateway keeps ({max_bytes} bytes of items, "
        "[state] responses_max_bytes): start a new one, or send a shorter history in 'input' "
        "without previous_response_id",
        param="input",
        code="context_length_exceeded",
    )


async def continue_conversation(ctx: RequestContext, services: Services) -> None:
    """Pipeline stage: pin a `previous_response_id` follow-up to its deployment."""
    if ctx.endpoint.kind != "responses":
        return
    assert ctx.body is not None and ctx.key is not None and ctx.model is not None
    previous = ctx.body.get("previous_response_id")
    if not previous:
        return
    param = "previous_response_id"
    entry = await recall(services, ctx.key, previous)
    if entry is None:
        raise previous_not_found(previous)
    name = str(entry.get("deployment"))
    found = find_deployment(ctx.runtime, name)
    if found is None:
        raise NotFound(
            f"the previous response was made by the deployment '{name}', which is no longer "
            "configured: its conversation cannot be continued",
            param=param,
            code="previous_response_deployment_gone",
        )
    model_name, deployment = found
    if name not in ctx.model.deployment_names:
        raise Conflict(
            f"the previous response was made by a deployment of the model '{model_name}': "
            f"continue it with model '{model_name}'",
            param=param,
            code="previous_response_other_model",
        )
    if entry.get("too_long"):
        raise too_long(ctx.runtime.config.state.responses_max_bytes)
    ctx.pinned_deployment = name
    seeded = entry.get("placeholders")
    if isinstance(seeded, dict):
        # The history holds the `restore` placeholders of earlier turns: same values, same map.
        ctx.placeholders = Placeholders.seeded(seeded)
    items = entry.get("items")
    if isinstance(items, list) and translated(ctx.runtime, deployment):
        body = {k: v for k, v in ctx.body.items() if k != param}
        body["input"] = items + _as_items(ctx.body.get("input"))
        max_bytes = ctx.runtime.config.state.responses_max_bytes
        if len(orjson.dumps(body["input"])) > max_bytes:  # refused before the upstream call
            raise too_long(max_bytes)
        ctx.body = body


def _as_items(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [{"type": "message", "role": "user", "content": value}]
    return list(value) if isinstance(value, list) else []


def answered_response(ctx: RequestContext) -> dict[str, Any] | None:
    """The response object just sent (a stream's from its last event), if there is one."""
    if ctx.stream_reply is not None:
        # The outermost converter that has one: an output guardrail's holds what the client
        # was sent (redacted), the adapter's what the upstream wrote.
        converter: StreamConverter | None = ctx.stream_reply.converter
        while converter is not None:
            response = getattr(converter, "response", None)
            if isinstance(response, dict):
                return response
            converter = converter.inner if isinstance(converter, WrappingConverter) else None
        return None
    return ctx.response_json


def _entry(ctx: RequestContext) -> tuple[str, bytes] | None:
    """(response id, what to remember of it), or None when there is nothing to remember."""
    if ctx.endpoint.kind != "responses" or ctx.cache == "hit" or ctx.key is None:
        return None
    if ctx.body is None or ctx.body.get("store") is False or ctx.exchange.deployment is None:
        return None
    response = answered_response(ctx)
    if response is None or not isinstance(response.get("id"), str):
        return None
    deployment = ctx.exchange.deployment
    entry: dict[str, Any] = {"deployment": deployment.name, "owner": owner(ctx.key)}
    if ctx.placeholders is not None and ctx.placeholders.by_placeholder:
        entry["placeholders"] = ctx.placeholders.by_placeholder
    if translated(ctx.runtime, deployment):
        entry["items"] = _as_items(ctx.body.get("input")) + list(response.get("output") or ())
        entry["response"] = response
    return response["id"], _bounded(entry, ctx.runtime.config.state.responses_max_bytes)


def _bounded(entry: dict[str, Any], max_bytes: int) -> bytes:
    """The entry as stored: over `max_bytes`, without its conversation, marked so that a
    follow-up is refused as too long (not as unknown); without the response object and the
    placeholders too when it is still over (`GET` then answers 404)."""
    made = orjson.dumps(entry)
    if len(made) <= max_bytes:
        return made
    entry = {k: v for k, v in entry.items() if k != "items"}
    entry["too_long"] = True
    made = orjson.dumps(entry)
    if len(made) <= max_bytes:
        return made
    kept = {"deployment": entry["deployment"], "owner": entry["owner"], "too_long": True}
    return orjson.dumps(kept)


async def remember_answer(ctx: RequestContext, services: Services) -> None:
    """Pipeline stage (the last): remember the answer's response id before the client has it
    all, so a follow-up on any replica finds it. A JSON answer is remembered now; a stream once
    the upstream ended, before its last bytes go out (`finish` writes the final object)."""
    if ctx.endpoint.kind != "responses" or ctx.cache == "hit":
        return
    if ctx.stream_reply is None:
        await _remember(ctx, services)
        return
    ctx.stream_reply.chunks = _remember_when_done(ctx.stream_reply.chunks, ctx, services)


async def _remember_when_done(
    chunks: AsyncIterator[bytes], ctx: RequestContext, services: Services
) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        yield chunk
    await _remember(ctx, services)


def remember_soon(ctx: RequestContext, services: Services) -> None:
    """At the end of a successful stream: remember the final response object (in the
    background; `remember_answer` already made the id usable)."""
    if ctx.stream_reply is None or ctx.status != 200 or ctx.error is not None:
        return
    if ctx.endpoint.kind == "responses" and not ctx.client_closed:  # a task costs ~5 us
        services.spawn(_remember(ctx, services))


async def _remember(ctx: RequestContext, services: Services) -> None:
    made = _entry(ctx)
    if made is None:
        return
    response_id, entry = made
    ttl_s = ctx.runtime.config.state.responses_ttl_s
    try:
        await services.state.remember(KEY_PREFIX + response_id, entry, ttl_s, services.clock.time())
    except StateUnavailable as exc:
        services.metrics.state_error(exc.kind)
        log.warning("cannot remember response %s: the state backend is down", response_id)
    except Exception:
        log.exception("cannot remember response %s", response_id)
