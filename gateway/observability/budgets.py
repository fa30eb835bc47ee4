"""Budget spend and what is left of it, as gauges per key and team, read when /metrics is
scraped (`gateway_budget_spend_usd`, `gateway_budget_remaining_usd`).

Only keys and teams whose policy sets a budget are read: as many as the config names. The
spend comes from the state backend (shared by replicas), so every worker reports the same
value; a state backend that does not answer within `READ_WITHIN_S` leaves the gauges as they
were, and the scrape answers anyway.
"""

from __future__ import annotations

import asyncio
import logging

from gateway.config.types import GatewayConfig, LimitsConfig
from gateway.observability.metrics import Metrics, multiprocess_enabled
from gateway.state import StateBackend, StateUnavailable

log = logging.getLogger("gateway")
READ_WITHIN_S = 1.0
_PERIODS = (("day", "budget_usd_per_day"), ("month", "budget_usd_per_month"))


def budgeted(config: GatewayConfig) -> dict[tuple[str, str], LimitsConfig]:
    """(scope, subject) -> its limits, for every key and team with a daily or monthly budget."""
    found: dict[tuple[str, str], LimitsConfig] = {}
    for key in config.keys:
        policy = config.policies.get(key.policy)
        if policy is None:
            continue
        if _has_budget(policy.limits):
            found[("key", key.id)] = policy.limits
        if key.team and _has_budget(policy.team_limits):
            found[("team", key.team)] = policy.team_limits
    return found


def _has_budget(limits: LimitsConfig) -> bool:
    return limits.budget_usd_per_day is not None or limits.budget_usd_per_month is not None


async def refresh_budgets(
    state: StateBackend, config: GatewayConfig, metrics: Metrics, now: float
) -> None:
    subjects = budgeted(config)
    _forget_unbudgeted(metrics, subjects)
    if not subjects:
        return
    try:
        async with asyncio.timeout(READ_WITHIN_S):
            for (scope, subject), limits in subjects.items():
                spend = await state.spend(scope, subject, now)
                for period, field in _PERIODS:
                    limit = getattr(limits, field)
                    if limit is None:
                        continue
                    spent = spend.get(period, 0.0)
                    metrics.state_gauges.budget_spend.labels(scope, subject, period).set(spent)
                    metrics.state_gauges.budget_remaining.labels(scope, subject, period).set(
                        max(0.0, limit - spent)
                    )
    except (TimeoutError, StateUnavailable) as exc:
        log.warning("budget gauges not refreshed: state backend %s", type(exc).__name__)


def _forget_unbudgeted(metrics: Metrics, subjects: dict[tuple[str, str], LimitsConfig]) -> None:
    """Drop the series of budgets the config no longer has (a key or team removed, a period's
    budget taken out), else they showed their last values for the life of the process.
    Multiprocess mode cannot drop a series from the shared files: there they stay."""
    if multiprocess_enabled():
        return
    gauges = metrics.state_gauges
    for gauge in (gauges.budget_spend, gauges.budget_remaining):
        for family in gauge.collect():
            for sample in family.samples:
                scope, subject, period = (sample.labels[n] for n in ("scope", "subject", "period"))
                limits = subjects.get((scope, subject))
                if limits is None or getattr(limits, dict(_PERIODS)[period]) is None:
                    metrics.forget(gauge, scope, subject, period)
