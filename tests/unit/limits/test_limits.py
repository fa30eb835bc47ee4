"""Limit checks from policies, refusal messages, headers, and the limiter's fail-open / fail-closed."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.config.load import load_config
from gateway.config.types import DeploymentConfig, LimitsConfig, ModelConfig, PolicyConfig
from gateway.errors import RateLimited, ServiceUnavailable
from gateway.limits.limiter import (
    Estimate,
    Limiter,
    limit_checks,
    limit_plan,
    needs_estimate,
    rate_headers,
    refusal_message,
)
from gateway.observability.metrics import Metrics
from gateway.runtime import build_runtime
from gateway.state import CheckResult, LimitCheck, MemoryState, StateUnavailable

MODEL = ModelConfig(
    "gpt", (DeploymentConfig(provider="p", model="m", input_cost_per_1m=1, output_cost_per_1m=2),)
)
ESTIMATE = Estimate(prompt_tokens=10, completion_tokens=20, cost_usd=0.5)


def test_checks_cover_key_team_and_model_scopes() -> None:
    policy = PolicyConfig(
        "p",
        limits=LimitsConfig(rpm=5, tpm=100),
        team_limits=LimitsConfig(max_concurrent=2, budget_usd_per_day=1.0),
        model_limits={"gpt": LimitsConfig(rpm=1)},
    )
    checks = limit_checks("k", "team-a", MODEL, policy, ESTIMATE)
    assert [(c.scope, c.subject, c.kind, c.amount) for c in checks] == [
        ("key", "k", "rpm", 1),
        ("key", "k", "tpm", 30),
        ("team", "team-a", "concurrent", 1),
        ("team", "team-a", "budget_day", 0.5),
        ("model", "k/gpt", "rpm", 1),
    ]
    assert needs_estimate(policy, MODEL)
    assert not needs_estimate(PolicyConfig("q", limits=LimitsConfig(rpm=1)), MODEL)


PLAN_CONFIG = """
[[providers]]
name = "mock"
type = "mock"

[[models]]
name = "gpt"
[[models.deployments]]
provider = "mock"
model = "mock-small"
input_cost_per_1m = 1.0
output_cost_per_1m = 2.0

[[keys]]
id = "k"
team = "team-a"
key_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"
policy = "p"

[[keys]]
id = "f"
key_sha256 = "1111111111111111111111111111111111111111111111111111111111111111"
"""
PLAN_POLICY = """
[limits]
rpm = 5
tpm = 100
budget_usd_per_month = 9.0

[team_limits]
max_concurrent = 2
budget_usd_per_day = 1.0
tpm = 1000

[model_limits.gpt]
rpm = 1
max_concurrent = 1
"""


def test_a_plan_gives_the_checks_of_each_request(tmp_path: Path) -> None:
    """`limit_plan` works the checks out once per (key, model) and config; `for_request` gives
    exactly what `limit_checks` gives for any estimate."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text(PLAN_POLICY)
    (tmp_path / "gateway.toml").write_text(PLAN_CONFIG)
    config = load_config(tmp_path / "gateway.toml", env={})
    runtime = build_runtime(config, env={})
    key, unlimited = config.keys
    model, policy = config.models["gpt"], config.policies["p"]
    plan = limit_plan(runtime, key, model)
    assert plan is not None and plan.needs_estimate
    assert len(plan.checks) == 8
    assert limit_plan(runtime, key, model) is plan  # kept with the runtime
    assert limit_plan(runtime, unlimited, model) is None  # no policy file: no limits
    for estimate in (ESTIMATE, Estimate(0, 256, 0.0), Estimate(1234, 1, 0.0125)):
        assert plan.for_request(estimate) == limit_checks("k", "team-a", model, policy, estimate)
    assert (
        limit_plan(build_runtime(config, env={}), key, model) is not plan
    )  # a reload starts afresh


def test_no_team_means_no_team_checks() -> None:
    policy = PolicyConfig("p", team_limits=LimitsConfig(rpm=1))
    assert limit_checks("k", None, MODEL, policy, ESTIMATE) == []


def test_messages_say_what_was_reached() -> None:
    rpm = CheckResult(LimitCheck("key", "k", "rpm", 50, 1), False, 0, 12.2)
    assert "50 requests per minute" in refusal_message(rpm) and "13 s" in refusal_message(rpm)
    budget = CheckResult(LimitCheck("team", "qa", "budget_day", 0.01, 0.002), False, 0.001, 3600)
    assert refusal_message(budget).startswith(
        "budget exhausted: team 'qa'"
    ) and "daily" in refusal_message(budget)


