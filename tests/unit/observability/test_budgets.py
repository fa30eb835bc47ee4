"""Budget gauges: spend and remaining per key and team with a budget, read at scrape time; a
state backend that does not answer leaves them as they were."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

from gateway.config import load_config
from gateway.observability import budgets
from gateway.observability.metrics import Metrics
from gateway.state import StateBackend, StateUnavailable
from tests.mock_config import MOCK_MODEL, key_table

CONFIG = (
    MOCK_MODEL
    + key_table("capped", policy="capped", team="qa")
    + '\n[[keys]]\nid = "free"\n'
    + 'key_sha256 = "a77894fdfa58e447c57e077eaa9708e8e009c84dc6aba2db80461275e9b85be7"\n'
)
POLICY = "[limits]\nbudget_usd_per_day = 2.0\n[team_limits]\nbudget_usd_per_month = 50\n"


class Spends:
    def __init__(self, fail: BaseException | None = None) -> None:
        self.fail = fail
        self.asked: list[tuple[str, str]] = []

    async def spend(self, scope: str, subject: str, now: float) -> dict[str, float]:
        if self.fail is not None:
            raise self.fail
        self.asked.append((scope, subject))
        return {"day": 0.5, "month": 12.0, "total": 40.0}


def sample(metrics: Metrics, name: str, **labels: str) -> float | None:
    return metrics.registry.get_sample_value(name, labels)


def test_gauges_for_every_budgeted_key_and_team(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "capped.toml").write_text(POLICY)
    config = load_config(tmp_path / "config.toml", env={})
    metrics, state = Metrics(), Spends()
    asyncio.run(budgets.refresh_budgets(cast(StateBackend, state), config, metrics, 0.0))
    assert sorted(state.asked) == [("key", "capped"), ("team", "qa")]
    key = {"scope": "key", "subject": "capped", "period": "day"}
    team = {"scope": "team", "subject": "qa", "period": "month"}
    assert sample(metrics, "gateway_budget_spend_usd", **key) == 0.5
    assert sample(metrics, "gateway_budget_remaining_usd", **key) == 1.5
    assert sample(metrics, "gateway_budget_remaining_usd", **team) == 38.0
    assert (
        sample(metrics, "gateway_budget_spend_usd", scope="key", subject="free", period="day")
        is None
    )
    # The state backend down: the gauges keep their values and nothing raises.
    down = cast(StateBackend, Spends(StateUnavailable("down")))
    asyncio.run(budgets.refresh_budgets(down, config, metrics, 0.0))
    assert sample(metrics, "gateway_budget_spend_usd", **key) == 0.5


def test_a_budget_taken_out_of_the_config_leaves_the_gauges(tmp_path: Path) -> None:
    """Its series used to show their last values for the life of the process."""
    (tmp_path / "config.toml").write_text(CONFIG)
    (tmp_path / "policies").mkdir()
    policy = tmp_path / "policies" / "capped.toml"
    policy.write_text(POLICY)
    metrics, state = Metrics(), cast(StateBackend, Spends())
    asyncio.run(
        budgets.refresh_budgets(state, load_config(tmp_path / "config.toml", env={}), metrics, 0.0)
    )
    key = {"scope": "key", "subject": "capped", "period": "day"}
    team = {"scope": "team", "subject": "qa", "period": "month"}
    assert sample(metrics, "gateway_budget_remaining_usd", **team) == 38.0
    policy.write_text("[limits]\nbudget_usd_per_day = 2.0\n")  # the team's budget taken out
    config = load_config(tmp_path / "config.toml", env={})
    asyncio.run(budgets.refresh_budgets(state, config, metrics, 0.0))
    assert sample(metrics, "gateway_budget_remaining_usd", **key) == 1.5
    assert sample(metrics, "gateway_budget_remaining_usd", **team) is None
    assert sample(metrics, "gateway_budget_spend_usd", **team) is None
    policy.write_text("")  # no budget at all
    config = load_config(tmp_path / "config.toml", env={})
    asyncio.run(budgets.refresh_budgets(state, config, metrics, 0.0))
    assert sample(metrics, "gateway_budget_spend_usd", **key) is None
