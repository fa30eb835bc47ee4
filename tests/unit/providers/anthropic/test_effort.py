"""Effort levels both ways: an OpenAI client's `reasoning_effort` as Claude's
`output_config.effort`, an Anthropic client's effort as a reasoning deployment's."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.providers.anthropic.adapters import AnthropicMessagesAdapter
from gateway.providers.anthropic.client_to_openai import AnthropicClientToOpenAI
from gateway.providers.anthropic.effort import claude_effort, openai_reasoning_effort
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic

OPENAI = ProviderConfig(name="oai", type="openai", base_url="https://api.openai.com/v1")
MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize(
    ("effort", "on_4_6", "on_4_7"),
    [
        ("none", "low", "low"),
        ("minimal", "low", "low"),
        ("low", "low", "low"),
        ("medium", "medium", "medium"),
        ("high", "high", "high"),
        ("xhigh", "max", "xhigh"),
        ("max", "max", "max"),
        ("extreme", None, None),
        (None, None, None),
        (3, None, None),
    ],
)
def test_the_levels_map_onto_each_models_ladder(
    effort: object, on_4_6: str | None, on_4_7: str | None
) -> None:
    assert claude_effort(effort, "claude-sonnet-4-6") == on_4_6
    assert claude_effort(effort, "claude-opus-4-7") == on_4_7
    assert claude_effort(effort, "claude-opus-5") == on_4_7


@pytest.mark.parametrize(
    "model", ["claude-sonnet-4-5-20250929", "claude-opus-4-1", "claude-3-5-haiku-20241022", "x"]
)
def test_older_models_and_unknown_names_get_no_effort(model: str) -> None:
    assert claude_effort("high", model) is None


def test_the_translation_sends_it_as_output_config() -> None:
    body = {"messages": [{"role": "user", "content": "Hi"}], "reasoning_effort": "xhigh"}
    assert openai_request_to_anthropic(body, "claude-opus-4-8")["output_config"] == {
        "effort": "xhigh"
    }
    assert "output_config" not in openai_request_to_anthropic(body, "claude-sonnet-4-5")


@pytest.mark.parametrize(
    ("output_config", "effort"),
    [
        ({"effort": "low"}, "low"),
        ({"effort": "medium"}, "medium"),
        ({"effort": "high"}, "high"),
        ({"effort": "xhigh"}, "high"),
        ({"effort": "max"}, "high"),
        ({"effort": "extreme"}, None),
        ({"format": {"type": "json_schema"}}, None),
        ("high", None),
        (None, None),
    ],
)
def test_an_anthropic_clients_effort_as_openais(output_config: object, effort: str | None) -> None:
    assert openai_reasoning_effort(output_config) == effort


def sent_to(reasoning: bool, output_config: dict[str, Any]) -> dict[str, Any]:
    body = {"model": "m", "max_tokens": 10, "messages": MESSAGES, "output_config": output_config}
    deployment = DeploymentConfig(provider="oai", model="gpt-5", reasoning=reasoning)
    parsed: dict[str, Any] = orjson.loads(
        AnthropicClientToOpenAI().prepare(body, deployment, OPENAI, "k").body
    )
    return parsed


def test_a_reasoning_deployment_gets_the_effort_others_do_not() -> None:
    assert sent_to(True, {"effort": "max"})["reasoning_effort"] == "high"
    assert "reasoning_effort" not in sent_to(False, {"effort": "max"})
    assert "reasoning_effort" not in sent_to(True, {})


ANTHROPIC = ProviderConfig(name="ant", type="anthropic", base_url="https://api.anthropic.com")


def _sent_config(model: str, config: dict[str, Any], **fields: Any) -> Any:
    body = {"model": "m", "max_tokens": 32_000, "messages": MESSAGES, "output_config": config}
    call = AnthropicMessagesAdapter().prepare(
        {**body, **fields}, DeploymentConfig(provider="ant", model=model), ANTHROPIC, "k"
    )
    return orjson.loads(call.body).get("output_config")


@pytest.mark.parametrize(
    ("model", "xhigh", "max_"),
    [
        ("claude-opus-4-8", "xhigh", "max"),
        ("claude-sonnet-5", "xhigh", "max"),
        ("claude-sonnet-4-6", "max", "max"),
        ("claude-opus-4-6", "max", "max"),
        ("claude-opus-4-5-20251101", "high", "high"),
        ("claude-sonnet-4-5-20250929", None, None),
        ("claude-haiku-4-5", None, None),
        ("my-claude", "xhigh", "max"),  # a name that does not say: as asked
    ],
)
def test_an_anthropic_clients_effort_is_a_level_the_model_takes(
    model: str, xhigh: str | None, max_: str | None
) -> None:
    for asked, expected in (("xhigh", xhigh), ("max", max_)):
        sent = _sent_config(model, {"effort": asked})
        assert (sent or {}).get("effort") == expected
    # The other settings of output_config stay; a config left empty goes.
    schema = {"type": "json_schema", "schema": {"type": "object"}}
    assert _sent_config("claude-haiku-4-5", {"effort": "low", "format": schema}) == {
        "format": schema
    }
    assert _sent_config("claude-haiku-4-5", {"effort": "low"}) is None
    assert _sent_config("claude-sonnet-4-6", {"effort": "low"}) == {"effort": "low"}
