"""The limiter's prepared path: a plan of rpm, tpm and concurrency checks on the memory state
is acquired without `acquire`, gives the same rate headers, frees its slot with the last byte,
reconciles its tokens and sums its spend once; a refusal, a budget and a backend that prepares
nothing leave the request to `acquire`."""

import pytest

from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.errors import RateLimited
from gateway.limits.limiter import Limiter
from gateway.limits.plan import LimitPlan
from gateway.limits.prepared_plans import PreparedHeld
from gateway.observability.metrics import Metrics
from gateway.state import LimitCheck, MemoryState
from gateway.state.prepared import PreparedChecks

MODEL = ModelConfig(
    "gpt", (DeploymentConfig(provider="p", model="m", input_cost_per_1m=1, output_cost_per_1m=2),)
)
NOW = 1000.0
PLAN = LimitPlan(
    (
        LimitCheck("key", "k", "rpm", 5, 1),
        LimitCheck("key", "k", "tpm", 1000, 0),
        LimitCheck("key", "k", "concurrent", 1, 1),
    ),
    True,
)


def limiter(state: MemoryState | None = None) -> Limiter:
    return Limiter(state or MemoryState(), Metrics(), "fail_open", clock=lambda: NOW)


async def test_a_prepared_acquire_gives_the_headers_acquire_gives() -> None:
    fast, direct = limiter(), limiter()
    held = fast.acquire_prepared(PLAN, 40, MODEL, 30.0)
    assert isinstance(held, PreparedHeld)
    checks = list(PLAN.checks)
    checks[1] = LimitCheck("key", "k", "tpm", 1000, 40)
    reference = await direct.acquire(checks, MODEL, 30.0, PLAN.sorting)
    assert reference is not None
    assert held.rate_header_lines() == reference.rate_header_lines()
    assert held.breakers == reference.breakers
    assert held.holds_slots


async def test_the_last_byte_frees_the_slot_and_settles_tokens_and_spend_once() -> None:
    state = MemoryState()
    limits = limiter(state)
    held = limits.acquire_prepared(PLAN, 40, MODEL, 30.0)
    assert held is not None
    assert limits.acquire_prepared(PLAN, 40, MODEL, 30.0) is None  # the one slot is taken
    spenders = (("key", "k"), ("team", "t"))
    limits.settle_before_last_byte(held, 25, 0.5, spenders)
    assert held.settled_cost == 0.5
    assert await state.usage("key", "k", NOW) == {
        "requests_1m": 1,
        "tokens_1m": 25,  # reconciled
        "concurrent": 0,  # freed
    }
    limits.free_slots(held)
    limits.settle(held, 25, 0.5, spenders)  # from finish_request: nothing left to do
    assert limits._spend.totals == {("key", "k"): 0.5, ("team", "t"): 0.5}
    assert (await state.usage("key", "k", NOW))["tokens_1m"] == 25


async def test_a_request_that_ends_without_usage_settles_after_its_slot_is_freed() -> None:
    state = MemoryState()
    limits = limiter(state)
    held = limits.acquire_prepared(PLAN, 40, MODEL, 30.0)
    assert held is not None
    limits.free_slots(held)  # the answer ended before the upstream reported its usage
    assert (await state.usage("key", "k", NOW))["concurrent"] == 0
    limits.settle(held, 0, 0.0, ())
    assert (await state.usage("key", "k", NOW))["tokens_1m"] == 0


async def test_a_refused_request_is_refused_by_acquire_with_its_headers() -> None:
    limits = limiter()
    for _ in range(5):
        held = limits.acquire_prepared(PLAN, 1, MODEL, 30.0)
        assert held is not None
        limits.settle(held, 1, 0.0, ())
    assert limits.acquire_prepared(PLAN, 1, MODEL, 30.0) is None  # the sixth in a minute
    checks = list(PLAN.checks)
    with pytest.raises(RateLimited) as refused:
        await limits.acquire(checks, MODEL, 30.0, PLAN.sorting)
    assert refused.value.headers["x-ratelimit-remaining-requests"] == "0"


async def test_plans_with_budgets_or_on_a_backend_that_prepares_nothing_use_acquire() -> None:
    with_budget = LimitPlan((*PLAN.checks, LimitCheck("key", "k", "budget_day", 5.0, 0)), True)
    assert limiter().acquire_prepared(with_budget, 1, MODEL, 30.0) is None

    class Unprepared(MemoryState):
        def prepare(self, checks: object) -> PreparedChecks | None:
            return None

    limits = limiter()
    assert limits.acquire_prepared(PLAN, 1, MODEL, 30.0) is not None
    limits.state = Unprepared()  # a backend swapped: prepared again, on the new one
    assert limits.acquire_prepared(PLAN, 1, MODEL, 30.0) is None


def test_a_backend_that_never_prepares_is_not_asked_on_every_request() -> None:
    """`prepares = False` (Redis): the limiter does not ask `prepare`, nor look the plan up."""

    class NeverPrepares(MemoryState):
        prepares = False

        def prepare(self, checks: object) -> PreparedChecks | None:
            raise AssertionError("asked to prepare")

    assert limiter(NeverPrepares()).acquire_prepared(PLAN, 1, MODEL, 30.0) is None
