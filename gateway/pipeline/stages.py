"""The request pipeline: an explicit, ordered list of stages.

Each stage reads and fills the RequestContext, or raises a GatewayError that ends the request
with that error. Whatever happens here, the endpoint ends the request with
`gateway.pipeline.finish.finish_request` (exactly one record per request).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from gateway.errors import AuthenticationError, InvalidRequest, NotFound, PermissionDenied
from gateway.limits.estimate import completion_tokens, priced_estimate
from gateway.limits.held import Held
from gateway.limits.prepared_plans import PreparedHeld
from gateway.pipeline.attribution import attribute
from gateway.pipeline.cache import cache_lookup
from gateway.pipeline.context import RequestContext
from gateway.pipeline.conversations import continue_conversation, remember_answer
from gateway.pipeline.guard import guard_input, guard_output
from gateway.pipeline.prompt import use_prompt
from gateway.pipeline.route import route_and_call
from gateway.pipeline.services import Services
from gateway.pipeline.thinking_store import remember_thinking, restore_thinking
from gateway.providers.service_tiers import asked_tier
from gateway.quoted_text import quoted
from gateway.validation import (
    check_depth,
    too_deep,
    validate_chat,
    validate_completions,
    validate_count_tokens,
    validate_embeddings,
    validate_messages,
    validate_responses,
)

Stage = Callable[[RequestContext, Services], Awaitable[None]]

_VALIDATORS = {
    "chat": validate_chat,
    "messages": validate_messages,
    "embeddings": validate_embeddings,
    "responses": validate_responses,
    "completions": validate_completions,
    "count_tokens": validate_count_tokens,
}
_NOT_STREAMED = ("embeddings", "count_tokens")


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
    if "," in presented:  # several header lines, joined (no key has a comma)
        raise AuthenticationError(
            "the API key was sent in several headers: send one 'Authorization' (or "
            "'x-api-key') header"
        )
    found = ctx.runtime.find_secret(presented)
    if found is None:
        raise AuthenticationError("invalid API key")
    ctx.key, ctx.previous_secret = found


async def parse_body(ctx: RequestContext, services: Services) -> None:
    """Parse the JSON body once and check the fields the gateway relies on."""
    try:
        body: Any = orjson.loads(ctx.raw_body)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit exceeded"):  # orjson's own limit, far past ours
            raise too_deep() from None
        raise InvalidRequest(
            f"request body is not valid JSON: {quoted(exc)}", code="invalid_json"
        ) from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object", code="invalid_json")
    check_depth(body, ctx.raw_body)
    _VALIDATORS[ctx.endpoint.kind](body)
    ctx.body = body
    ctx.model_name = body["model"]
    ctx.stream = bool(body.get("stream")) and ctx.endpoint.kind not in _NOT_STREAMED


async def resolve_model(ctx: RequestContext, services: Services) -> None:
    """The public model name -> its model group; 404 when unknown, 403 when the key may not
    use it."""
    assert ctx.key is not None and ctx.model_name is not None
    model = ctx.runtime.config.models.get(ctx.model_name)
    if model is None:
        raise NotFound(
            f"the model '{quoted(ctx.model_name)}' does not exist on this gateway",
            param="model",
            code="model_not_found",
        )
    if not ctx.key.allows(model.name):
        raise PermissionDenied(
            f"this key is not allowed to use the model '{model.name}'", param="model"
        )
    ctx.model = model


async def check_limits(ctx: RequestContext, services: Services) -> None:
    """Reserve the key's, team's and model's limits and budgets (429 when one is reached)."""
    assert ctx.key is not None and ctx.model is not None and ctx.body is not None
    plan = ctx.runtime.limit_plans.get(ctx.key, ctx.model)
    if plan is None:
        return
    prompt_tokens = ctx.prompt_estimate() if plan.needs_estimate else 0
    completion = completion_tokens(ctx.body, ctx.endpoint.kind)
    # Held until the request's deadline at the latest (the endpoint's total time limit).
    began = time.monotonic()
    deadline_s = max(0.0, ctx.runtime.config.server.request_timeout_s - (began - ctx.started))
    limiter = services.limiter
    # The plan's prepared path when the state has one (in process); else, and for a refusal
    # (refused there with every check's result), the checks of this request one by one.
    held: Held | PreparedHeld | None = limiter.acquire_prepared(
        plan, prompt_tokens + completion, ctx.model, deadline_s
    )
    try:
        if held is None:
            if plan.tpm_only_varies:  # the usual plan: its checks take the tokens alone
                checks = plan.for_tokens(prompt_tokens + completion)
            else:
                tier = asked_tier(ctx.body) if plan.priced else None
                estimate = priced_estimate(ctx.model, prompt_tokens, completion, plan.priced, tier)
                checks = plan.for_request(estimate, ctx.user)
            held = await limiter.acquire(checks, ctx.model, deadline_s, plan.sorting)
    finally:
        ctx.limits_ms = (time.monotonic() - began) * 1000
    ctx.limits_held = held
    if held is not None:
        ctx.rate_headers = held.rate_header_lines()


STAGES: tuple[Stage, ...] = (
    authenticate,
    parse_body,
    attribute,
    resolve_model,
    continue_conversation,
    use_prompt,
    check_limits,
    guard_input,
    cache_lookup,
    restore_thinking,
    route_and_call,
    guard_output,
    remember_thinking,
    remember_answer,
)
# The stages that read only the request's head: run before its body is read, so a request they
# refuse (401) is answered without reading it (`Expect: 100-continue` gets no 100 Continue).
HEAD_STAGES = frozenset({authenticate})
# The stages whose time is the request's `guardrails_ms` (Server-Timing `guardrails;dur`).
GUARDRAIL_STAGES = frozenset({guard_input, guard_output})
# The stages with work on one endpoint only (each returns at once elsewhere).
_RESPONSES_ONLY = frozenset({continue_conversation, remember_answer})
_CHAT_ONLY = frozenset({restore_thinking, remember_thinking})


def stages_for(kind: str) -> tuple[Stage, ...]:
    """`STAGES` as an endpoint of `kind` runs them: without those that do nothing for it."""
    skipped = (_RESPONSES_ONLY if kind != "responses" else frozenset()) | (
        _CHAT_ONLY if kind != "chat" else frozenset()
    )
    return tuple(stage for stage in STAGES if stage not in skipped)
