"""Anthropic's rate-limit response headers in OpenAI's names, for an OpenAI client of an
Anthropic upstream.

Anthropic answers with `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-
{limit,remaining,reset}`; OpenAI with `x-ratelimit-{limit,remaining,reset}-{requests,tokens}`.
The counts carry over; the resets do not (Anthropic's is an RFC 3339 time, OpenAI's a duration
such as `6m0s`), nor do the input and output token limits, which OpenAI does not split.
"""

from __future__ import annotations

from collections.abc import Mapping

_OPENAI_NAMES = {
    "anthropic-ratelimit-requests-limit": "x-ratelimit-limit-requests",
    "anthropic-ratelimit-requests-remaining": "x-ratelimit-remaining-requests",
    "anthropic-ratelimit-tokens-limit": "x-ratelimit-limit-tokens",
    "anthropic-ratelimit-tokens-remaining": "x-ratelimit-remaining-tokens",
}


def openai_rate_limit_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """`headers` (lower-cased names) with Anthropic's rate-limit counts under OpenAI's names and
    the rest of Anthropic's left out; an `x-ratelimit-*` header already there is kept."""
    out = {name: value for name, value in headers.items() if name.startswith("x-ratelimit-")}
    for name, value in headers.items():
        openai_name = _OPENAI_NAMES.get(name)
        if openai_name is not None:
            out.setdefault(openai_name, value)
    return out
