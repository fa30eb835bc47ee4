"""Prompt token estimates (gateway/tokens.py): what tpm reservations and routing rely on."""

from __future__ import annotations

import pytest

from gateway import tokens


def test_special_token_markers_count_as_the_plain_text_they_are() -> None:
    text = "summarise <|endoftext|> and <|im_start|> literally"
    expected = len(tokens.encoding().encode(text, disallowed_special=()))
    assert tokens.count_text(text) == expected
    assert tokens.count_text("<|endoftext|>") > 1  # not the single special token


def test_message_counts_add_the_chat_framing() -> None:
    hello = tokens.count_text("hello")
    one = tokens.count_messages([{"role": "user", "content": "hello"}])
    parts = tokens.count_messages(
        [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]
    )
    assert one == parts == hello + 3 + 3  # per message + per reply
    assert tokens.count_messages([], system="hello") == one


def test_long_texts_are_counted_exactly_only_up_to_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    encoded: list[int] = []
    real = tokens.encoding()

    class Recording:
        def encode_ordinary(self, text: str) -> list[int]:
            encoded.append(len(text))
            return real.encode_ordinary(text)

    monkeypatch.setattr(tokens, "encoding", lambda: Recording())
    count = tokens.count_messages(
        [{"role": "user", "content": "a" * 10_000_000}, {"role": "user", "content": "b" * 50}]
    )
    assert sum(encoded) == tokens.EXACT_CHARS  # 10 MB cost what 8 KB costs
    # 'a' runs encode at ~8 characters a token: the rest is estimated at the floor of 1 per 4.
    rest = 10_000_000 + 50 - tokens.EXACT_CHARS
    assert count > rest // 4


def test_the_estimate_follows_the_counted_part_s_ratio() -> None:
    cjk = "中" * 50_000  # about one token per character
    assert tokens.count_text(cjk) == pytest.approx(len(tokens.encoding().encode(cjk)), rel=0.05)
    short = "hello world"
    assert tokens.count_text(short) == len(tokens.encoding().encode(short))
