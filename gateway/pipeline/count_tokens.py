"""The token counts, `POST /v1/messages/count_tokens` (Anthropic's) and `POST
/v1/responses/input_tokens` (OpenAI's): their own short list of stages.

The model's deployments that count answer it exactly (the request goes through the router,
with its retries and breakers, to one of them): its Anthropic-type deployments for a Messages
count, those whose provider speaks the Responses API for a Responses one. A model without one
(OpenAI-compatible or Anthropic on the other count, the in-process mock) gets a local tiktoken
estimate, marked by the response header `x-gateway-token-count: estimate` (a Messages count of
the conversation as the gateway would send it, its context edits applied). A registered prompt
the request names is rendered in first, as on `/v1/messages` and `/v1/responses`. Counting
generates nothing and costs nothing: no limits are reserved, no budget is spent, the cache and
guardrails are not involved, and the record shows zero tokens.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping

import orjson

from gateway import tokens
from gateway.config.provider_types import ProviderConfig
from gateway.config.types import ModelConfig
from gateway.errors import InvalidRequest
from gateway.pipeline.context import RequestContext
from gateway.pipeline.prompt import use_prompt
from gateway.pipeline.route import route_request
from gateway.pipeline.services import Services
from gateway.pipeline.stages import Stage, authenticate, parse_body, resolve_model
from gateway.providers import Usage, speaks_responses
from gateway.providers.anthropic.context_edits import with_context_edits
from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.responses.input_tokens import (
    count_body,
    estimated_input_tokens,
    input_tokens_answer,
)
from gateway.routing.exchange import RouteRequest

ESTIMATE_HEADER = "x-gateway-token-count"


def counting_group(
    model: ModelConfig,
    providers: Mapping[str, ProviderConfig],
    counts: Callable[[ProviderConfig], bool],
) -> ModelConfig | None:
    """`model` narrowed to its deployments that take traffic and whose provider `counts`,
    without fallbacks (another model may have none); None when it has no such deployment."""
    kept = tuple(d for d in model.deployments if d.weight > 0 and counts(providers[d.provider]))
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
    group = counting_group(ctx.model, ctx.runtime.config.providers, counts_messages)
    if group is None:
        # What would be sent: its context edits applied, as the gateway sends it to an
        # OpenAI-format deployment (`context_edits`), with the count before them, as Claude's.
        edited = with_context_edits(ctx.body)
        answer: dict[str, object] = {"input_tokens": estimate_input_tokens(edited)}
        if edited is not ctx.body:
            original = estimate_input_tokens(ctx.body)
            answer["context_management"] = {"original_input_tokens": original}
        _estimated(ctx, answer)
        return
    await _counted(ctx, services, dataclasses.replace(route_request(ctx), model=group))


def counts_messages(provider: ProviderConfig) -> bool:
    """Whether `provider` counts a Messages request (Anthropic's API does)."""
    return provider.type == "anthropic"


def counts_responses(provider: ProviderConfig) -> bool:
    """Whether `provider` counts a Responses request (an upstream with the Responses API; the
    in-process mock is estimated, as on the Messages count)."""
    return provider.type != "mock" and speaks_responses(provider)


async def count_input_tokens(ctx: RequestContext, services: Services) -> None:
    """Stage: the count of a Responses request, from a deployment with the Responses API or
    estimated here."""
    assert ctx.body is not None and ctx.model is not None
    ctx.stream = False  # (a client may send its whole request to be counted)
    group = counting_group(ctx.model, ctx.runtime.config.providers, counts_responses)
    if group is None:
        try:
            count = estimated_input_tokens(ctx.body)
        except TranslationError as exc:  # what the request itself would be refused for
            raise InvalidRequest(str(exc), param=exc.param) from None
        _estimated(ctx, input_tokens_answer(count))
        return
    request = dataclasses.replace(route_request(ctx), model=group, body=count_body(ctx.body))
    await _counted(ctx, services, request)


def _estimated(ctx: RequestContext, answer: dict[str, object]) -> None:
    ctx.response_json = answer
    ctx.response_body = orjson.dumps(answer)
    ctx.response_headers[ESTIMATE_HEADER] = "estimate"
    ctx.usage = Usage(reported=True)  # nothing was spent: zero is exact


async def _counted(ctx: RequestContext, services: Services, request: RouteRequest) -> None:
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
INPUT_TOKENS_STAGES: tuple[Stage, ...] = (
    authenticate,
    parse_body,
    resolve_model,
    use_prompt,
    count_input_tokens,
)
