from __future__ import annotations

from typing import Any

from gateway.cache.semantic_text import request_text, without_texts

CHAT: dict[str, Any] = {
    "model": "m",
    "temperature": 0.2,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Hi"},
                {"type": "image_url", "image_url": {"url": "u"}},
            ],
        },
        {"role": "assistant", "content": None, "tool_calls": [{"id": "1"}]},
        {"role": "user", "content": "Why?"},
    ],
}


def test_the_text_is_every_message_text_in_order() -> None:
    assert request_text(CHAT) == "Be brief.\nHi\nWhy?"


def test_anthropic_system_comes_first() -> None:
    body = {
        "system": [{"type": "text", "text": "Sys"}],
        "messages": [{"role": "user", "content": "Q"}],
    }
    assert request_text(body) == "Sys\nQ"


def test_without_texts_keeps_all_but_the_texts() -> None:
    blanked = without_texts(CHAT)
    assert blanked["temperature"] == 0.2 and blanked["model"] == "m"
    messages = blanked["messages"]
    assert messages[0] == {"role": "system", "content": ""}
    assert messages[1]["content"] == [
        {"type": "text", "text": ""},
        {"type": "image_url", "image_url": {"url": "u"}},
    ]
    assert messages[2] == CHAT["messages"][2]
    assert CHAT["messages"][0]["content"] == "Be brief."


def test_two_wordings_blank_alike_and_other_params_do_not() -> None:
    other = {**CHAT, "messages": [{"role": "user", "content": "Something else"}]}
    same_shape = {"model": "m", "messages": [{"role": "user", "content": "Another"}]}
    assert without_texts({"model": "m", "messages": [{"role": "user", "content": "x"}]}) == (
        without_texts(same_shape)
    )
    assert without_texts(other) != without_texts(same_shape)
    assert without_texts({"system": "a", "messages": []}) == without_texts(
        {"system": "b", "messages": []}
    )
