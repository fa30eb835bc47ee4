"""What one call costs, from its usage and the deployment's prices."""

from __future__ import annotations

from gateway.config.types import DeploymentConfig
from gateway.providers import Usage

# Anthropic bills a 5-minute prompt-cache write at 1.25 x the model's input price.
CACHE_WRITE_MULTIPLIER = 1.25


def cost_usd(usage: Usage, deployment: DeploymentConfig | None) -> float:
    """Price of one call from the deployment's per-1M-token prices: cache reads and cache writes
    (both part of `prompt_tokens`) at their own rates, the other prompt tokens at the input
    price."""
    if deployment is None:
        return 0.0
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    input_price = deployment.input_cost_per_1m
    cached_price = (
        deployment.cached_input_cost_per_1m
        if deployment.cached_input_cost_per_1m is not None
        else input_price
    )
    write_price = (
        deployment.cache_write_cost_per_1m
        if deployment.cache_write_cost_per_1m is not None
        else input_price * CACHE_WRITE_MULTIPLIER
    )
    total = (
        (usage.prompt_tokens - cached - written) * input_price
        + cached * cached_price
        + written * write_price
        + usage.completion_tokens * deployment.output_cost_per_1m
    ) / 1_000_000
    # Never negative: a refund is not something an upstream's usage can claim.
    return max(0.0, round(total, 10))
