import pytest

from gateway.config.types import DeploymentConfig, TierCosts
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


def test_cache_writes_cost_a_quarter_more_than_input_by_default() -> None:
    # Anthropic: 100 plain input tokens, 300 cache reads, 600 cache writes (all in prompt_tokens).
    deployment = DeploymentConfig(
        provider="p",
        model="m",
        input_cost_per_1m=3.0,
        output_cost_per_1m=15.0,
        cached_input_cost_per_1m=0.3,
    )
    usage = Usage(
        prompt_tokens=1000, completion_tokens=10, cached_tokens=300, cache_write_tokens=600
    )
    expected = (100 * 3.0 + 300 * 0.3 + 600 * 3.75 + 10 * 15.0) / 1e6
    assert cost_usd(usage, deployment) == pytest.approx(expected)


def test_cache_writes_use_the_deployment_price_when_set() -> None:
    deployment = DeploymentConfig(
        provider="p", model="m", input_cost_per_1m=3.0, cache_write_cost_per_1m=6.0
    )
    usage = Usage(prompt_tokens=1000, cache_write_tokens=1000)
    assert cost_usd(usage, deployment) == pytest.approx(1000 * 6.0 / 1e6)


def test_cache_writes_never_count_beyond_the_prompt() -> None:
    deployment = DeploymentConfig(provider="p", model="m", input_cost_per_1m=1.0)
    usage = Usage(prompt_tokens=10, cached_tokens=8, cache_write_tokens=50)
    assert cost_usd(usage, deployment) == pytest.approx((8 * 1.0 + 2 * 1.25) / 1e6)


def test_cost_is_never_negative() -> None:
    deployment = DeploymentConfig(provider="p", model="m", input_cost_per_1m=1.0)
    assert cost_usd(Usage(prompt_tokens=-1_000_000), deployment) == 0.0


def test_one_hour_cache_writes_cost_twice_the_input_by_default() -> None:
    # Anthropic: 200 writes to the 5-minute cache (1.25 x input), 400 to the 1-hour one (2 x).
    deployment = DeploymentConfig(provider="p", model="m", input_cost_per_1m=3.0)
    usage = Usage(prompt_tokens=1000, cache_write_tokens=600, cache_write_1h_tokens=400)
    expected = (400 * 3.0 + 200 * 3.75 + 400 * 6.0) / 1e6
    assert cost_usd(usage, deployment) == pytest.approx(expected)


def test_one_hour_cache_writes_use_the_deployment_price_when_set() -> None:
    deployment = DeploymentConfig(
        provider="p",
        model="m",
        input_cost_per_1m=3.0,
        cache_write_cost_per_1m=4.0,
        cache_write_1h_cost_per_1m=7.0,
    )
    usage = Usage(prompt_tokens=600, cache_write_tokens=600, cache_write_1h_tokens=400)
    assert cost_usd(usage, deployment) == pytest.approx((200 * 4.0 + 400 * 7.0) / 1e6)


def test_audio_tokens_have_their_own_prices_when_set() -> None:
    # gpt-4o-audio-preview: text $2.50 / $10, audio $40 / $80 per 1M; audio tokens are part of
    # prompt_tokens and completion_tokens, as OpenAI reports them.
    deployment = DeploymentConfig(
        provider="p",
        model="m",
        input_cost_per_1m=2.5,
        output_cost_per_1m=10.0,
        audio_input_cost_per_1m=40.0,
        audio_output_cost_per_1m=80.0,
    )
    usage = Usage(
        prompt_tokens=1000,
        completion_tokens=500,
        audio_prompt_tokens=800,
        audio_completion_tokens=400,
    )
    expected = (200 * 2.5 + 800 * 40.0 + 100 * 10.0 + 400 * 80.0) / 1e6
    assert cost_usd(usage, deployment) == pytest.approx(expected)
    # Unset, audio costs what text does.
    plain = DeploymentConfig(provider="p", model="m", input_cost_per_1m=2.5, output_cost_per_1m=10)
    assert cost_usd(usage, plain) == pytest.approx((1000 * 2.5 + 500 * 10.0) / 1e6)


def test_web_searches_cost_their_price_per_thousand() -> None:
    # Claude Sonnet: $3 / $15 per 1M tokens, web search $10 per 1,000 searches.
    deployment = DeploymentConfig(
        provider="p",
        model="m",
        input_cost_per_1m=3.0,
        output_cost_per_1m=15.0,
        web_search_cost_per_1k=10.0,
    )
    usage = Usage(prompt_tokens=1000, completion_tokens=100, web_searches=3)
    assert cost_usd(usage, deployment) == pytest.approx((1000 * 3 + 100 * 15) / 1e6 + 0.03)
    cached = Usage(prompt_tokens=1000, cached_tokens=500, web_searches=1)
    assert cost_usd(cached, deployment) == pytest.approx((500 * 3 + 500 * 3) / 1e6 + 0.01)
    # Unpriced (the default), a search costs nothing more.
    plain = DeploymentConfig(provider="p", model="m", input_cost_per_1m=3.0)
    assert cost_usd(usage, plain) == pytest.approx(1000 * 3 / 1e6)


@pytest.mark.parametrize(
    ("tier", "multiple"),
    [(None, 1.0), ("priority", 2.0), ("flex", 0.5), ("ultrafast", 6.0), ("fast", 2.0)],
)
def test_the_tier_that_served_multiplies_the_tokens_price(
    tier: str | None, multiple: float
) -> None:
    deployment = DeploymentConfig(
        provider="p",
        model="m",
        input_cost_per_1m=10.0,
        output_cost_per_1m=50.0,
        cached_input_cost_per_1m=1.0,
        web_search_cost_per_1k=10.0,
    )
    usage = Usage(
        prompt_tokens=1_000_000,
        completion_tokens=100_000,
        cached_tokens=500_000,
        web_searches=2,
        service_tier=tier,
    )
    tokens = 0.5 * 10.0 + 0.5 * 1.0 + 0.1 * 50.0
    assert cost_usd(usage, deployment) == pytest.approx(tokens * multiple + 2 * 0.01)


def test_a_deployments_own_tier_costs_and_an_unknown_tier() -> None:
    deployment = DeploymentConfig(
        provider="p",
        model="claude-opus-4-6",
        input_cost_per_1m=5.0,
        tier_costs=TierCosts(fast=6.0),
    )
    fast = Usage(prompt_tokens=1_000_000, service_tier="fast")
    assert cost_usd(fast, deployment) == pytest.approx(30.0)
    other = Usage(prompt_tokens=1_000_000, service_tier="other")
    assert cost_usd(other, deployment) == pytest.approx(5.0)
