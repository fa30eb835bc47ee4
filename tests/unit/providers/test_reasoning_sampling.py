"""A `reasoning = true` deployment (o-series, gpt-5) is sent no sampling settings and no `stop`,
which these models refuse, from any client format; other deployments, and a request asking for
no reasoning, keep them."""

from __future__ import annotations

import dataclasses
from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.providers import EndpointKind, adapter_for

OPENAI = ProviderConfig(name="oai", type="openai", base_url="https://api.openai.com/v1")
AZURE = ProviderConfig(
    name="az", type="azure", base_url="https://res.openai.azure.com/", api_version="2025-04-01"
)
PLAIN = DeploymentConfig(provider="oai", model="gpt-4o")
REASONING = dataclasses.replace(PLAIN, model="o3", reasoning=True)
SAMPLING = {
    "temperature": 0.2,
    "top_p": 0.9,
    "presence_penalty": 0.5,
    "frequency_penalty": 0.3,
    "logit_bias": {"50256": -100},
    "stop": ["\nObservation:"],
}
USER = [{"role": "user", "content": "hi"}]


def _sent(
    kind: EndpointKind, provider: ProviderConfig, deployment: DeploymentConfig, body: Any
) -> dict[str, Any]:
    call = adapter_for(kind, provider, body=body).prepare(body, deployment, provider, "k")
    sent: dict[str, Any] = orjson.loads(call.body)
    return sent


@pytest.mark.parametrize("provider", [OPENAI, AZURE])
def test_a_chat_request_reaches_a_reasoning_deployment_without_refused_settings(
    provider: ProviderConfig,
) -> None:
    sent = _sent("chat", provider, REASONING, {"messages": USER, "max_tokens": 9, **SAMPLING})
    assert not set(SAMPLING) & set(sent)
    assert sent["max_completion_tokens"] == 9
    assert sent["messages"] == USER


def test_another_deployment_gets_them_as_sent() -> None:
    sent = _sent("chat", OPENAI, PLAIN, {"messages": USER, **SAMPLING})
    assert {name: sent[name] for name in SAMPLING} == SAMPLING


def test_no_reasoning_asked_keeps_them() -> None:
    # gpt-5.1 and later take the sampling settings with `reasoning_effort: "none"`.
    body = {"messages": USER, "reasoning_effort": "none", **SAMPLING}
    sent = _sent("chat", OPENAI, REASONING, body)
    assert {name: sent[name] for name in SAMPLING} == SAMPLING


@pytest.mark.parametrize(
    ("model", "kept"),
    [
        ("gpt-5.1", True),
        ("gpt-5.2-2025-12-11", True),
        ("gpt-5.4-mini", True),
        ("gpt-5.1-prod", True),  # an Azure deployment's own name that says which model
        ("gpt-5.1-codex", False),
        ("gpt-5.4-pro", False),
        ("gpt-5.5", False),
        ("gpt-5.6-sol", False),
        ("gpt-5", False),
        ("gpt-5-mini", False),
        ("o3", False),
        ("gpt-5.10", False),
    ],
)
def test_a_model_that_reasons_not_at_all_by_default_keeps_them_without_an_effort(
    model: str, kept: bool
) -> None:
    # gpt-5.1 to gpt-5.4 default to effort "none" (temperature taken); gpt-5.5 and later to
    # "medium" (temperature refused unless the request says "none").
    deployment = dataclasses.replace(REASONING, model=model)
    sent = _sent("chat", OPENAI, deployment, {"messages": USER, **SAMPLING})
    assert (set(SAMPLING) <= set(sent)) is kept
    assert not set(SAMPLING) & set(sent) or kept
    low = _sent(
        "chat", OPENAI, deployment, {"messages": USER, "reasoning_effort": "low", **SAMPLING}
    )
    assert not set(SAMPLING) & set(low)


def test_an_anthropic_clients_temperature_and_top_p_are_left_out() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": USER, "temperature": 0.5, "top_p": 0.8}
    body["stop_sequences"] = ["END"]
    sent = _sent("messages", OPENAI, REASONING, body)
    assert "temperature" not in sent and "top_p" not in sent and "stop" not in sent
    assert sent["max_completion_tokens"] == 5
    assert _sent("messages", OPENAI, PLAIN, body)["temperature"] == 0.5


@pytest.mark.parametrize("provider", [OPENAI, AZURE])  # passed through; translated to chat
def test_a_responses_request_is_sent_no_temperature_or_top_p(provider: ProviderConfig) -> None:
    body = {"model": "m", "input": "x", "temperature": 0.2, "top_p": 0.9}
    sent = _sent("responses", provider, REASONING, body)
    assert "temperature" not in sent and "top_p" not in sent
    none = {**body, "reasoning": {"effort": "none"}}
    assert _sent("responses", provider, REASONING, none)["temperature"] == 0.2
