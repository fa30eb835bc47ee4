"""Limit checks from policies (plans and estimates), refusal messages, rate headers."""

from pathlib import Path

import pytest

from gateway.config.load import load_config
from gateway.config.types import DeploymentConfig, LimitsConfig, ModelConfig, PolicyConfig
from gateway.limits.estimate import Estimate, estimate_request
from gateway.limits.plan import (
    LimitPlan,
    limit_checks,
    needs_estimate,
    prepared_header_lines,
    rate_header_lines,
    rate_headers,
    refusal_message,
)
from gateway.runtime import build_runtime
from gateway.state import CheckResult, LimitCheck

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
    """`LimitPlans.get` works the checks out once per (key, model) and config; `for_request` gives
    exactly what `limit_checks` gives for any estimate."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "p.toml").write_text(PLAN_POLICY)
    (tmp_path / "gateway.toml").write_text(PLAN_CONFIG)
    config = load_config(tmp_path / "gateway.toml", env={})
    runtime = build_runtime(config, env={})
    key, unlimited = config.keys
    model, policy = config.models["gpt"], config.policies["p"]
    plan = runtime.limit_plans.get(key, model)
    assert plan is not None and plan.needs_estimate
    assert len(plan.checks) == 8
    assert runtime.limit_plans.get(key, model) is plan  # kept with the runtime
    assert runtime.limit_plans.get(unlimited, model) is None  # no policy file: no limits
    for estimate in (ESTIMATE, Estimate(0, 256, 0.0), Estimate(1234, 1, 0.0125)):
        assert plan.for_request(estimate) == limit_checks("k", "team-a", model, policy, estimate)
    assert (
        build_runtime(config, env={}).limit_plans.get(key, model) is not plan
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


@pytest.mark.parametrize(
    ("requests", "tokens"),
    [
        ((50.0, 49.0, 59.25), (1000.0, 970.0, 12.0)),
        ((100_000_000.0, 99_999_999.0, 0.0), (100_000_000_000.0, 7.0, -0.5)),  # reset < 0
        ((2.5, 1.0, 60.0), (0.01, 0.0, 0.0004)),  # limits that are not whole
        ((50.0, 49.0, 59.25), None),
        (None, (1000.0, 970.0, 12.0)),
        (None, None),
    ],
)
def test_prepared_header_lines_are_the_rate_headers_byte_for_byte(
    requests: tuple[float, float, float] | None, tokens: tuple[float, float, float] | None
) -> None:
    results = []
    if requests is not None:
        results.append(
            CheckResult(LimitCheck("key", "k", "rpm", requests[0], 1), True, *requests[1:])
        )
    if tokens is not None:
        results.append(CheckResult(LimitCheck("key", "k", "tpm", tokens[0], 9), True, *tokens[1:]))
    assert prepared_header_lines(requests, tokens) == rate_header_lines(tuple(results))


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


def test_an_estimate_not_priced_costs_nothing_and_only_a_budget_plan_prices() -> None:
    model = ModelConfig("gpt", (DeploymentConfig(provider="p", model="a", output_cost_per_1m=20),))
    unpriced = estimate_request({"max_tokens": 100}, "chat", model, 50, priced=False)
    assert (unpriced.prompt_tokens, unpriced.completion_tokens, unpriced.cost_usd) == (50, 100, 0.0)
    rates = PolicyConfig(name="p", limits=LimitsConfig(rpm=10, tpm=1000, max_concurrent=2))
    budget = PolicyConfig(name="b", team_limits=LimitsConfig(budget_usd_per_month=5.0))
    for policy, priced in ((rates, False), (budget, True)):
        checks = limit_checks("k", "t", model, policy, Estimate(0, 0, 0.0))
        assert LimitPlan(tuple(checks), True).priced is priced
