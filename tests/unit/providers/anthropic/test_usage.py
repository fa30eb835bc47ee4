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


def test_one_hour_cache_writes_are_counted_apart() -> None:
    # Anthropic bills 1-hour cache writes at 2 x input, 5-minute ones at 1.25 x: its usage
    # splits `cache_creation_input_tokens` by TTL in `cache_creation`.
    usage = usage_from_anthropic(
        {
            "input_tokens": 5,
            "cache_creation_input_tokens": 600,
            "cache_creation": {"ephemeral_5m_input_tokens": 200, "ephemeral_1h_input_tokens": 400},
            "output_tokens": 3,
        }
    )
    assert usage is not None
    assert (usage.prompt_tokens, usage.cache_write_tokens, usage.cache_write_1h_tokens) == (
        605,
        600,
        400,
    )
    # More 1-hour writes than writes (a confused server) are no more than the writes.
    confused = usage_from_anthropic(
        {"cache_creation_input_tokens": 10, "cache_creation": {"ephemeral_1h_input_tokens": 50}}
    )
    assert confused is not None and confused.cache_write_1h_tokens == 10