def test_headers_report_the_tightest_window() -> None:
    results = (
        CheckResult(LimitCheck("key", "k", "rpm", 50, 1), True, 49, 60),
        CheckResult(LimitCheck("team", "t", "rpm", 10, 1), True, 3, 30),
        CheckResult(LimitCheck("key", "k", "tpm", 1000, 30), True, 970, 60),
    )
    headers = rate_headers(results)
    assert (
        headers["x-ratelimit-limit-requests"] == "10"
        and headers["x-ratelimit-remaining-requests"] == "3"
    )
    assert (
        headers["x-ratelimit-limit-tokens"] == "1000"
        and headers["x-ratelimit-remaining-tokens"] == "970"
    )


def test_large_limits_are_written_as_integers_not_exponents() -> None:
    results = (
        CheckResult(LimitCheck("key", "k", "rpm", 100_000_000, 1), True, 99_999_999, 60),
        CheckResult(LimitCheck("key", "k", "tpm", 100_000_000_000, 300), True, 99_999_999_700, 60),
    )
    headers = rate_headers(results)
    assert headers["x-ratelimit-limit-requests"] == "100000000"
    assert headers["x-ratelimit-limit-tokens"] == "100000000000"
    assert "100000000 requests per minute" in refusal_message(results[0])
    budget = CheckResult(LimitCheck("key", "k", "budget_month", 2_500_000, 1.0), False, 0, 60)
    assert "budget of $2500000 " in refusal_message(budget)


class DownState(MemoryState):
    async def acquire(
        self, checks: Any, now: float, breakers: Any = (), while_waiting: Any = None
    ) -> Any:
        raise StateUnavailable("redis is down")

    async def settle(self, settlements: Any, now: float) -> None:
        raise StateUnavailable("redis is down")

    def start_settle(self, settlements: Any, now: float) -> None:
        raise StateUnavailable("redis is down")


@pytest.mark.asyncio
async def test_fail_open_uses_local_limits() -> None:
    limiter = Limiter(DownState(), Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [LimitCheck("key", "k", "rpm", 2, 1)]
    await limiter.acquire(checks, ESTIMATE)
    await limiter.acquire(checks, ESTIMATE)
    with pytest.raises(RateLimited) as info:
        await limiter.acquire(checks, ESTIMATE)
    assert info.value.headers["retry-after"] == "60"
    assert limiter.metrics.state_errors._value.get() == 3  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_acquire_reads_the_models_breakers_in_the_same_call() -> None:
    state = MemoryState()
    await state.breaker_record("p/m", False, 1000.0, 1, 10, 30)
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1001.0)
    held = await limiter.acquire([LimitCheck("key", "k", "rpm", 2, 1)], ESTIMATE, MODEL)
    assert held is not None and held.breakers is not None
    assert held.breakers["p/m"].state == "open"
    held = await limiter.acquire([LimitCheck("key", "k", "rpm", 2, 1)], ESTIMATE)
    assert held is not None and held.breakers is None  # no model given: nothing read


@pytest.mark.asyncio
async def test_fail_open_leaves_the_breakers_to_the_router() -> None:
    limiter = Limiter(DownState(), Metrics(), "fail_open", clock=lambda: 1000.0)
    held = await limiter.acquire([LimitCheck("key", "k", "rpm", 2, 1)], ESTIMATE, MODEL)
    assert held is not None and held.breakers is None


@pytest.mark.asyncio
async def test_fail_closed_answers_503() -> None:
    limiter = Limiter(DownState(), Metrics(), "fail_closed")
    with pytest.raises(ServiceUnavailable):
        await limiter.acquire([LimitCheck("key", "k", "rpm", 2, 1)], ESTIMATE)


@pytest.mark.asyncio
async def test_settlements_are_kept_until_the_state_returns() -> None:
    down = DownState()
    limiter = Limiter(down, Metrics(), "fail_open", clock=lambda: 1000.0)
    limiter.settle(None, 10, 0.25, (("key", "k"),))
    await limiter.flush()
    assert limiter._spend == {("key", "k"): 0.25}  # not lost
    limiter.state = MemoryState()
    await limiter.aclose()
    assert (await limiter.state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.25)


class CountingState(MemoryState):
    """MemoryState that counts settle round trips and what each carried."""

    def __init__(self) -> None:
        super().__init__()
        self.settle_calls: list[int] = []

    async def settle(self, settlements: Any, now: float) -> None:
        self.settle_calls.append(len(settlements))
        await super().settle(settlements, now)


