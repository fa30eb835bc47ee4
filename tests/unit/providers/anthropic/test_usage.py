"""Usage both ways, and the gateway's record read from Anthropic usage."""

from __future__ import annotations

from gateway.providers.anthropic.usage import anthropic_usage, openai_usage, usage_from_anthropic
from gateway.providers.base import Usage

CACHED = {
    "input_tokens": 5,
    "output_tokens": 7,
    "cache_read_input_tokens": 100,
    "cache_creation_input_tokens": 20,
}


def test_the_gateway_record_counts_cache_reads_and_writes_as_prompt_tokens() -> None:
    assert usage_from_anthropic(CACHED) == Usage(
        prompt_tokens=125,
        completion_tokens=7,
        cached_tokens=100,
        cache_write_tokens=20,
        reported=True,
    )
    assert usage_from_anthropic(None) is None
    assert usage_from_anthropic({}) == Usage(reported=True)


def test_cache_details_appear_only_when_reported() -> None:
    assert openai_usage({"input_tokens": 3, "output_tokens": 1}) == {
        "prompt_tokens": 3,
        "completion_tokens": 1,
        "total_tokens": 4,
    }
    assert anthropic_usage({"prompt_tokens": 3, "completion_tokens": 1}) == {
        "input_tokens": 3,
        "output_tokens": 1,
    }


def test_malformed_usage_reads_as_zero() -> None:
    assert openai_usage("nope")["total_tokens"] == 0
    assert anthropic_usage(None) == {"input_tokens": 0, "output_tokens": 0}
    # More cached tokens than prompt tokens (a confused server) never goes negative.
    assert (
        anthropic_usage({"prompt_tokens": 2, "prompt_tokens_details": {"cached_tokens": 5}})[
            "input_tokens"
        ]
        == 0
    )
