"""The mock's Claude refuses the prompt-cache breakpoints Anthropic refuses."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.mock_provider.cache_breakpoints import breakpoints_refusal

FIVE = {"type": "ephemeral"}
HOUR = {"type": "ephemeral", "ttl": "1h"}


def _asked(*controls: dict[str, Any], automatic: object = None) -> dict[str, Any]:
    blocks = [{"type": "text", "text": "x", "cache_control": c} for c in controls]
    body: dict[str, Any] = {
        "system": blocks[:1],
        "messages": [{"role": "user", "content": blocks[1:] or "hi"}],
    }
    if automatic is not None:
        body["cache_control"] = automatic
    return body


def test_breakpoints_claude_takes() -> None:
    assert breakpoints_refusal(_asked()) is None
    assert breakpoints_refusal(_asked(FIVE, FIVE, FIVE, automatic=FIVE)) is None
    assert breakpoints_refusal(_asked(HOUR, HOUR, FIVE, automatic=FIVE)) is None
    assert breakpoints_refusal(_asked(HOUR, automatic=HOUR)) is None


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (_asked(FIVE, FIVE, FIVE, FIVE, automatic=FIVE), "A maximum of 4 blocks"),
        (_asked(FIVE, FIVE, FIVE, FIVE, FIVE), "Found 5."),
        (_asked(FIVE, automatic=HOUR), "must not come after"),
        (_asked({"type": "ephemeral", "ttl": "2h"}), "'5m' or '1h'"),
        (_asked(automatic={"type": "persistent"}), "expected tag 'ephemeral'"),
    ],
)
def test_breakpoints_claude_refuses(body: dict[str, Any], words: str) -> None:
    refusal = breakpoints_refusal(body)
    assert refusal is not None and words in refusal
