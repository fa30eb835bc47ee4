from __future__ import annotations

import pytest

from gateway.replay import scorers
from gateway.replay.answers import (
    Answer,
    InvalidUsage,
    ToolCall,
    extract_answer,
    extract_usage,
    has_tools,
    wants_json,
)


def openai(
    content: str | None, tool_calls: list[dict[str, object]] | None = None
) -> dict[str, object]:
    message: dict[str, object] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message}],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 4,
            "prompt_tokens_details": {"cached_tokens": 2},
        },
    }


def call(name: str, arguments: str) -> dict[str, object]:
    return {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}


def test_extracts_openai_text_and_canonical_tool_calls() -> None:
    answer = extract_answer(openai(None, [call("get", '{"b": 1, "a": [1, 2]}')]))
    assert answer == Answer("", (ToolCall("get", '{"a":[1,2],"b":1}'),))
    assert answer.render() == 'get({"a":[1,2],"b":1})'
    assert extract_answer(openai("hi")) == Answer("hi")
    unparsed = extract_answer(openai(None, [call("get", "not json")]))
    assert unparsed is not None and unparsed.tool_calls[0].arguments == "not json"


def test_extracts_anthropic_blocks() -> None:
    body = {
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me look. "},
            {"type": "tool_use", "id": "t", "name": "get", "input": {"city": "Oslo"}},
        ],
        "usage": {"input_tokens": 7, "output_tokens": 3, "cache_read_input_tokens": 5},
    }
    assert extract_answer(body) == Answer("Let me look. ", (ToolCall("get", '{"city":"Oslo"}'),))
    usage = extract_usage(body)
    assert usage is not None and (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_tokens,
    ) == (12, 3, 5)


def test_usage_counts_the_web_searches_billed_apart() -> None:
    claude = {"usage": {"input_tokens": 7, "server_tool_use": {"web_search_requests": 2}}}
    responses = {
        "output": [{"type": "web_search_call"}, {"type": "message", "content": []}],
        "usage": {"input_tokens": 7, "output_tokens": 3},
    }
    searched = [extract_usage(body) for body in (claude, responses, openai("x"))]
    assert [usage.web_searches if usage else None for usage in searched] == [2, 1, 0]
    with pytest.raises(InvalidUsage):
        extract_usage(
            {"usage": {"input_tokens": 7, "server_tool_use": {"web_search_requests": -2}}}
        )


def test_stream_records_keep_text_only() -> None:
    answer = extract_answer({"text": "streamed"})
    assert answer == Answer("streamed", tools_known=False)


@pytest.mark.parametrize("body", [None, {}, {"error": {"message": "x"}}, {"choices": []}, "text"])
def test_no_answer(body: object) -> None:
    answer = extract_answer(body)
    assert answer is None or answer == Answer("")


def test_usage_openai() -> None:
    usage = extract_usage(openai("x"))
    assert usage is not None and (
        usage.prompt_tokens,
        usage.completion_tokens,
        usage.cached_tokens,
        usage.total,
    ) == (10, 4, 2, 14)
    assert extract_usage({"usage": None}) is None


@pytest.mark.parametrize(
    "usage",
    [
        {"prompt_tokens": "12"},
        {"completion_tokens": float("inf")},
        {"prompt_tokens": 10**30},
        {"prompt_tokens": -1},
        {"prompt_tokens": 1.5},
        {"input_tokens": True},
        {"output_tokens": 1, "cache_read_input_tokens": "3"},
    ],
)
def test_usage_counts_are_bounded_as_the_gateway_bounds_them(usage: dict[str, object]) -> None:
    with pytest.raises(InvalidUsage):
        extract_usage({"usage": usage})


def test_intent() -> None:
    assert wants_json({"response_format": {"type": "json_object"}})
    assert wants_json({"response_format": {"type": "json_schema", "json_schema": {}}})
    assert not wants_json({"response_format": {"type": "text"}})
    assert not wants_json({})
    assert has_tools({"tools": [{"type": "function"}]}) and not has_tools({"tools": []})


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("the cat sat", "the cat sat", 1.0),
        ("The cat, sat!", "the cat sat", 1.0),  # case and punctuation ignored
        ("sat cat the", "the cat sat", 1.0),  # a bag of words: order ignored
        ("", "", 1.0),
        ("", "words", 0.0),
        ("alpha beta", "gamma delta", 0.0),
        # 2 common of 4 and 2 tokens: precision 1, recall 0.5 -> F1 2/3
        ("a b c d", "a b", 2 / 3),
        ("a a b", "a b b", 2 / 3),  # counts matter: common = 1 a + 1 b
    ],
)
def test_token_f1(a: str, b: str, expected: float) -> None:
    assert scorers.token_f1(a, b) == pytest.approx(expected)


def test_exact_match_and_similarity() -> None:
    old = Answer("Hello world", (ToolCall("f", "{}"),))
    assert scorers.exact_match(old, Answer("Hello world", (ToolCall("f", "{}"),)))
    assert not scorers.exact_match(old, Answer("Hello world ", (ToolCall("f", "{}"),)))
    assert not scorers.exact_match(old, Answer("Hello world"))
    assert scorers.similarity(old, Answer("hello world")) == pytest.approx(0.8)  # f( ) adds a token
    assert scorers.similarity(Answer(""), Answer("")) == 1.0


def test_json_valid() -> None:
    assert (
        scorers.json_valid('{"a": 1}')
        and scorers.json_valid(" [1, 2] ")
        and scorers.json_valid("3")
    )
    assert (
        not scorers.json_valid("```json\n{}\n```")
        and not scorers.json_valid("")
        and not scorers.json_valid("{'a': 1}")
    )


def test_tool_agreement() -> None:
    a, b = ToolCall("f", '{"x":1}'), ToolCall("g", "{}")
    assert (
        scorers.tool_agreement(Answer("", (a, b)), Answer("other text", (b, a))) is True
    )  # order ignored
    assert (
        scorers.tool_agreement(Answer("", (a,)), Answer("", (ToolCall("f", '{"x":2}'),))) is False
    )
    assert scorers.tool_agreement(Answer("", (a,)), Answer("", ())) is False
    assert scorers.tool_agreement(Answer("", ()), Answer("", ())) is True
    assert scorers.tool_agreement(Answer("", tools_known=False), Answer("", (a,))) is None
