"""Which deployments answer a token count, and the local estimate for the others."""

from __future__ import annotations

from gateway import tokens
from gateway.config.types import DeploymentConfig, ModelConfig, ProviderConfig
from gateway.pipeline.count_tokens import anthropic_group, estimate_input_tokens

PROVIDERS = {
    "ant": ProviderConfig(name="ant", type="anthropic", base_url="http://a"),
    "oai": ProviderConfig(name="oai", type="openai", base_url="http://o/v1"),
    "mock": ProviderConfig(name="mock", type="mock"),
}


def model(*deployments: DeploymentConfig) -> ModelConfig:
    return ModelConfig(name="m", deployments=deployments, fallbacks=("other",))


def test_the_anthropic_deployments_taking_traffic_answer_without_fallbacks() -> None:
    ant = DeploymentConfig(provider="ant", model="claude")
    canary = DeploymentConfig(provider="ant", model="claude-next", weight=0)
    group = anthropic_group(
        model(DeploymentConfig(provider="oai", model="gpt"), ant, canary), PROVIDERS
    )
    assert group is not None
    assert (group.deployments, group.fallbacks, group.deployment_names) == (
        (ant,),
        (),
        ("ant/claude",),
    )


def test_a_model_without_anthropic_deployments_is_counted_locally() -> None:
    deployments = (
        DeploymentConfig(provider="oai", model="gpt"),
        DeploymentConfig(provider="mock", model="mock-small"),
    )
    assert anthropic_group(model(*deployments), PROVIDERS) is None


def test_the_estimate_counts_messages_system_and_tools() -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    tool = {"name": "get_weather", "input_schema": {"type": "object"}}
    plain = estimate_input_tokens({"messages": messages, "system": "Be brief."})
    assert plain == tokens.count_messages(messages, "Be brief.")
    with_tool = estimate_input_tokens(
        {"messages": messages, "system": "Be brief.", "tools": [tool]}
    )
    assert with_tool > plain
