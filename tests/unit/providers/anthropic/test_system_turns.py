"""Mid-conversation system messages (Claude Opus 4.8's `role: "system"` in `messages`, which
Claude Code sends) as user turns for the models that refuse them, and for OpenAI upstreams."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.providers import adapter_for
from gateway.providers.anthropic.system_turns import system_turn, takes_system_turns

CACHED = {"type": "ephemeral"}
SYSTEM = {
    "role": "system",
    "content": [
        {"type": "text", "text": "Be terse."},
        {"type": "tool_addition", "tool": {"type": "tool_reference", "name": "x"}},
        {"type": "text", "text": "Use tabs.", "cache_control": CACHED},
    ],
}
BODY: dict[str, Any] = {
    "model": "pub",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "hi"}, SYSTEM, {"role": "assistant", "content": "ok"}],
}
FOLDED = "<system>\nBe terse.\n\nUse tabs.\n</system>"
TURN = {
    "role": "user",
    "content": [
        {
            "type": "text",
            "text": FOLDED,
            "cache_control": CACHED,
        }
    ],
}


@pytest.mark.parametrize(
    ("model", "takes"),
    [
        ("claude-opus-4-8", True),
        ("claude-opus-4-8-20260528", True),
        ("claude-fable-5", True),
        ("claude-sonnet-4-6", False),
        ("claude-opus-4-7", False),
        ("deepseek-v4-pro", False),  # an Anthropic-compatible server's
    ],
)
def test_which_models_take_them(model: str, takes: bool) -> None:
    assert takes_system_turns(model) is takes


def _sent(model: str) -> list[Any]:
    provider = ProviderConfig(name="a", type="anthropic", base_url="https://api.anthropic.com")
    deployment = DeploymentConfig(provider="a", model=model)
    call = adapter_for("messages", provider, None, BODY).prepare(BODY, deployment, provider, "k")
    messages: list[Any] = orjson.loads(call.body)["messages"]
    return messages


def test_a_model_before_opus_4_8_gets_a_user_turn() -> None:
    assert _sent("claude-sonnet-4-6")[1] == TURN
    assert _sent("deepseek-v4-pro")[1] == TURN
    assert _sent("claude-opus-4-8")[1] == SYSTEM  # taken as it is
    assert BODY["messages"][1] == SYSTEM  # the client's body unchanged


def test_a_turn_without_text_is_left_out() -> None:
    assert system_turn([{"type": "tool_removal", "name": "x"}]) is None
    assert system_turn("") is None
    assert system_turn("Now in French.") == {
        "role": "user",
        "content": [{"type": "text", "text": "<system>\nNow in French.\n</system>"}],
    }


def test_an_openai_upstream_gets_it_as_a_user_message() -> None:
    provider = ProviderConfig(name="o", type="openai", base_url="https://api.openai.com/v1")
    deployment = DeploymentConfig(provider="o", model="gpt-5.2")
    call = adapter_for("messages", provider, None, BODY).prepare(BODY, deployment, provider, "k")
    messages = orjson.loads(call.body)["messages"]
    assert messages[1]["role"] == "user"
    assert FOLDED in str(messages[1]["content"])
