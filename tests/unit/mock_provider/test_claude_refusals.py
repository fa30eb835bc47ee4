"""What the mock's newer Claude models refuse, as Anthropic's API answers them."""

from __future__ import annotations

import pytest

from gateway.mock_provider.behaviour import RequestError, plan_messages

USER = [{"role": "user", "content": "Tell me about llamas."}]
USER_ONLY = {"max_tokens": 10, "messages": USER}


def test_newer_claude_models_refuse_sampling_settings() -> None:
    # As Anthropic's API answers Claude Opus 4.1, Sonnet / Haiku 4.5 and later.
    both = {"max_tokens": 10, "messages": USER, "temperature": 0.5, "top_p": 0.9}
    with pytest.raises(RequestError, match="cannot both be specified"):
        plan_messages({"model": "claude-sonnet-4-5-20250929", **both})
    assert plan_messages({"model": "claude-sonnet-4-20250514", **both}).choices
    one = {"max_tokens": 10, "messages": USER, "temperature": 0.5}
    assert plan_messages({"model": "claude-opus-4-1", **one}).choices
    # Opus 4.7 and later take none of them.
    with pytest.raises(RequestError, match="`temperature` is deprecated"):
        plan_messages({"model": "claude-opus-4-7", **one})
    with pytest.raises(RequestError, match="`top_k` is deprecated"):
        plan_messages({"model": "claude-fable-5", "top_k": 5, **USER_ONLY})
    assert plan_messages({"model": "claude-opus-4-8", **USER_ONLY}).choices
    manual = {"thinking": {"type": "enabled", "budget_tokens": 2048}, **USER_ONLY}
    with pytest.raises(RequestError, match='"thinking.type.enabled" is not supported'):
        plan_messages({"model": "claude-opus-4-8", **manual})
    assert plan_messages({"model": "claude-opus-4-6", **manual}).choices
