import pytest

from gateway.errors import InvalidRequest
from gateway.validation import (
    validate_chat,
    validate_completions,
    validate_count_tokens,
    validate_embeddings,
    validate_messages,
)

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": MESSAGES}, "model"),
        ({"model": "", "messages": MESSAGES}, "model"),
        ({"model": "m"}, "messages"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": ["hi"]}, "messages[0]"),
        ({"model": "m", "messages": MESSAGES, "stream": 1}, "stream"),
        ({"model": "m", "messages": MESSAGES, "n": 0}, "n"),
        ({"model": "m", "messages": MESSAGES, "n": True}, "n"),
        ({"model": "m", "messages": MESSAGES, "temperature": "hot"}, "temperature"),
        (
            {"model": "m", "messages": MESSAGES, "stream_options": {"include_usage": True}},
            "stream_options",
        ),
    ],
)
def test_chat_rejections_name_the_param(body: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_chat(body)
    assert info.value.param == param and info.value.status == 400


def test_valid_chat_passes() -> None:
    validate_chat(
        {
            "model": "m",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
            "n": 2,
        }
    )


def test_messages_requires_max_tokens() -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_messages({"model": "m", "messages": MESSAGES})
    assert info.value.param == "max_tokens"
    validate_messages({"model": "m", "messages": MESSAGES, "max_tokens": 5, "system": "s"})


def test_embeddings_input() -> None:
    with pytest.raises(InvalidRequest):
        validate_embeddings({"model": "m"})
    with pytest.raises(InvalidRequest):
        validate_embeddings({"model": "m", "input": []})
    validate_embeddings({"model": "m", "input": ["a", "b"]})


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "hi"}, "model"),
        ({"model": "m"}, "prompt"),
        ({"model": "m", "prompt": {"text": "hi"}}, "prompt"),
        ({"model": "m", "prompt": "hi", "max_tokens": "5"}, "max_tokens"),
        ({"model": "m", "prompt": "hi", "stream_options": {}}, "stream_options"),
    ],
)
def test_completions_rejections_name_the_param(body: dict, param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_completions(body)
    assert info.value.param == param


def test_count_tokens_needs_no_max_tokens() -> None:
    validate_count_tokens({"model": "m", "messages": MESSAGES, "system": "be brief"})
    with pytest.raises(InvalidRequest) as info:
        validate_count_tokens({"model": "m"})
    assert info.value.param == "messages"
