"""`estimate_request`: the tokens a request reserves for tpm and the most it may cost, which a
budget reserves, before the call."""

from __future__ import annotations

import pytest

from gateway.config.types import DeploymentConfig, ModelConfig, TierCosts
from gateway.limits.estimate import estimate_request
from gateway.providers.service_tiers import asked_tier


def test_estimate_reserves_the_prompt_and_max_tokens_at_the_dearest_deployment() -> None:
    cheap = DeploymentConfig(provider="p", model="a", input_cost_per_1m=1, output_cost_per_1m=2)
    dear = DeploymentConfig(provider="p", model="b", input_cost_per_1m=10, output_cost_per_1m=20)
    model = ModelConfig("gpt", (cheap, dear))
    estimate = estimate_request({"max_tokens": 100}, "chat", model, 50)
    assert (estimate.prompt_tokens, estimate.completion_tokens) == (50, 100)
    assert estimate.cost_usd == pytest.approx((50 * 10 + 100 * 20) / 1e6)
    assert estimate_request({}, "chat", model, 5).completion_tokens == 256  # the default
    assert estimate_request({"max_tokens": 100}, "embeddings", model, 5).completion_tokens == 0
    responses = estimate_request({"max_output_tokens": 40}, "responses", model, 5)
    assert responses.completion_tokens == 40  # the Responses API's name for it


@pytest.mark.parametrize(
    ("body", "texts"),
    [
        ({"prompt": "once upon"}, 1),
        ({"prompt": [464, 3290, 374]}, 1),  # one prompt as token ids
        ({"prompt": "once upon", "n": 3}, 3),
        ({"prompt": "once upon", "n": 2, "best_of": 5}, 5),  # best_of generated, n returned
        ({"prompt": ["a", "b", "c", "d"], "n": 2}, 8),  # n for each prompt
        ({"prompt": [[464], [3290]], "best_of": 3}, 6),
    ],
)
def test_a_legacy_completion_reserves_max_tokens_for_each_text_it_generates(
    body: dict[str, object], texts: int
) -> None:
    """OpenAI answers each prompt with `best_of` (at least `n`) generated texts, each up to
    `max_tokens`: tpm and budgets reserve them all, not one."""
    model = ModelConfig("m", (DeploymentConfig(provider="p", model="a", output_cost_per_1m=2),))
    estimate = estimate_request({**body, "max_tokens": 100}, "completions", model, 10)
    assert estimate.completion_tokens == 100 * texts
    assert estimate.cost_usd == pytest.approx(100 * texts * 2 / 1e6)


@pytest.mark.parametrize(("n", "texts"), [(None, 1), (1, 1), (3, 3), ("3", 1), (0, 1)])
def test_a_chat_reserves_max_tokens_for_each_choice(n: object, texts: int) -> None:
    """`n` choices may each take `max_tokens`: tpm and budgets reserve them all, not one (a
    value OpenAI would refuse counts as one: the upstream answers it)."""
    model = ModelConfig("m", (DeploymentConfig(provider="p", model="a", output_cost_per_1m=2),))
    body: dict[str, object] = {"max_tokens": 100} if n is None else {"max_tokens": 100, "n": n}
    estimate = estimate_request(body, "chat", model, 10)
    assert estimate.completion_tokens == 100 * texts
    assert estimate.cost_usd == pytest.approx(100 * texts * 2 / 1e6)


@pytest.mark.parametrize(
    ("asked", "multiple"),
    [
        ({"service_tier": "fast"}, 2.0),
        ({"service_tier": "priority"}, 2.0),
        ({"service_tier": "ultrafast"}, 5.0),  # the deployment's own
        ({"service_tier": "flex"}, 0.5),
        ({"service_tier": "default"}, 1.0),
        ({"speed": "fast"}, 2.0),
        ({}, 1.0),
    ],
)
def test_a_budget_reserves_at_the_tier_the_request_asks_for(
    asked: dict[str, str], multiple: float
) -> None:
    """A Codex session in `/fast` spends at twice the price: its estimate says so."""
    deployment = DeploymentConfig(
        provider="p",
        model="m",
        input_cost_per_1m=10,
        output_cost_per_1m=50,
        tier_costs=TierCosts(ultrafast=5.0),
    )
    body = {"max_tokens": 100, **asked}
    model = ModelConfig("m", (deployment,))
    estimate = estimate_request(body, "chat", model, 50, tier=asked_tier(body))
    assert estimate.cost_usd == pytest.approx((50 * 10 + 100 * 50) / 1e6 * multiple)
