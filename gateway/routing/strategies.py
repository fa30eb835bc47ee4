"""Load-balancing strategies: each a small pure function from candidates to one choice.

A candidate is a deployment plus what this process knows about it right now. Every strategy
gets the same `Selection` inputs and ignores what it does not need, so they are swappable by name.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gateway.config.types import DeploymentConfig


@dataclass(frozen=True)
class Candidate:
    deployment: DeploymentConfig
    inflight: int = 0
    latency_ewma_ms: float | None = None
    ttft_ewma_ms: float | None = None
    used_rpm: int = 0
    used_tpm: int = 0


@dataclass(frozen=True)
class Selection:
    rng: random.Random
    # Monotonic per-model counter for round robin.
    turn: int = 0
    estimated_prompt_tokens: int = 0
    estimated_completion_tokens: int = 0


Strategy = Callable[[Sequence[Candidate], Selection], Candidate]


def weighted(candidates: Sequence[Candidate], selection: Selection) -> Candidate:
    """Random, in proportion to each deployment's weight."""
    return weighted_by_point(candidates, selection.rng.random())


def weighted_by_point(candidates: Sequence[Candidate], point: float) -> Candidate:
    """The candidate at `point` (0 <= point < 1) along the weights laid end to end.

    Deterministic for a given point, which makes sticky (hash-based) assignment possible.
    """
    total = sum(c.deployment.weight for c in candidates)
    if total <= 0:
        return candidates[int(point * len(candidates)) % len(candidates)]
    target = point * total
    for candidate in candidates:
        target -= candidate.deployment.weight
        if target < 0:
            return candidate
    return candidates[-1]


def round_robin(candidates: Sequence[Candidate], selection: Selection) -> Candidate:
    """Each candidate in turn, exactly."""
    return candidates[selection.turn % len(candidates)]


def _least(
    candidates: Sequence[Candidate], selection: Selection, score: Callable[[Candidate], float]
) -> Candidate:
    best = min(score(c) for c in candidates)
    tied = [c for c in candidates if score(c) == best]
    return tied[0] if len(tied) == 1 else selection.rng.choice(tied)


def least_busy(candidates: Sequence[Candidate], selection: Selection) -> Candidate:
    """Fewest requests in flight; ties broken at random."""
    return _least(candidates, selection, lambda c: float(c.inflight))


def lowest_latency(candidates: Sequence[Candidate], selection: Selection) -> Candidate:
    """Lowest EWMA of latency and time to first token; a deployment never measured is tried
    first."""

    def score(c: Candidate) -> float:
        if c.latency_ewma_ms is None:
            return -1.0
        ttft = c.ttft_ewma_ms if c.ttft_ewma_ms is not None else c.latency_ewma_ms
        return (c.latency_ewma_ms + ttft) / 2

    return _least(candidates, selection, score)


def price(deployment: DeploymentConfig, prompt_tokens: int, completion_tokens: int) -> float:
    return (
        prompt_tokens * deployment.input_cost_per_1m
        + completion_tokens * deployment.output_cost_per_1m
    ) / 1e6


def lowest_cost(candidates: Sequence[Candidate], selection: Selection) -> Candidate:
    """Cheapest for the estimated prompt and completion tokens."""
    return _least(
        candidates,
        selection,
        lambda c: price(
            c.deployment, selection.estimated_prompt_tokens, selection.estimated_completion_tokens
        ),
    )


def headroom(candidate: Candidate, selection: Selection) -> float:
    """Fraction of the tighter of the rpm / tpm caps still free (1.0 when uncapped)."""
    free = 1.0
    deployment = candidate.deployment
    if deployment.rpm:
        free = min(free, 1 - (candidate.used_rpm + 1) / deployment.rpm)
    if deployment.tpm:
        needed = selection.estimated_prompt_tokens + selection.estimated_completion_tokens
        free = min(free, 1 - (candidate.used_tpm + needed) / deployment.tpm)
    return free


def usage_based(candidates: Sequence[Candidate], selection: Selection) -> Candidate:
    """Most headroom under the deployment's rpm / tpm caps."""
    return _least(candidates, selection, lambda c: -headroom(c, selection))


STRATEGIES: Mapping[str, Strategy] = {
    "weighted": weighted,
    "round_robin": round_robin,
    "least_busy": least_busy,
    "lowest_latency": lowest_latency,
    "lowest_cost": lowest_cost,
    "usage_based": usage_based,
}
