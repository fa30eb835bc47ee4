"""A request's checks sorted once (per plan when their shape never changes): the sorting a
plan keeps is the one each request's own checks would get, and the rate headers built from it
are those the search for the tightest windows builds."""

from __future__ import annotations

from gateway.config.types import DeploymentConfig, LimitsConfig, ModelConfig, PolicyConfig
from gateway.limits.estimate import Estimate
from gateway.limits.held import Held
from gateway.limits.plan import LimitPlan, limit_checks, rate_headers
from gateway.limits.sorting import sort_checks
from gateway.state import AcquireResult, CheckResult, LimitCheck, MemoryState, Reservation

MODEL = ModelConfig("gpt", (DeploymentConfig(provider="p", model="m"),))
ESTIMATE = Estimate(prompt_tokens=10, completion_tokens=20, cost_usd=0.5)


def held_of(results: tuple[CheckResult, ...], plan: LimitPlan | None = None) -> Held:
    checks = tuple(result.check for result in results)
    reservation = Reservation("t", checks, 0.0)
    acquired = AcquireResult(True, results, reservation)
    sorting = plan.sorting if plan is not None else None
    return Held(reservation, MemoryState(), acquired, None, sorting)


def test_checks_sort_into_slots_rest_and_budgets() -> None:
    checks = [
        LimitCheck("key", "k", "rpm", 5, 1),
        LimitCheck("key", "k", "concurrent", 2, 1),
        LimitCheck("team", "t", "budget_day", 1.0, 0.5),
        LimitCheck("team", "t", "concurrent", 3, 1),
    ]
    sorting = sort_checks(checks)
    assert sorting.slots_at == (1, 3) and sorting.window_pair is None
    assert sorting.marked and sorting.rest_marked and sorting.budgeted == frozenset({("team", "t")})
    held = held_of(tuple(CheckResult(c, True, 0, 0) for c in checks))
    assert held.slots == (checks[1], checks[3]) and held.rest == (checks[0], checks[2])
    rpm_only = sort_checks([checks[0], checks[1]])
    assert rpm_only.marked and not rpm_only.rest_marked and rpm_only.budgeted is None
    assert not sort_checks([checks[0]]).marked  # rpm only: nothing to settle


def test_a_plan_keeps_the_sorting_its_requests_checks_get() -> None:
    policy = PolicyConfig(
        "p",
        limits=LimitsConfig(rpm=5, tpm=100, max_concurrent=2),
        model_limits={"gpt": LimitsConfig(tpm=50)},
    )
    plan = LimitPlan(tuple(limit_checks("k", None, MODEL, policy, Estimate(0, 0, 0.0))), True)
    assert plan.sorting == sort_checks(plan.for_request(ESTIMATE))
    budgets = PolicyConfig("b", limits=LimitsConfig(rpm=5, budget_usd_per_day=1.0))
    with_budget = limit_checks("k", None, MODEL, budgets, ESTIMATE)
    assert LimitPlan(tuple(with_budget), True).sorting is None  # sorted per request


def test_headers_of_one_window_each_are_those_of_the_search() -> None:
    results = (
        CheckResult(LimitCheck("key", "k", "concurrent", 4, 1), True, 3, 0.0),
        CheckResult(LimitCheck("key", "k", "tpm", 1000, 30), True, 970, 12.3456),
        CheckResult(LimitCheck("key", "k", "rpm", 50, 1), True, 49, -0.5),
    )
    held = held_of(results, LimitPlan(tuple(r.check for r in results), True))
    assert held.sorting.window_pair == (2, 1)
    searched = [(k.encode(), v.encode()) for k, v in rate_headers(results).items()]
    assert held.rate_header_lines() == searched  # the same headers, in the same order
    assert dict(searched)[b"x-ratelimit-reset-requests"] == b"0.000s"
    assert dict(searched)[b"x-ratelimit-reset-tokens"] == b"12.346s"
    big = (
        CheckResult(LimitCheck("key", "k", "rpm", 1e8, 1), True, 99_999_999, 60.0),
        CheckResult(LimitCheck("key", "k", "tpm", 1e11, 300), True, 99_999_999_700, 59.9996),
    )
    searched = [(k.encode(), v.encode()) for k, v in rate_headers(big).items()]
    assert held_of(big, LimitPlan(tuple(r.check for r in big), True)).rate_header_lines() == (
        searched
    )
    two_rpm = (*results, CheckResult(LimitCheck("team", "t", "rpm", 10, 1), True, 3, 30.0))
    lines = dict(held_of(two_rpm).rate_header_lines())
    assert lines[b"x-ratelimit-remaining-requests"] == b"3"
