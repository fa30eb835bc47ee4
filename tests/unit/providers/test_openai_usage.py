"""The gateway's `Usage` read from an OpenAI `usage` object."""

from __future__ import annotations

from gateway.providers.openai_usage import usage_from_openai


def test_the_details_that_are_priced_apart_are_read() -> None:
    usage = usage_from_openai(
        {
            "prompt_tokens": 1000,
            "completion_tokens": 500,
            "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 800},
            "completion_tokens_details": {"reasoning_tokens": 50, "audio_tokens": 400},
        }
    )
    assert usage is not None and usage.reported
    assert (usage.prompt_tokens, usage.cached_tokens, usage.audio_prompt_tokens) == (1000, 100, 800)
    assert (usage.completion_tokens, usage.reasoning_tokens) == (500, 50)
    assert usage.audio_completion_tokens == 400
    # null details (as some servers send them) count nothing.
    bare = usage_from_openai(
        {"prompt_tokens": 3, "completion_tokens": 1, "prompt_tokens_details": None}
    )
    assert bare is not None and bare.audio_prompt_tokens == bare.cached_tokens == 0
