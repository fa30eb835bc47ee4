"""What a request may use, before it is sent: the tokens tpm reserves and the most it may cost,
which a budget reserves (the settlement replaces both by what the answer used)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.config.types import ModelConfig
from gateway.providers import EndpointKind

# The completion a request that names no limit of its own (`max_tokens`, ...) is counted as.
DEFAULT_COMPLETION_TOKENS = 256


@dataclass(slots=True)  # not frozen: one is made per request (see gateway.state.base)
class Estimate:
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def estimate_request(
    body: dict[str, Any],
    kind: EndpointKind,
    model: ModelConfig,
    prompt_tokens: int,
    priced: bool = True,
    tier: str | None = None,
) -> Estimate:
    """Tokens to reserve (prompt estimate + max_tokens) and the most it could cost (0.0 unless
    `priced`: only a budget check reads the cost, `LimitPlan.priced`; at the processing `tier`
    the request asks for)."""
    completion = completion_tokens(body, kind)
    return priced_estimate(model, prompt_tokens, completion, priced, tier)


def completion_tokens(body: dict[str, Any], kind: EndpointKind) -> int:
    """The tokens the answer may take: its `max_tokens` (or `max_completion_tokens`,
    `max_output_tokens`; `DEFAULT_COMPLETION_TOKENS` when none is a positive integer) for each
    text or choice it asks for; 0 for embeddings. (A tpm check needs this and the prompt's
    tokens only: `check_limits` makes no `Estimate` unless a check needs more.)"""
    if kind == "embeddings":
        return 0
    completion = (
        body.get("max_tokens") or body.get("max_completion_tokens") or body.get("max_output_tokens")
    )
    if not isinstance(completion, int) or completion <= 0:
        completion = DEFAULT_COMPLETION_TOKENS
    if kind == "completions":  # each text it generates may take max_tokens
        completion *= completion_texts(body)
    elif kind == "chat":  # and each of a chat's `n` choices
        choices = body.get("n")
        if type(choices) is int and choices > 1:
            completion *= choices
    return completion


def priced_estimate(
    model: ModelConfig, prompt_tokens: int, completion: int, priced: bool, tier: str | None = None
) -> Estimate:
    """The estimate of a request of `prompt_tokens` that may answer `completion` tokens, its
    cost on the dearest of the model's deployments when `priced` (else 0.0), at the processing
    tier it asks for (`providers.service_tiers.asked_tier`: a deployment's `tier_costs`
    multiple)."""
    cost = 0.0
    if priced:
        for d in model.deployments:  # the dearest deployment (a loop: nearly always one)
            price = (prompt_tokens * d.input_cost_per_1m + completion * d.output_cost_per_1m) / 1e6
            if tier is not None:
                price *= d.tier_costs.multiplier(tier)
            if price > cost:
                cost = price
    return Estimate(prompt_tokens, completion, cost)


def completion_texts(body: dict[str, Any]) -> int:
    """How many texts a legacy completion generates: `best_of` (at least `n`) for each prompt
    of `prompt` (strings or token arrays; one string or one token array is one prompt)."""
    per_prompt = 1
    for name in ("n", "best_of"):
        value = body.get(name)
        if type(value) is int and value > per_prompt:
            per_prompt = value
    prompt = body.get("prompt")
    if isinstance(prompt, list) and prompt and type(prompt[0]) is not int:
        return per_prompt * len(prompt)
    return per_prompt
