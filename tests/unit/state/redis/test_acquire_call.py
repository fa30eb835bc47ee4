"""The acquire's encoding: a plan's template (`AcquireTemplate`) encodes the same bytes as the
check-by-check encoding, for every shape of plan, and the backend uses it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from gateway.state import LimitCheck, Reservation
from gateway.state.redis.acquire_call import acquire_call, template_of
from gateway.state.redis.backend import RedisState

T0 = 1_768_435_200.25


def _plan(*kinds: tuple[str, str, float]) -> tuple[LimitCheck, ...]:
    """A plan's checks: (scope, kind, limit) each, amounts as `LimitPlan` keeps them."""
    return tuple(
        LimitCheck(scope, f"{scope}-subject", kind, limit, 0 if kind == "tpm" else 1)  # type: ignore[arg-type]
        for scope, kind, limit in kinds
    )


def _for_request(plan: tuple[LimitCheck, ...], tokens: float) -> tuple[LimitCheck, ...]:
    """`LimitPlan.for_request`: the plan's checks, the tpm ones with the request's tokens."""
    return tuple(
        LimitCheck(c.scope, c.subject, c.kind, c.limit, tokens) if c.kind == "tpm" else c
        for c in plan
    )


PLANS = {
    "rpm": _plan(("key", "rpm", 60)),
    "usual": _plan(("key", "rpm", 1000), ("key", "tpm", 100_000), ("key", "concurrent", 8)),
    "tpm first": _plan(("key", "tpm", 5000), ("key", "rpm", 10)),
    "key and team": _plan(
        ("key", "rpm", 100),
        ("key", "tpm", 9000),
        ("team", "rpm", 500),
        ("team", "tpm", 90_000),
        ("team", "concurrent", 32),
    ),
    "slots only": _plan(("model", "concurrent", 2)),
}


@pytest.mark.parametrize("name", sorted(PLANS))
@pytest.mark.parametrize("tokens", [1, 312, 1.5, 10**12])
@pytest.mark.parametrize("hold_s", [0.0001, 35.0, 90.0])
def test_template_encodes_the_same_call(name: str, tokens: float, hold_s: float) -> None:
    plan = PLANS[name]
    template = template_of(plan)
    assert template is not None
    reservation = Reservation("0a1b2c3d", _for_request(plan, tokens), T0, hold_s)
    assert acquire_call(reservation, template) == acquire_call(reservation)


def test_budgets_get_no_template() -> None:
    """A budget's hint is the time to its period's end: it moves with the clock."""
    assert template_of(_plan(("key", "rpm", 10), ("key", "budget_day", 5.0))) is None
    assert template_of(_plan(("key", "budget_month", 50.0))) is None


async def test_the_backend_encodes_a_shape_once_and_limits_hold(
    make_redis_state: Callable[[], RedisState],
) -> None:
    """Acquires named by their plan (`shape`) share one template, and the limits they encode
    bind as those of acquires without one."""
    state = make_redis_state()
    plan = _plan(("key", "rpm", 3), ("key", "tpm", 1000))
    allowed = []
    for number in range(5):
        checks = _for_request(plan, 100 + number)
        result = await state.acquire(checks, T0 + number * 0.01, shape=plan)
        allowed.append(result.allowed)
    assert allowed == [True, True, True, False, False]
    assert len(state._templates) == 1
    usage = await state.usage("key", "key-subject", T0 + 1)
    assert usage["requests_1m"] == 3
    assert usage["tokens_1m"] == 100 + 101 + 102
