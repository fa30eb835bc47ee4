"""Which deployments answer a token count (a Messages one, a Responses one), and the local
estimate for the others."""

from __future__ import annotations

from gateway import tokens
from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig, ModelConfig
from gateway.pipeline.count_tokens import (
    counting_group,
    counts_messages,
    counts_responses,
    estimate_input_tokens,
)
from gateway.providers.responses.input_tokens import count_body, estimated_input_tokens

PROVIDERS = {
    "ant": ProviderConfig(name="ant", type="anthropic", base_url="http://a"),
    "oai": ProviderConfig(name="oai", type="openai", base_url="http://o/v1"),
    "mock": ProviderConfig(name="mock", type="mock"),
    "openai": ProviderConfig(name="openai", type="openai", base_url="https://api.openai.com/v1"),
    "vllm": ProviderConfig(name="vllm", type="openai", base_url="http://v/v1", responses=True),
}


def model(*deployments: DeploymentConfig) -> ModelConfig:
    return ModelConfig(name="m", deployments=deployments, fallbacks=("other",))


def test_the_anthropic_deployments_taking_traffic_answer_without_fallbacks() -> None:
    ant = DeploymentConfig(provider="ant", model="claude")
    canary = DeploymentConfig(provider="ant", model="claude-next", weight=0)
    group = counting_group(
        model(DeploymentConfig(provider="oai", model="gpt"), ant, canary),
        PROVIDERS,
        counts_messages,
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
    assert counting_group(model(*deployments), PROVIDERS, counts_messages) is None


def test_the_deployments_with_the_responses_api_count_a_responses_request() -> None:
    deployments = [
        DeploymentConfig(provider=name, model="m") for name in ("ant", "oai", "mock", "openai")
    ]
    group = counting_group(model(*deployments), PROVIDERS, counts_responses)
    assert group is not None and group.deployment_names == ("openai/m",)
    vllm = DeploymentConfig(provider="vllm", model="m")  # (`responses = true`)
    assert counting_group(model(vllm), PROVIDERS, counts_responses) is not None
    assert counting_group(model(*deployments[:3]), PROVIDERS, counts_responses) is None


def test_a_responses_estimate_counts_what_chat_would_be_sent() -> None:
    tool = {"type": "function", "name": "shell", "parameters": {"type": "object"}}
    body = {"model": "m", "input": "List the files.", "instructions": "Be brief."}
    plain = estimated_input_tokens(body)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "List the files."},
    ]
    assert plain == tokens.count_messages(messages)
    assert estimated_input_tokens({**body, "tools": [tool]}) > plain
    calls = [
        {"role": "user", "content": "List the files."},
        {"type": "function_call", "call_id": "c", "name": "shell", "arguments": '{"cmd":"ls"}'},
        {"type": "function_call_output", "call_id": "c", "output": "a.txt b.txt " * 50},
    ]
    assert estimated_input_tokens({**body, "input": calls}) > plain + 100


def test_a_count_upstream_gets_only_what_a_count_takes() -> None:
    whole = {"model": "m", "input": "x", "stream": True, "store": False, "max_output_tokens": 9}
    assert count_body({**whole, "tools": []}) == {"model": "m", "input": "x", "tools": []}


def test_the_estimate_counts_messages_system_and_tools() -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris?"}]
    tool = {"name": "get_weather", "input_schema": {"type": "object"}}
    plain = estimate_input_tokens({"messages": messages, "system": "Be brief."})
    assert plain == tokens.count_messages(messages, "Be brief.")
    with_tool = estimate_input_tokens(
        {"messages": messages, "system": "Be brief.", "tools": [tool]}
    )
    assert with_tool > plain
