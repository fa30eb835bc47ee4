"""What one call costs, from its usage and the deployment's prices."""

from __future__ import annotations

from gateway.config.types import DeploymentConfig
from gateway.providers import Usage

# Anthropic bills a 5-minute prompt-cache write at 1.25 x the model's input price, a 1-hour one
# at 2 x.
CACHE_WRITE_MULTIPLIER = 1.25
CACHE_WRITE_1H_MULTIPLIER = 2.0


def cost_usd(usage: Usage, deployment: DeploymentConfig | None) -> float:
    """Price of one call from the deployment's per-1M-token prices: cache reads and cache writes
    (both part of `prompt_tokens`) at their own rates (writes to the 1-hour cache at theirs),
    the other prompt tokens at the input price."""
    if deployment is None:
        return 0.0
    input_price = deployment.input_cost_per_1m
    if not usage.cached_tokens and not usage.cache_write_tokens:  # nearly always
        total = usage.prompt_tokens * input_price
        total += usage.completion_tokens * deployment.output_cost_per_1m
        # Never negative: a refund is not something an upstream's usage can claim.
        return max(0.0, round(total / 1_000_000, 10))
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    written = min(usage.cache_write_tokens, usage.prompt_tokens - cached)
    written_1h = min(usage.cache_write_1h_tokens, written)
    total = (
        (usage.prompt_tokens - cached - written) * input_price
        + cached * _price(deployment.cached_input_cost_per_1m, input_price)
        + (written - written_1h)
        * _price(deployment.cache_write_cost_per_1m, input_price * CACHE_WRITE_MULTIPLIER)
        + written_1h
        * _price(deployment.cache_write_1h_cost_per_1m, input_price * CACHE_WRITE_1H_MULTIPLIER)
        + usage.completion_tokens * deployment.output_cost_per_1m
    ) / 1_000_000
    return max(0.0, round(total, 10))


def _price(configured: float | None, default: float) -> float:
    return default if configured is None else configured
