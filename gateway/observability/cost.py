"""What one call costs, from its usage and the deployment's prices."""

from __future__ import annotations

from gateway.config.types import DeploymentConfig
from gateway.providers import Usage


def cost_usd(usage: Usage, deployment: DeploymentConfig | None) -> float:
    """Price of one call from the deployment's per-1M-token prices; cached input at its own rate."""
    if deployment is None:
        return 0.0
    cached = min(usage.cached_tokens, usage.prompt_tokens)
    cached_price = (
        deployment.cached_input_cost_per_1m
        if deployment.cached_input_cost_per_1m is not None
        else deployment.input_cost_per_1m
    )
    total = (
        (usage.prompt_tokens - cached) * deployment.input_cost_per_1m
        + cached * cached_price
        + usage.completion_tokens * deployment.output_cost_per_1m
    ) / 1_000_000
    return round(total, 10)
