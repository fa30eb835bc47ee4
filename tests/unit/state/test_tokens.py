"""Reservation tokens (`base.new_token`): one random prefix per process, then a counter in hex,
so no two tokens of any process or replica are the same."""

from __future__ import annotations

import re

from gateway.state.base import new_token


def test_tokens_are_the_prefix_then_a_counter_in_hex() -> None:
    tokens = [new_token() for _ in range(40)]
    assert len(set(tokens)) == len(tokens)
    parts = [re.fullmatch(r"([0-9a-f]{12})([0-9a-f]+)", token) for token in tokens]
    assert all(part is not None for part in parts)
    assert len({part.group(1) for part in parts if part is not None}) == 1
    counts = [int(part.group(2), 16) for part in parts if part is not None]
    assert counts == list(range(counts[0], counts[0] + len(tokens)))
