"""A cache breakpoint's `scope` (Claude Code's `"global"` on its system prompt) leaves with
its beta: a request sent with other betas but not `prompt-caching-scope-*` goes without it, the
client's body unchanged; one with the beta, or with no beta at all, goes as it came."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from gateway.providers.anthropic.cache_scope import without_cache_scope

SCOPED = {"type": "ephemeral", "scope": "global"}
PLAIN = {"type": "ephemeral"}


def claude_code_body() -> dict[str, Any]:
    return {
        "system": [
            {"type": "text", "text": "You are Claude Code."},
            {"type": "text", "text": "Rules.", "cache_control": dict(SCOPED)},
        ],
        "tools": [{"name": "Bash", "input_schema": {}, "cache_control": dict(SCOPED)}],
        "messages": [
            {"role": "user", "content": "hi"},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [{"type": "text", "text": "ok", "cache_control": dict(SCOPED)}],
                    },
                    {"type": "text", "text": "go on", "cache_control": dict(PLAIN)},
                ],
            },
        ],
    }


def test_the_scope_leaves_with_its_beta_and_the_clients_body_stays() -> None:
    body = claude_code_body()
    sent = copy.deepcopy(body)
    upstream = dict(sent)
    without_cache_scope(upstream, "claude-code-20250219,interleaved-thinking-2025-05-14")
    assert upstream["system"][1]["cache_control"] == PLAIN
    assert upstream["tools"][0]["cache_control"] == PLAIN
    blocks = upstream["messages"][1]["content"]
    assert blocks[0]["content"][0]["cache_control"] == PLAIN
    assert blocks[1]["cache_control"] == PLAIN
    assert upstream["messages"][0] is sent["messages"][0]  # untouched messages are shared
    assert sent == body  # the client's body as it came


@pytest.mark.parametrize("beta", [None, "claude-code-20250219,prompt-caching-scope-2026-01-05"])
def test_with_the_beta_or_no_beta_it_goes_as_it_came(beta: str | None) -> None:
    upstream = claude_code_body()
    without_cache_scope(upstream, beta)
    assert upstream == claude_code_body()


def test_odd_shapes_are_left_alone() -> None:
    upstream: dict[str, Any] = {"system": "text", "tools": None, "messages": ["x", {"content": 3}]}
    without_cache_scope(upstream, "b")
    assert upstream == {"system": "text", "tools": None, "messages": ["x", {"content": 3}]}
