"""Deployments benched by a rate limit: not a fault, a wait the upstream asked for.

A 429 (or Anthropic's 529 overloaded) says nothing about a deployment's health, so it never
counts against its breaker; it benches the deployment for the upstream's `retry-after-ms` /
`Retry-After` (or `[routing] rate_limit_cooldown_s` when it names none), and the router tries
the others meanwhile. Kept per process: each replica learns from the 429s it is sent, which
costs one refused call per replica and keeps the hot path free of state round trips.

A 404 for the deployment's model (not pulled yet, a misspelt name) benches it too, for
`[routing] missing_model_cooldown_s`: every request that picked it would pay a round trip for
nothing until the operator fixes it, and it is not broken either (no breaker fault). Such a
bench is no rate limit: it never sets a `Retry-After`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.errors import GatewayError

# An upstream that asks for a longer wait is believed only this far: a rate limit ends in
# seconds or minutes, and a deployment benched by mistake for a day is worse than one more 429.
MAX_COOLDOWN_S = 600.0


@dataclass(frozen=True, slots=True)
class Cooldown:
    until: float  # monotonic
    error: GatewayError  # the upstream's answer that started it, passed on while it lasts
    rate_limit: bool = True  # False: the upstream lacks the deployment's model


class Cooldowns:
    def __init__(self) -> None:
        self._benched: dict[str, Cooldown] = {}

    def start(
        self,
        deployment: str,
        seconds: float,
        error: GatewayError,
        now: float,
        rate_limit: bool = True,
    ) -> None:
        """Bench `deployment` for `seconds` from `now` (never shortening a longer cooldown)."""
        until = now + min(max(0.0, seconds), MAX_COOLDOWN_S)
        current = self._benched.get(deployment)
        if current is None or current.until < until:
            self._benched[deployment] = Cooldown(until, error, rate_limit)

    def cooling(self, deployment: str, now: float) -> bool:
        if not self._benched:
            return False
        current = self._benched.get(deployment)
        if current is None:
            return False
        if current.until <= now:
            del self._benched[deployment]
            return False
        return True

    def shortest(self, deployments: Iterable[str], now: float) -> Cooldown | None:
        """The cooldown among `deployments` that ends first, if any is cooling down; a rate
        limit before a missing model (the wait a client can act on)."""
        active = [self._benched[name] for name in deployments if self.cooling(name, now)]
        return min(active, key=lambda c: (not c.rate_limit, c.until)) if active else None

    def answer(self, error: GatewayError, deployments: Iterable[str], now: float) -> GatewayError:
        """The rate limit the client gets when no deployment is left: the upstream's `error`
        with the shortest wait among the benched `deployments` as `Retry-After` (whole seconds)
        and `retry-after-ms`, which the OpenAI and Anthropic SDKs read first."""
        shortest = self.shortest(deployments, now)
        wait = max(0.0, shortest.until - now) if shortest is not None else 0.0
        ms = math.ceil(round(wait * 1000, 3))  # float noise must not add a millisecond
        return error.with_headers(
            {"retry-after": str(math.ceil(ms / 1000)), "retry-after-ms": str(ms)}
        )
