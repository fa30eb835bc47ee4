"""What changed between Claude versions, read from the model's name: manual thinking from an
Anthropic client, for a Claude that thinks only adaptively; the `max_tokens` of a request that
names none."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentConfig
from gateway.providers.anthropic.adapters import AnthropicMessagesAdapter
from gateway.providers.anthropic.claude_versions import (
    claude_model,
    claude_version,
    from_version_on,
)
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic
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


def test_the_family_is_read_with_it() -> None:
    assert claude_model("claude-opus-5-5") == ("opus", 5, 5)
    assert claude_model("anthropic.claude-Fable-5-1-v1:0") == ("fable", 5, 1)
    assert claude_model("my-opus") is None
    firsts = {"opus": (5, 5), "fable": (5, 1)}
    assert from_version_on("claude-opus-5-5", firsts)
    assert from_version_on("claude-fable-5-2", firsts)
    assert not from_version_on("claude-opus-5", firsts)
    assert not from_version_on("claude-sonnet-6", firsts)  # a family the change names not
    assert not from_version_on("my-opus", firsts)


def test_opus_4_7_and_later_think_adaptively_only() -> None:
    assert [
        thinks_adaptively_only(m)
        for m in ("claude-opus-4-7", "claude-opus-4-8", "claude-sonnet-5", "claude-fable-5")
    ] == [True, True, True, True]
    assert [
        thinks_adaptively_only(m)
        for m in ("claude-opus-4-6", "claude-sonnet-4-5", "claude-3-7-sonnet-20250219", "x")
    ] == [False, False, False, False]


def sent(model: str, thinking: dict[str, Any], **fields: Any) -> Any:
    body = {"model": "claude", "max_tokens": 4096, "messages": [], "thinking": thinking, **fields}
    deployment = DeploymentConfig(provider="anthropic", model=model)
    call = AnthropicMessagesAdapter().prepare(body, deployment, ANTHROPIC, "k")
    return orjson.loads(call.body).get("thinking")


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


def test_adaptive_thinking_goes_manual_where_it_is_refused() -> None:
    # Claude Code's adaptive thinking, routed to a model before 4.6: a budget for its effort,
    # below its max_tokens.
    adaptive = {"type": "adaptive"}
    assert sent("claude-sonnet-4-5-20250929", adaptive) == {
        "type": "enabled",
        "budget_tokens": 4095,  # high's 16,384, under max_tokens 4,096
    }
    efforts = {effort: {"effort": effort} for effort in ("low", "medium", "high", "max")}
    budgets = [
        sent("claude-haiku-4-5", adaptive, max_tokens=64_000, output_config=config)
        for config in efforts.values()
    ]
    assert [b["budget_tokens"] for b in budgets] == [1024, 4096, 16384, 32000]
    assert sent("claude-opus-4-1", {"type": "adaptive", "display": "omitted"}, max_tokens=2000) == {
        "type": "enabled",
        "budget_tokens": 1999,
    }
    # Too few tokens to think within: no thinking.
    assert sent("claude-sonnet-4-20250514", adaptive, max_tokens=1024) is None
    # Models that take it, and names that do not say, get what was asked.
    for model in ("claude-opus-4-6", "claude-sonnet-4-6", "claude-opus-4-8", "my-claude"):
        assert sent(model, adaptive) == adaptive
    assert sent("claude-sonnet-4-5", MANUAL) == MANUAL


@pytest.mark.parametrize(
    ("model", "max_tokens"),
    [
        ("claude-sonnet-4-5-20250929", 32_000),
        ("claude-opus-4-1", 32_000),
        ("claude-sonnet-4-20250514", 32_000),
        ("claude-opus-5", 32_000),
        ("claude-3-5-haiku-20241022", 4_096),
        ("claude-3-opus-latest", 4_096),
        ("my-claude", 4_096),
    ],
)
def test_a_request_without_max_tokens_gets_what_every_model_of_its_version_writes(
    model: str, max_tokens: int
) -> None:
    # OpenAI reads no max_tokens as "as much as the model writes"; Anthropic requires one, and
    # 4,096 cut Claude 4 answers short (Claude 5 models think within it by default).
    body = {"messages": [{"role": "user", "content": "Hi"}]}
    assert openai_request_to_anthropic(body, model)["max_tokens"] == max_tokens
    assert openai_request_to_anthropic({**body, "max_tokens": 50}, model)["max_tokens"] == 50
