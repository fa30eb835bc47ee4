"""`POST /v1/messages/count_tokens`: its own short list of stages.

The model's Anthropic-type deployments answer it exactly (the request goes through the router,
with its retries and breakers, to one of them); a model without one (OpenAI-compatible or
in-process mock deployments) gets a local tiktoken estimate, marked by the response header
`x-gateway-token-count: estimate`. A registered prompt the request names is rendered in
first, as on `/v1/messages`. Counting generates nothing and costs nothing: no limits are
reserved, no budget is spent, the cache and guardrails are not involved, and the record shows
zero tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import orjson

from gateway import tokens
from gateway.config.types import ModelConfig, ProviderConfig
from gateway.pipeline.context import RequestContext
from gateway.pipeline.prompt import use_prompt
from gateway.pipeline.route import route_request
from gateway.pipeline.services import Services
from gateway.pipeline.stages import Stage, authenticate, parse_body, resolve_model
from gateway.providers import Usage
from gateway.routing.exchange import RouteRequest

ESTIMATE_HEADER = "x-gateway-token-count"


def anthropic_group(
    model: ModelConfig, providers: Mapping[str, ProviderConfig]
) -> ModelConfig | None:
    """`model` narrowed to its Anthropic-type deployments that take traffic, without fallbacks
    (another model may have none); None when it has no such deployment."""
    kept = tuple(
        d for d in model.deployments if d.weight > 0 and providers[d.provider].type == "anthropic"
    )
    if not kept:
        return None
    return dataclasses.replace(
        model,
        deployments=kept,
        fallbacks=(),
        context_window_fallbacks=(),
        content_policy_fallbacks=(),
    )


def estimate_input_tokens(body: dict[str, object]) -> int:
    """tiktoken's count of the messages, the system prompt and the tool definitions."""
    count = tokens.count_messages(body.get("messages"), body.get("system"))
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        count += tokens.count_text(orjson.dumps(tools).decode())
    return count


async def count_tokens(ctx: RequestContext, services: Services) -> None:
    """Stage: the count, from an Anthropic deployment or estimated here."""
    assert ctx.body is not None and ctx.model is not None
    group = anthropic_group(ctx.model, ctx.runtime.config.providers)
    if group is None:
        answer = {"input_tokens": estimate_input_tokens(ctx.body)}
        ctx.response_json = answer
        ctx.response_body = orjson.dumps(answer)
        ctx.response_headers[ESTIMATE_HEADER] = "estimate"
        ctx.usage = Usage(reported=True)  # nothing was spent: zero is exact
        return
    request: RouteRequest = dataclasses.replace(route_request(ctx), model=group)
    await services.router.route(request, ctx.exchange)
    ctx.response_body, ctx.response_json = ctx.exchange.body, ctx.exchange.json
    ctx.usage = Usage(reported=True)


# `use_prompt`: a registered prompt is rendered in, so the count is that of what `/v1/messages`
# would send.
COUNT_TOKENS_STAGES: tuple[Stage, ...] = (
    authenticate,
    parse_body,
    resolve_model,
    use_prompt,
    count_tokens,
)
