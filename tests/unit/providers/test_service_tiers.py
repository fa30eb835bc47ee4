"""The processing tier that served an answer, as OpenAI's `service_tier` and Claude's `speed`
say it: the standard one is none, Fast mode is `priority` however it was asked, an unknown text
is `other` (an upstream's text is never recorded as it is)."""

from __future__ import annotations

import pytest

from gateway.providers import Usage
from gateway.providers.anthropic.usage import usage_from_anthropic
from gateway.providers.openai_streams import OpenAIStreamPassthrough
from gateway.providers.service_tiers import served_tier, with_tier


@pytest.mark.parametrize(
    ("value", "tier"),
    [
        ("default", None),
        ("auto", None),
        (None, None),
        (3, None),
        ("priority", "priority"),
        ("fast", "priority"),
        ("flex", "flex"),
        ("ultrafast", "ultrafast"),
        ("scale", "scale"),
        ("a tier of the server's own", "other"),
    ],
)
def test_the_tier_an_openai_answer_names(value: object, tier: str | None) -> None:
    assert served_tier(value) == tier


def test_usage_takes_the_tier_of_its_answer() -> None:
    usage = Usage(prompt_tokens=5)
    assert with_tier(usage, {"service_tier": "default"}) is usage
    assert with_tier(usage, {"service_tier": "flex"}).service_tier == "flex"
    assert with_tier(usage, None) is usage


def test_claudes_fast_mode_is_read_from_its_usage() -> None:
    fast = usage_from_anthropic({"input_tokens": 3, "output_tokens": 2, "speed": "fast"})
    standard = usage_from_anthropic({"input_tokens": 3, "output_tokens": 2, "speed": "standard"})
    assert fast is not None and fast.service_tier == "fast"
    assert standard is not None and standard.service_tier is None


def test_a_streams_usage_chunk_names_its_tier() -> None:
    stream = OpenAIStreamPassthrough(False)
    chunk = b'data: {"id":"c","choices":[],"service_tier":"priority","usage":'
    chunk += b'{"prompt_tokens":4,"completion_tokens":2,"total_tokens":6}}\n\n'
    stream.feed(chunk)
    assert stream.usage is not None and stream.usage.service_tier == "priority"
