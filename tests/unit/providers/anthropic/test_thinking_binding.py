"""Thinking blocks sent back to the Claude models that bind them to their conversation (Opus
5.5, Sonnet 5.5, Haiku 5.5, Fable 5.1, Mythos 5.1): the request asks that a block whose
conversation changed be dropped, not refused, with the beta beside the client's."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.providers.anthropic.adapters import AnthropicMessagesAdapter
from gateway.providers.anthropic.thinking_binding import (
    BETA,
    DROP_BLOCK,
    binds_thinking,
    with_block_binding,
)

JSON = dict[str, Any]
THOUGHT: JSON = {"type": "thinking", "thinking": "", "signature": "c2lnbmVk"}
CALL: JSON = {"type": "tool_use", "id": "toolu_1", "name": "read", "input": {}}
RESULT: JSON = {"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}
LOOP: list[JSON] = [
    {"role": "user", "content": "Read it."},
    {"role": "assistant", "content": [THOUGHT, CALL]},
    {"role": "user", "content": [RESULT]},
]


@pytest.mark.parametrize(
    ("model", "binds"),
    [
        ("claude-opus-5-5", True),
        ("claude-sonnet-5-5", True),
        ("claude-haiku-5-5", True),
        ("claude-fable-5-1", True),
        ("claude-mythos-5-2", True),
        ("claude-opus-5", False),
        ("claude-fable-5", False),
        ("claude-haiku-4-5", False),
        ("our-claude", False),
    ],
)
def test_which_models_bind_thinking_blocks(model: str, binds: bool) -> None:
    assert binds_thinking(model) is binds


def test_thinking_sent_back_is_dropped_not_refused_when_its_conversation_changed() -> None:
    body: JSON = {"messages": LOOP}
    assert with_block_binding(body, "claude-opus-5-5", None) == BETA
    assert body["thinking"] == {"type": "adaptive", "block_binding": DROP_BLOCK}
    shown: JSON = {"messages": LOOP, "thinking": {"type": "adaptive", "display": "summarized"}}
    beta = with_block_binding(shown, "claude-fable-5-1", "context-1m-2025-08-07")
    assert beta == f"context-1m-2025-08-07,{BETA}"
    assert shown["thinking"] == {
        "type": "adaptive",
        "display": "summarized",
        "block_binding": DROP_BLOCK,
    }


@pytest.mark.parametrize(
    ("body", "model"),
    [
        ({"messages": LOOP[:1]}, "claude-opus-5-5"),  # no thinking sent back
        ({"messages": LOOP}, "claude-opus-5"),  # a model without the check
        ({"messages": LOOP, "thinking": {"type": "disabled"}}, "claude-sonnet-5"),
        ({"messages": LOOP, "thinking": {"type": "between_tools"}}, "claude-sonnet-5-5"),
        (
            {"messages": LOOP, "thinking": {"type": "adaptive", "block_binding": {"x": 1}}},
            "claude-opus-5-5",
        ),
    ],
)
def test_other_requests_are_sent_as_they_are(body: JSON, model: str) -> None:
    before = orjson.dumps(body)
    assert with_block_binding(body, model, "b") == "b"
    assert orjson.dumps(body) == before


def _prepared(provider: ProviderConfig) -> tuple[JSON, dict[str, str]]:
    adapter = AnthropicMessagesAdapter({"anthropic-beta": "context-1m-2025-08-07"})
    deployment = DeploymentConfig(provider=provider.name, model="claude-opus-5-5")
    body = {"model": "opus", "max_tokens": 100, "messages": LOOP}
    call = adapter.prepare(body, deployment, provider, "sk-test")
    return orjson.loads(call.body), dict(call.headers)


def test_the_adapter_sends_the_binding_with_its_beta_unless_the_provider_drops_it() -> None:
    anthropic = ProviderConfig(name="a", type="anthropic", base_url="https://api.anthropic.com")
    sent, headers = _prepared(anthropic)
    assert sent["thinking"]["block_binding"] == DROP_BLOCK
    assert headers["anthropic-beta"] == f"context-1m-2025-08-07,{BETA}"
    strict = ProviderConfig(
        name="p", type="anthropic", base_url="https://proxy.example", drop_betas=(BETA,)
    )
    sent, headers = _prepared(strict)
    assert "thinking" not in sent
    assert headers["anthropic-beta"] == "context-1m-2025-08-07"
