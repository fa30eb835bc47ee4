import pytest

from gateway.config.types import DeploymentConfig
from gateway.observability.cost import cost_usd
from gateway.providers import Usage


def test_cost_uses_per_million_prices() -> None:
    deployment = DeploymentConfig(
        provider="p", model="m", input_cost_per_1m=0.15, output_cost_per_1m=0.60
    )
    usage = Usage(prompt_tokens=1000, completion_tokens=500)
    assert cost_usd(usage, deployment) == pytest.approx(0.00015 + 0.0003)


def test_cached_input_has_its_own_price() -> None:
    deployment = DeploymentConfig(
        provider="p",
        model="m",
        input_cost_per_1m=2.0,
        output_cost_per_1m=8.0,
        cached_input_cost_per_1m=0.5,
    )
    usage = Usage(prompt_tokens=1_000_000, completion_tokens=0, cached_tokens=400_000)
    assert cost_usd(usage, deployment) == pytest.approx(0.6 * 2.0 + 0.4 * 0.5)


def test_no_deployment_costs_nothing() -> None:
    assert cost_usd(Usage(prompt_tokens=10), None) == 0.0