@pytest.mark.asyncio
async def test_spend_without_a_budget_is_summed_per_subject_and_written_in_one_round_trip() -> None:
    state = CountingState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    for _ in range(10):
        limiter.settle(None, 10, 0.125, (("key", "k"), ("team", "t")))
    assert state.settle_calls == []  # nothing on the request path
    await limiter.flush()
    assert state.settle_calls == [2]  # one call, one settlement per subject
    assert (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(1.25)
    assert (await state.spend("team", "t", 1000.0))["total"] == pytest.approx(1.25)


@pytest.mark.asyncio
async def test_slots_and_budgeted_spend_are_settled_at_once_the_rest_later() -> None:
    state = CountingState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    checks = [
        LimitCheck("key", "k", "concurrent", 1, 1),
        LimitCheck("team", "t", "budget_day", 1.0, 0.5),
    ]
    held = await limiter.acquire(checks, ESTIMATE)
    limiter.settle(held, 30, 0.25, (("key", "k"), ("team", "t")))
    await limiter._flush_settlements()  # what the flusher sends as soon as it can
    assert (await state.usage("key", "k", 1000.0))["concurrent"] == 0  # the slot is free
    assert (await state.spend("team", "t", 1000.0))["total"] == pytest.approx(
        0.25
    )  # the budget sees it
    assert (await state.spend("key", "k", 1000.0))["total"] == 0  # no budget on the key: later
    await limiter.aclose()
    assert (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.25)
    assert (await state.spend("team", "t", 1000.0))["total"] == pytest.approx(0.25)  # counted once


@pytest.mark.asyncio
async def test_the_running_flusher_writes_summed_spend_on_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import asyncio

    import gateway.limits.limiter

    monkeypatch.setattr(gateway.limits.limiter, "SPEND_FLUSH_S", 0.01)
    state = CountingState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    limiter.start()
    limiter.settle(None, 10, 0.5, (("key", "k"),))
    limiter.settle(None, 10, 0.5, (("key", "k"),))
    for _ in range(200):
        if state.settle_calls:
            break
        await asyncio.sleep(0.01)
    assert state.settle_calls == [1]
    assert (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(1.0)
    await limiter.aclose()


@pytest.mark.asyncio
async def test_a_slot_is_free_before_settle_returns() -> None:
    state = MemoryState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    held = await limiter.acquire([LimitCheck("key", "k", "concurrent", 1, 1)], ESTIMATE)
    limiter.settle(held, 30, 0.0, ())
    assert (await state.usage("key", "k", 1000.0))["concurrent"] == 0  # no flusher ran


@pytest.mark.asyncio
async def test_a_settlement_that_cannot_be_sent_is_retried_by_the_flusher() -> None:
    state = MemoryState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    held = await limiter.acquire([LimitCheck("key", "k", "concurrent", 1, 1)], ESTIMATE)
    assert held is not None
    held.backend = DownState()  # the state went away between the acquire and the settle
    limiter.settle(held, 30, 0.0, ())
    assert limiter._retrying  # kept for the flusher, not lost
    await limiter.flush()
    assert limiter._retrying and limiter.metrics.state_errors._value.get() == 1  # type: ignore[attr-defined]
    held.backend = state  # back: the next flush frees the slot
    limiter._retrying = [(settlement, state) for settlement, _ in limiter._retrying]
    await limiter.flush()
    assert not limiter._retrying
    assert (await state.usage("key", "k", 1000.0))["concurrent"] == 0


class SlowState(MemoryState):
    """MemoryState whose settle waits until `go` is set, counting the calls."""

    def __init__(self) -> None:
        super().__init__()
        self.go = asyncio.Event()
        self.calls = 0

    async def settle(self, settlements: Any, now: float) -> None:
        self.calls += 1
        await self.go.wait()
        await super().settle(settlements, now)


@pytest.mark.asyncio
async def test_spend_that_arrives_during_a_write_is_not_mistaken_for_a_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a refused write waits FLUSH_RETRY_S before the next one; spend added while a write
    is in flight goes on the next spend timer."""
    import gateway.limits.limiter

    monkeypatch.setattr(gateway.limits.limiter, "SPEND_FLUSH_S", 0.01)
    monkeypatch.setattr(gateway.limits.limiter, "FLUSH_RETRY_S", 60.0)
    state = SlowState()
    limiter = Limiter(state, Metrics(), "fail_open", clock=lambda: 1000.0)
    limiter.start()
    limiter.settle(None, 10, 0.5, (("key", "k"),))
    for _ in range(200):  # the first write is in flight
        if state.calls:
            break
        await asyncio.sleep(0.01)
    limiter.settle(None, 10, 0.25, (("key", "k"),))  # arrives meanwhile
    state.go.set()
    for _ in range(200):
        if (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.75):
            break
        await asyncio.sleep(0.01)
    assert (await state.spend("key", "k", 1000.0))["total"] == pytest.approx(0.75)
    await limiter.aclose()
