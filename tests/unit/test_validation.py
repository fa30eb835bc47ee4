import orjson
import pytest

from gateway.errors import InvalidRequest
from gateway.validation import (
    MAX_JSON_DEPTH,
    check_depth,
    validate_chat,
    validate_completions,
    validate_count_tokens,
    validate_embeddings,
    validate_messages,
    validate_responses,
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
        # What the translators read as objects (a number there was a 500 on a translated route).
        ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        ({"model": "m", "messages": [{"role": "user", "content": [5]}]}, "messages[0].content[0]"),
        (
            {"model": "m", "messages": [*MESSAGES, {"role": "assistant", "tool_calls": {}}]},
            "messages[1].tool_calls",
        ),
        (
            {"model": "m", "messages": [{"role": "assistant", "tool_calls": ["x"]}]},
            "messages[0].tool_calls[0]",
        ),
        ({"model": "m", "messages": MESSAGES, "tools": "x"}, "tools"),
        ({"model": "m", "messages": MESSAGES, "tools": [{}, 1]}, "tools[1]"),
    ],
)
def test_chat_rejections_name_the_param(body: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_chat(body)
    assert info.value.param == param and info.value.status == 400


def test_valid_chat_passes() -> None:
    validate_chat(
        {
            "model": "m",
            "messages": [
                {"role": "system", "content": [{"type": "text", "text": "be brief"}]},
                {"role": "assistant", "content": None, "tool_calls": [{"id": "c"}]},
                {"role": "tool", "content": "42", "tool_call_id": "c"},
                *MESSAGES,
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "n": 2,
        }
    )


def test_messages_content_and_tools_are_checked_as_on_chat() -> None:
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": 7}]}
    with pytest.raises(InvalidRequest) as info:
        validate_messages(body)
    assert info.value.param == "messages[0].content"
    with pytest.raises(InvalidRequest) as info:
        validate_messages({**body, "messages": MESSAGES, "tools": [None]})
    assert info.value.param == "tools[0]"


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
    "value",
    [
        "text",
        ["a"] * 2048,
        [9906, 1917],
        [9906] * 8191,  # one input as token ids: its length is the model's to limit
        [[9906], [1917, 0]],
        [[9906] * 8191] * 3,
    ],
)
def test_embeddings_inputs_openai_takes_pass(value: object) -> None:
    validate_embeddings({"model": "m", "input": value})


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "empty string"),
        (["a", ""], r"input\[1\] must be a non-empty string"),
        (["a"] * 2049, "at most 2048"),
        (["a", 5], r"input\[1\]"),
        ([1, "a"], "integers only"),
        ([1, True], "integers only"),
        ([[1], []], r"input\[1\] must be a non-empty array of token ids"),
        ([[1], [1.5]], r"input\[1\]"),
        ([[1]] * 2049, "at most 2048"),
        ([[1], "a"], r"input\[1\]"),
        ([{"text": "a"}], "must be a string"),
        ([None], "must be a string"),
        (7, "non-empty string or a non-empty array"),
    ],
)
def test_embeddings_inputs_openai_refuses_are_400_on_input(value: object, says: str) -> None:
    """OpenAI answers these 400 `'$.input' is invalid`; the gateway too, saying what is wrong,
    before a compatible server embeds an empty text or a mixed list is misread."""
    with pytest.raises(InvalidRequest, match=says) as refused:
        validate_embeddings({"model": "m", "input": value})
    assert refused.value.param == "input"
    assert refused.value.message.startswith("'$.input' is invalid: ")


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
def test_completions_rejections_name_the_param(body: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        validate_completions(body)
    assert info.value.param == param


def test_count_tokens_needs_no_max_tokens() -> None:
    validate_count_tokens({"model": "m", "messages": MESSAGES, "system": "be brief"})
    with pytest.raises(InvalidRequest) as info:
        validate_count_tokens({"model": "m"})
    assert info.value.param == "messages"


@pytest.mark.parametrize("value", [0, -1, 2**31, 2**63])
@pytest.mark.parametrize("name", ["max_tokens", "max_completion_tokens"])
def test_token_counts_outside_32_bits_are_invalid_not_rate_limited(name: str, value: int) -> None:
    with pytest.raises(InvalidRequest) as raised:
        validate_chat({"model": "m", "messages": MESSAGES, name: value})
    assert raised.value.param == name and "2147483647" in raised.value.message
    with pytest.raises(InvalidRequest):
        validate_messages({"model": "m", "messages": MESSAGES, "max_tokens": value})


def _nested(depth: int) -> list[object]:
    value: list[object] = []
    for _ in range(depth - 1):
        value = [value]
    return value


def test_bodies_deeper_than_the_limit_are_refused_naming_it() -> None:
    check_depth({"x": _nested(MAX_JSON_DEPTH - 1)})  # the body object is the first level
    with pytest.raises(InvalidRequest) as raised:
        check_depth({"x": _nested(MAX_JSON_DEPTH)})
    assert raised.value.code == "json_too_deep" and str(MAX_JSON_DEPTH) in raised.value.message
    deep_schema: dict[str, object] = {"type": "string"}
    for _ in range(100):
        deep_schema = {"type": "object", "properties": {"x": deep_schema}}
    with pytest.raises(InvalidRequest):
        check_depth({"tools": [{"function": {"parameters": deep_schema}}]})


def test_the_depth_limit_leaves_room_below_the_serialiser_s() -> None:
    orjson.dumps({"record": {"request": {"x": _nested(MAX_JSON_DEPTH - 1)}}})
    check_depth({"input": [list(range(1000))] * 100, "messages": MESSAGES})


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": "hi"}, "model"),
        ({"model": "m"}, "input"),
        ({"model": "m", "input": 3}, "input"),
        ({"model": "m", "input": ["hi"]}, "input[0]"),
        ({"model": "m", "input": "hi", "stream": "yes"}, "stream"),
        ({"model": "m", "input": "hi", "store": 0}, "store"),
        ({"model": "m", "input": "hi", "max_output_tokens": "9"}, "max_output_tokens"),
        ({"model": "m", "input": "hi", "text": "json"}, "text"),
        ({"model": "m", "input": "hi", "previous_response_id": 7}, "previous_response_id"),
        ({"model": "m", "input": "hi", "instructions": ["x"]}, "instructions"),
    ],
)
def test_responses_rejects(body: dict[str, object], param: str) -> None:
    with pytest.raises(InvalidRequest) as caught:
        validate_responses(body)
    assert caught.value.param == param


def test_responses_accepts_strings_and_items() -> None:
    validate_responses({"model": "m", "input": "hi", "store": False, "max_output_tokens": 5})
    validate_responses({"model": "m", "input": [{"role": "user", "content": "hi"}]})


def test_the_raw_bytes_shortcut_walks_every_body_that_could_be_too_deep() -> None:
    # Few brackets: not walked. A walk would refuse this body (a nested list was put in after
    # parsing), so passing shows the shortcut was taken; refusing the same with its own bytes
    # shows a body with enough brackets is walked.
    shallow = b'{"model":"m","messages":[{"role":"user","content":"[{[{"}]}'
    check_depth({"x": _nested(MAX_JSON_DEPTH)}, shallow)
    deep = {"x": _nested(MAX_JSON_DEPTH)}
    with pytest.raises(InvalidRequest):
        check_depth(deep, orjson.dumps(deep))
    # Brackets inside strings only count against the shortcut, never for it.
    text = {"content": "[" * (MAX_JSON_DEPTH + 1)}
    check_depth(text, orjson.dumps(text))
