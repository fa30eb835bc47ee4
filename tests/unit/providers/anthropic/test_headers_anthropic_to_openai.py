"""Anthropic's rate-limit headers in OpenAI's names: the counts carry over, the rest does not."""

from __future__ import annotations

from gateway.providers.anthropic.headers_anthropic_to_openai import openai_rate_limit_headers


def test_the_counts_take_openais_names_and_the_resets_stay_behind() -> None:
    headers = {
        "anthropic-ratelimit-requests-limit": "50",
        "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": "2026-12-06T04:20:01Z",
        "anthropic-ratelimit-tokens-limit": "30000",
        "anthropic-ratelimit-tokens-remaining": "29000",
        "anthropic-ratelimit-output-tokens-limit": "8000",
    }
    assert openai_rate_limit_headers(headers) == {
        "x-ratelimit-limit-requests": "50",
        "x-ratelimit-remaining-requests": "49",
        "x-ratelimit-limit-tokens": "30000",
        "x-ratelimit-remaining-tokens": "29000",
    }


def test_openais_own_headers_win() -> None:
    headers = {
        "x-ratelimit-remaining-requests": "7",
        "anthropic-ratelimit-requests-remaining": "49",
    }
    assert openai_rate_limit_headers(headers) == {"x-ratelimit-remaining-requests": "7"}
