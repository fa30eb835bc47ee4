"""Which sampling settings a Claude deployment is sent: read from the model's name and the API
version, or said by the deployment; and what each request format's adapter then sends."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig, Sampling
from gateway.providers.anthropic.adapters import AnthropicMessagesAdapter, OpenAIClientToAnthropic
from gateway.providers.anthropic.sampling import rule_for_model, sampling_rule
from gateway.providers.responses.adapters import ResponsesToAnthropic

ANTHROPIC = ProviderConfig(name="anthropic", type="anthropic", base_url="https://api.anthropic.com")
MESSAGES = [{"role": "user", "content": "Hi"}]
ALL = {"temperature": 0.7, "top_p": 0.9, "top_k": 40}


@pytest.mark.parametrize(
    ("model", "rule"),
    [
        ("claude-opus-4-1-20250805", "one"),
        ("claude-opus-4-1", "one"),
        ("claude-sonnet-4-5-20250929", "one"),
        ("claude-haiku-4-5-20251001", "one"),
        ("claude-opus-4-5", "one"),
        ("claude-sonnet-4-6", "one"),
        ("claude-opus-4-6", "one"),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", "one"),  # Bedrock
        ("claude-sonnet-4-5@20250929", "one"),  # Vertex AI
        ("anthropic/claude-sonnet-4.5", "one"),  # a router's catalogue
        ("Claude-Sonnet-4-5", "one"),
        ("claude-opus-4-7", "none"),
        ("claude-opus-4-8", "none"),
        ("us.anthropic.claude-opus-4-7-v1:0", "none"),
        ("claude-fable-5", "none"),
        ("claude-opus-5-5", "none"),
        ("claude-sonnet-4-20250514", "all"),  # the date's digits are no minor version
        ("claude-opus-4-20250514", "all"),
        ("claude-sonnet-4-0", "all"),
        ("claude-opus-4@20250514", "all"),
        ("claude-3-7-sonnet-20250219", "all"),
        ("claude-3-5-haiku-20241022", "all"),
        ("claude-3-opus-latest", "all"),
        ("my-claude", "all"),
        ("arn:aws:bedrock:us-west-2:1:application-inference-profile/x7", "all"),
        ("gpt-4o", "all"),
    ],
)
def test_the_rule_is_read_from_the_models_version(model: str, rule: str) -> None:
    assert rule_for_model(model) == rule


def test_the_deployment_and_the_api_version_decide_before_the_name() -> None:
    assert sampling_rule("auto", "claude-sonnet-4-5", "2023-06-01") == "one"
    # API version 2026-10-21 removed the settings for every model.
    assert sampling_rule("auto", "claude-3-5-haiku-20241022", "2026-10-21") == "none"
    assert sampling_rule("auto", "claude-sonnet-4-5", "2027-01-01") == "none"
    # An Azure AI Foundry deployment's own name says nothing: the operator says it.
    assert sampling_rule("none", "my-opus", "2023-06-01") == "none"
    assert sampling_rule("all", "claude-sonnet-4-5", "2026-10-21") == "all"


def deployment(model: str, sampling: Sampling = "auto") -> DeploymentConfig:
    return DeploymentConfig(provider="anthropic", model=model, sampling=sampling)


def sent(adapter: Any, body: dict[str, Any], model: str, sampling: Sampling = "auto") -> Any:
    return orjson.loads(adapter.prepare(body, deployment(model, sampling), ANTHROPIC, "k").body)


def settings(upstream: dict[str, Any]) -> dict[str, Any]:
    return {name: upstream[name] for name in ALL if name in upstream}


def test_an_openai_request_gets_what_the_model_takes() -> None:
    body = {"model": "claude", "messages": MESSAGES, **ALL}
    adapter = OpenAIClientToAnthropic()
    assert settings(sent(adapter, body, "claude-sonnet-4-5")) == {"temperature": 0.7, "top_k": 40}
    assert settings(sent(adapter, body, "claude-sonnet-4-20250514")) == ALL
    assert settings(sent(adapter, body, "claude-opus-4-7")) == {}
    assert settings(sent(adapter, body, "my-opus", "none")) == {}
    # Either of temperature and top_p alone passes to a 4.5 model.
    alone = {"model": "claude", "messages": MESSAGES, "top_p": 0.9}
    assert settings(sent(adapter, alone, "claude-sonnet-4-5")) == {"top_p": 0.9}


def test_an_anthropic_request_routed_to_a_newer_claude_gets_what_it_takes() -> None:
    body = {"model": "claude", "max_tokens": 10, "messages": MESSAGES, **ALL}
    adapter = AnthropicMessagesAdapter()
    upstream = sent(adapter, body, "claude-haiku-4-5")
    assert (upstream["model"], settings(upstream)) == (
        "claude-haiku-4-5",
        {"temperature": 0.7, "top_k": 40},
    )
    assert body["top_p"] == 0.9  # the client's body is not changed
    assert settings(sent(adapter, body, "claude-3-5-haiku-20241022")) == ALL
    assert settings(sent(adapter, body, "claude-fable-5")) == {}


def test_a_responses_request_gets_what_the_model_takes() -> None:
    body = {"model": "claude", "input": "Hi", "temperature": 0.7, "top_p": 0.9}
    adapter = ResponsesToAnthropic(body)
    assert settings(sent(adapter, body, "claude-opus-4-1")) == {"temperature": 0.7}
    assert settings(sent(adapter, body, "claude-opus-4-8")) == {}
