"""Manual thinking from an Anthropic client, for a Claude that thinks only adaptively."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.types import DeploymentConfig, ProviderConfig
from gateway.providers.anthropic.adapters import AnthropicMessagesAdapter
from gateway.providers.anthropic.claude_versions import claude_version
from gateway.providers.anthropic.thinking import thinks_adaptively_only

ANTHROPIC = ProviderConfig(name="anthropic", type="anthropic", base_url="https://api.anthropic.com")
MANUAL = {"type": "enabled", "budget_tokens": 2048}


@pytest.mark.parametrize(
    ("model", "version"),
    [
        ("claude-opus-4-7", (4, 7)),
        ("claude-sonnet-4-20250514", (4, 0)),
        ("anthropic.claude-sonnet-4-5-20250929-v1:0", (4, 5)),
        ("claude-sonnet-4-5@20250929", (4, 5)),
        ("anthropic/claude-sonnet-4.5", (4, 5)),
        ("claude-fable-5", (5, 0)),
        ("claude-3-5-haiku-20241022", None),
        ("my-opus", None),
    ],
)
def test_the_version_is_read_from_the_name(model: str, version: tuple[int, int] | None) -> None:
    assert claude_version(model) == version


def test_opus_4_7_and_later_think_adaptively_only() -> None:
    assert [
        thinks_adaptively_only(m)
        for m in ("claude-opus-4-7", "claude-opus-4-8", "claude-sonnet-5", "claude-fable-5")
    ] == [True, True, True, True]
    assert [
        thinks_adaptively_only(m)
        for m in ("claude-opus-4-6", "claude-sonnet-4-5", "claude-3-7-sonnet-20250219", "x")
    ] == [False, False, False, False]


def sent(model: str, thinking: dict[str, Any]) -> Any:
    body = {"model": "claude", "max_tokens": 4096, "messages": [], "thinking": thinking}
    deployment = DeploymentConfig(provider="anthropic", model=model)
    call = AnthropicMessagesAdapter().prepare(body, deployment, ANTHROPIC, "k")
    return orjson.loads(call.body)["thinking"]


def test_manual_thinking_goes_adaptive_where_only_that_is_taken() -> None:
    assert sent("claude-opus-4-8", MANUAL) == {"type": "adaptive", "display": "summarized"}
    # A display the client chose is kept.
    assert sent("claude-opus-4-7", {**MANUAL, "display": "omitted"}) == {
        "type": "adaptive",
        "display": "omitted",
    }
    # Older models, and the other modes, get what was asked.
    assert sent("claude-opus-4-6", MANUAL) == MANUAL
    assert sent("claude-opus-4-8", {"type": "adaptive"}) == {"type": "adaptive"}
    assert sent("claude-opus-4-8", {"type": "disabled"}) == {"type": "disabled"}
