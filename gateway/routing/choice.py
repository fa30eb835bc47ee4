"""Which deployments a router's attempt may go to: a half-open one whose probe it wins, else the
healthy ones (breaker closed, not benched) for the model's strategy to pick from; and the
backoff before going round the deployments again. `Tries` is one model group's tries so far."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass

from gateway.clock import Clock
from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.routing.attempt_failure import AttemptFailed
from gateway.routing.breakers import CLOSED, Breakers, all_open
from gateway.routing.cooldowns import Cooldowns
from gateway.routing.deployment_stats import DeploymentStats
from gateway.routing.exchange import RouteRequest
from gateway.routing.picking import backoff_s, probe_hold_s
from gateway.routing.strategies import Candidate
from gateway.state import BreakerState


@dataclass
class Tries:
    """One model group's tries so far."""

    model: ModelConfig
    deadline: float
    prompt_tokens: int | None
    tried: set[str]
    last: AttemptFailed | None = None
    repeats: int = 0


async def probe_winner(
    breakers: Breakers,
    cooldowns: Cooldowns,
    clock: Clock,
    request: RouteRequest,
    fitting: list[DeploymentConfig],
    tries: Tries,
    states: Mapping[str, BreakerState],
) -> DeploymentConfig | None:
    """A half-open deployment whose single probe this request wins (its slot held while the
    probe may still be running); it must then be called."""
    now = clock.monotonic()
    probe_timeout_s = request.runtime.config.routing.probe_timeout_s
    for deployment in fitting:
        if deployment.name in tries.tried or cooldowns.cooling(deployment.name, now):
            continue
        if states.get(deployment.name, CLOSED).state != "half_open":
            continue
        hold_s = probe_hold_s(deployment, request.stream, tries.deadline - now, probe_timeout_s)
        if await breakers.try_probe(deployment.name, clock.time(), hold_s):
            return deployment
    return None


def healthy_candidates(
    stats: DeploymentStats,
    cooldowns: Cooldowns,
    clock: Clock,
    fitting: list[DeploymentConfig],
    tries: Tries,
    states: Mapping[str, BreakerState],
) -> list[Candidate]:
    """The deployments whose breaker is closed and that are not benched; when there are
    none, the failure to report (unless an attempt already failed) is the upstream's rate
    limit of the one benched for the shortest time (else its missing model), or else that
    the breakers are all open."""
    now = clock.monotonic()
    found = [
        stats.candidate(d, now)
        for d in fitting
        if states.get(d.name, CLOSED).state == "closed" and not cooldowns.cooling(d.name, now)
    ]
    if found or tries.last is not None:
        return found
    benched = cooldowns.shortest([d.name for d in fitting], now)
    if benched is not None:
        limited = benched.rate_limit
        tries.last = AttemptFailed(benched.error, retryable=True, rate_limited=limited)
    else:
        tries.last = AttemptFailed(all_open(tries.model.name, fitting, states), retryable=True)
    return found


async def back_off(clock: Clock, rng: random.Random, request: RouteRequest, tries: Tries) -> bool:
    """Every healthy deployment failed once: wait (exponential backoff with jitter, or the
    upstream's Retry-After if longer) before going round again. False when the deadline
    would pass while waiting."""
    routing = request.runtime.config.routing
    wait = backoff_s(tries.repeats, routing.backoff_base_s, routing.backoff_max_s, rng.random())
    last = tries.last
    # A rate limit's wait is its bench (`Cooldowns`): it is not what the deployments going
    # round again asked for.
    if last is not None and last.retry_after_s is not None and not last.rate_limited:
        wait = max(wait, last.retry_after_s)
    tries.repeats += 1
    if clock.monotonic() + wait >= tries.deadline:
        return False
    await clock.sleep(wait)
    return True
