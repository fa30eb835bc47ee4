"""OpenAI chat request -> Anthropic Messages request (golden bodies)."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.providers.anthropic.errors import TranslationError
from gateway.providers.anthropic.requests_openai_to_anthropic import openai_request_to_anthropic

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def translate(**body: Any) -> dict[str, Any]:
    return openai_request_to_anthropic(body, "claude-x")


def test_minimal_request_gets_default_max_tokens() -> None:
    assert translate(model="gpt", messages=[{"role": "user", "content": "Hi"}]) == {
        "model": "claude-x",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 4096,
    }


def test_system_and_developer_messages_become_top_level_system() -> None:
    one = translate(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    )
    assert one["system"] == "Be brief."
    assert one["messages"] == [{"role": "user", "content": "Hi"}]

    several = translate(
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
        ]
    )
    assert several["system"] == [
        {"type": "text", "text": "Be brief."},
        {"type": "text", "text": "Use French."},
    ]


def test_multi_turn_keeps_order_and_strings() -> None:
    out = translate(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "How are you?"},
        ]
    )
    assert out["messages"] == [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "How are you?"},
    ]


def test_consecutive_same_role_messages_are_merged_and_empty_ones_dropped() -> None:
    out = translate(
        messages=[
            {"role": "user", "content": "one"},
            {"role": "user", "content": [{"type": "text", "text": "two"}]},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "three"},
        ]
    )
    assert out["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "one"},
                {"type": "text", "text": "two"},
                {"type": "text", "text": "three"},
            ],
        }
    ]


def test_final_assistant_prefill_loses_trailing_whitespace() -> None:
    out = translate(
        messages=[{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Sure: "}]
    )
    assert out["messages"][-1] == {"role": "assistant", "content": "Sure:"}


def test_images_by_url_and_base64() -> None:
    out = translate(
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {
                        "type": "image_url",
                        "image_url": {"url": "https://x.test/a.png", "detail": "low"},
                    },
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,QUJD"}},
                ],
            }
        ]
    )
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image", "source": {"type": "url", "url": "https://x.test/a.png"}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "QUJD"}},
    ]


def test_pdf_file_part_becomes_document() -> None:
    part = {
        "type": "file",
        "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"},
    }
    out = translate(messages=[{"role": "user", "content": [part]}])
    assert out["messages"][0]["content"] == [
        {
            "type": "document",
            "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBE"},
        }
    ]


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": "ftp://x.test/a.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}},
        {"type": "input_audio", "input_audio": {"data": "", "format": "wav"}},
        {"type": "file", "file": {"file_id": "file-1"}},
    ],
)
def test_unsupported_parts_raise(part: dict[str, Any]) -> None:
    with pytest.raises(TranslationError):
        translate(messages=[{"role": "user", "content": [part]}])


def test_sampling_params_stop_stream_user_and_dropped_openai_params() -> None:
    out = translate(
        messages=[{"role": "user", "content": "x"}],
        max_completion_tokens=100,
        max_tokens=50,
        temperature=1.5,
        top_p=0.9,
        stop="END",
        stream=True,
        stream_options={"include_usage": True},
        user="u-42",
        n=1,
        logprobs=True,
        presence_penalty=0.5,
        frequency_penalty=0.5,
        seed=7,
    )
    assert out == {
        "model": "claude-x",
        "messages": [{"role": "user", "content": "x"}],
        "max_tokens": 100,
        "temperature": 1,
        "top_p": 0.9,
        "stop_sequences": ["END"],
        "stream": True,
        "metadata": {"user_id": "u-42"},
    }
    listed = translate(messages=[{"role": "user", "content": "x"}], stop=["a", "b"], max_tokens=5)
    assert listed["stop_sequences"] == ["a", "b"] and listed["max_tokens"] == 5


def test_whitespace_only_stop_sequences_are_left_out() -> None:
    # Anthropic answers 400 "each stop sequence must contain non-whitespace" for them.
    out = translate(messages=[{"role": "user", "content": "x"}], stop=["\n", "END", " \t"])
    assert out["stop_sequences"] == ["END"]
    for stop in ("\n", ["\n\n"]):
        out = translate(messages=[{"role": "user", "content": "x"}], stop=stop)
        assert "stop_sequences" not in out


def test_n_greater_than_one_raises_a_clear_error() -> None:
    with pytest.raises(TranslationError, match="n=2") as info:
        translate(messages=[{"role": "user", "content": "x"}], n=2)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("field", "value"),
    [("functions", [WEATHER_TOOL["function"]]), ("function_call", "auto")],
)
def test_legacy_functions_raise_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(TranslationError, match="'tools'") as info:
        translate(messages=[{"role": "user", "content": "x"}], **{field: value})
    assert info.value.param == field


def test_response_format_appends_a_json_instruction_to_system() -> None:
    out = translate(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "x"}],
        response_format={"type": "json_object"},
    )
    assert out["system"][0] == {"type": "text", "text": "Be brief."}
    assert "JSON" in out["system"][1]["text"]

    # A schema beside the request's own tools (alone, it is a forced tool: test_structured_output).
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    only = translate(
        messages=[{"role": "user", "content": "x"}],
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": schema}},
        tools=tools,
    )
    assert isinstance(only["system"], str)
    assert '{"type":"object","properties":{"a":{"type":"integer"}}}' in only["system"]
    assert "system" not in translate(
        messages=[{"role": "user", "content": "x"}], response_format={"type": "text"}
    )


def test_bad_shapes_raise() -> None:
    with pytest.raises(TranslationError):
        translate(messages="hi")
    with pytest.raises(TranslationError):
        translate(messages=[{"role": "system", "content": "only a system prompt"}])
    with pytest.raises(TranslationError):
        translate(messages=[{"role": "function", "name": "f", "content": "x"}])


def test_whitespace_only_text_is_dropped_wherever_it_stands() -> None:
    # Anthropic answers 400 "text content blocks must contain non-whitespace text"; vLLM's
    # and Qwen's tool calls often come with content "\n\n", and the history sends it back.
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    }
    out = translate(
        messages=[
            {"role": "system", "content": " "},
            {"role": "developer", "content": [{"type": "text", "text": "\n"}]},
            {
                "role": "user",
                "content": [{"type": "text", "text": "Weather?"}, {"type": "text", "text": "\n\n"}],
            },
            {"role": "assistant", "content": "\n\n", "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
            {"role": "assistant", "content": [{"type": "text", "text": "\t"}]},
            {"role": "user", "content": "  "},
            {"role": "user", "content": "Thanks"},
        ],
        tools=[WEATHER_TOOL],
    )
    assert "system" not in out
    assert out["messages"] == [
        {"role": "user", "content": "Weather?"},
        {
            "role": "assistant",
            "content": [
                {
                    "type": "tool_use",
                    "id": "call_1",
                    "name": "get_weather",
                    "input": {"city": "Oslo"},
                }
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "call_1", "content": "Sunny"},
                {"type": "text", "text": "Thanks"},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("media_type", "sent"),
    [
        ("image/jpg", "image/jpeg"),
        ("image/JPG", "image/jpeg"),
        ("image/pjpeg", "image/jpeg"),
        ("image/PNG", "image/png"),
    ],
)
def test_a_jpg_data_url_is_sent_as_image_jpeg(media_type: str, sent: str) -> None:
    # OpenAI takes "data:image/jpg;..."; Anthropic refuses any media type but image/jpeg,
    # image/png, image/gif and image/webp.
    url = f"data:{media_type};base64,QUJD"
    out = translate(
        messages=[{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]
    )
    source = out["messages"][0]["content"][0]["source"]
    assert source == {"type": "base64", "media_type": sent, "data": "QUJD"}


def test_top_p_of_one_is_left_out() -> None:
    # Claude 4.1 / 4.5 answer 400 "`temperature` and `top_p` cannot both be specified" to
    # the temperature=0.7, top_p=1 many OpenAI clients send; top_p=1 changes nothing.
    messages = [{"role": "user", "content": "Hi"}]
    out = translate(messages=messages, temperature=0.7, top_p=1)
    assert (out["temperature"], "top_p" in out) == (0.7, False)
    assert "top_p" not in translate(messages=messages, top_p=1.0)
    assert translate(messages=messages, temperature=0.7, top_p=0.5)["top_p"] == 0.5
