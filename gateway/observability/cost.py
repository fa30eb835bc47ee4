"""What one call costs, from its usage and the deployment's prices."""

from __future__ import annotations

from gateway.config.types import DeploymentConfig
from gateway.providers import Usage

# Anthropic bills a 5-minute prompt-cache write at 1.25 x the model's input price, a 1-hour one
# at 2 x.
CACHE_WRITE_MULTIPLIER = 1.25
CACHE_WRITE_1H_MULTIPLIER = 2.0


def cost_usd(usage: Usage, deployment: DeploymentConfig | None) -> float:
    """Price of one call from the deployment's per-1M-token prices: cache reads, cache writes
    (writes to the 1-hour cache apart) and audio tokens (all part of `prompt_tokens`) at their
    own rates, the other prompt tokens at the input price; audio completion tokens (part of
    `completion_tokens`) at theirs, the others at the output price, all times the multiple of
    the processing tier that served it (`tier_costs`: OpenAI's Fast mode, Flex, Ultrafast,
    Claude's fast mode); and the web searches the provider ran, at the deployment's price per
    1,000."""
    if deployment is None:
        return 0.0
    if (
        usage.cached_tokens
        or usage.cache_write_tokens
        or usage.audio_prompt_tokens
        or usage.audio_completion_tokens
    ):
        total = _prompt_cost(usage, deployment) + _completion_cost(usage, deployment)
    else:  # nearly always: every token at the plain price
        total = usage.prompt_tokens * deployment.input_cost_per_1m
        total += usage.completion_tokens * deployment.output_cost_per_1m
    if usage.service_tier is not None:  # a premium (or discounted) tier served it
        total *= deployment.tier_costs.multiplier(usage.service_tier)
    if usage.web_searches:  # (per 1M, as the tokens' total is)
        total += usage.web_searches * deployment.web_search_cost_per_1k * 1000
    # Never negative: a refund is not something an upstream's usage can claim.
    return max(0.0, round(total / 1_000_000, 10))


def _prompt_cost(usage: Usage, deployment: DeploymentConfig) -> float:
    """The prompt's price per 1M: each part counted once, whatever a confused server reports."""
    input_price = deployment.input_cost_per_1m
    prompt = usage.prompt_tokens
    cached = min(usage.cached_tokens, prompt)
    written = min(usage.cache_write_tokens, prompt - cached)
    written_1h = min(usage.cache_write_1h_tokens, written)
    heard = min(usage.audio_prompt_tokens, prompt - cached - written)
    return (
        (prompt - cached - written - heard) * input_price
        + cached * _price(deployment.cached_input_cost_per_1m, input_price)
        + (written - written_1h)
        * _price(deployment.cache_write_cost_per_1m, input_price * CACHE_WRITE_MULTIPLIER)
        + written_1h
        * _price(deployment.cache_write_1h_cost_per_1m, input_price * CACHE_WRITE_1H_MULTIPLIER)
        + heard * _price(deployment.audio_input_cost_per_1m, input_price)
    )


def _completion_cost(usage: Usage, deployment: DeploymentConfig) -> float:
    output_price = deployment.output_cost_per_1m
    spoken = min(usage.audio_completion_tokens, usage.completion_tokens)
    return (usage.completion_tokens - spoken) * output_price + spoken * _price(
        deployment.audio_output_cost_per_1m, output_price
    )


def _price(configured: float | None, default: float) -> float:
    return default if configured is None else configured
