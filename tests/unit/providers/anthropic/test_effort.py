"""An OpenAI client's `reasoning_effort` as Claude's `output_config.effort`."""

from __future__ import annotations

import pytest

from gateway.providers.anthropic.effort import claude_effort
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic


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
