"""Prompt token estimates (gateway/tokens.py): what tpm reservations and routing rely on."""

from __future__ import annotations

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
