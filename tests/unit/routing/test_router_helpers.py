"""The router's small helpers: sticky points, backoff, when to tokenize, failure kinds, breaker reads."""

from collections.abc import Sequence
from types import SimpleNamespace

import pytest

from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.errors import UpstreamRejected
from gateway.observability.metrics import Metrics
from gateway.routing.attempt import is_content_policy, parse_retry_after
from gateway.routing.router import (
    Router,
    _is_deployment_fault,
    _needs_estimate,
    backoff_s,
    sticky_point,
)
from gateway.routing.strategies import Candidate, weighted_by_point
from gateway.state import BreakerState, MemoryState


def test_sticky_points_split_five_thousand_keys_near_the_weights() -> None:
    sides = [
        Candidate(DeploymentConfig("p", "stable", weight=90)),
        Candidate(DeploymentConfig("p", "canary", weight=10)),
    ]
    picks = [
        weighted_by_point(sides, sticky_point("m", f"key-{i}")).deployment.model
        for i in range(5000)
    ]
    assert abs(picks.count("canary") / 5000 - 0.10) <= 0.02
    assert (
        sticky_point("m", "key-1") == sticky_point("m", "key-1") != sticky_point("other", "key-1")
    )


def test_backoff_doubles_with_jitter_and_a_ceiling() -> None:
    assert backoff_s(0, 0.05, 2.0, 1.0) == 0.05
    assert backoff_s(3, 0.05, 2.0, 1.0) == 0.4
    assert backoff_s(10, 0.05, 2.0, 1.0) == 2.0
    assert backoff_s(3, 0.05, 2.0, 0.0) == 0.2


def test_tokenizer_runs_only_when_a_window_could_be_exceeded() -> None:
    small = ModelConfig("m", (DeploymentConfig("p", "a", context_window=1000),))
    assert not _needs_estimate(small, 999)
    assert _needs_estimate(small, 1000)
    assert not _needs_estimate(ModelConfig("m", (DeploymentConfig("p", "a"),)), 10**6)
    assert _needs_estimate(
        ModelConfig("m", (DeploymentConfig("p", "a"),), strategy="lowest_cost"), 10
    )


def test_which_failures_count_against_a_deployment() -> None:
    assert _is_deployment_fault("connect") and _is_deployment_fault("first_token_timeout")
    assert _is_deployment_fault("http_500") and _is_deployment_fault("http_429")
    assert not _is_deployment_fault("http_400") and not _is_deployment_fault(None)


def test_content_policy_refusals_are_recognised() -> None:
    body = {"error": {"message": "Your request was rejected", "code": "content_policy_violation"}}
    assert is_content_policy(UpstreamRejected(400, "Your request was rejected", upstream_body=body))
    assert not is_content_policy(UpstreamRejected(400, "bad parameter"))
    assert not is_content_policy(UpstreamRejected(429, "content_filter"))


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2") == 2.0 and parse_retry_after("0.5") == 0.5
    assert (
        parse_retry_after(None) is None
        and parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    )


class CountingState(MemoryState):
    """Memory state that counts the router's own breaker reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def breaker_states(
        self, deployments: Sequence[str], now: float
    ) -> dict[str, BreakerState]:
        self.reads += 1
        return await super().breaker_states(deployments, now)


@pytest.mark.asyncio
async def test_breakers_read_with_the_limits_acquire_save_the_routers_read() -> None:
    state = CountingState()
    router = Router(SimpleNamespace(state=state, metrics=Metrics()))  # type: ignore[arg-type]
    deployments = [DeploymentConfig("p", "a"), DeploymentConfig("p", "b")]
    opened = BreakerState("open", 3, 20.0)
    known = {"p/a": opened, "p/b": BreakerState("closed", 0, 0.0)}
    assert await router._breaker_states(deployments, 1000.0, known) == known
    assert state.reads == 0
    # A deployment the acquire did not read (or no acquire at all): one read of them all.
    partial = await router._breaker_states(deployments, 1000.0, {"p/a": opened})
    assert state.reads == 1 and partial["p/a"].state == "closed"
    await router._breaker_states(deployments, 1000.0)
    assert state.reads == 2
