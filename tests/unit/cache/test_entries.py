"""The exact cache: keys, entries, and JSON <-> stream conversions in both wire formats."""

from typing import Any

import orjson
import pytest
from openai.lib.streaming.chat import ChatCompletionStreamState
from openai.types.chat import ChatCompletionChunk

from gateway.cache.chat import openai_json_to_stream, openai_stream_to_json
from gateway.cache.entries import decode_entry, encode_entry, entry_as_json, entry_as_stream
from gateway.cache.keys import cache_key
from gateway.cache.messages import anthropic_json_to_stream, anthropic_stream_to_json
from gateway.state import MemoryState

USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
BODY = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2}
COMPLETION_CALLS = [
    {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
]
COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "m",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello there",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "f", "arguments": '{"a":1}'},
                    }
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ],
    "usage": USAGE,
}
MESSAGE_CONTENT = [
    {"type": "text", "text": "Hello"},
    {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {"a": 1}},
]
MESSAGE = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "model": "m",
    "content": MESSAGE_CONTENT,
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 5, "output_tokens": 2},
}


def test_key_ignores_user_stream_and_metadata() -> None:
    plain = cache_key("/v1/chat/completions", BODY, "team")
    assert (
        cache_key(
            "/v1/chat/completions",
            {**BODY, "user": "u", "stream": True, "stream_options": {}, "metadata": {"a": "b"}},
            "team",
        )
        == plain
    )
    assert cache_key("/v1/chat/completions", {**BODY, "temperature": 0.3}, "team") != plain
    assert cache_key("/v1/chat/completions", BODY, "other-team") != plain
    assert cache_key("/v1/messages", BODY, "team") != plain


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("modalities", ["text", "audio"]),
        ("audio", {"voice": "alloy"}),
        ("prediction", {"type": "content", "content": "x"}),
        ("service_tier", "flex"),
        ("verbosity", "low"),
        ("web_search_options", {}),
        ("guided_json", {"type": "object"}),
        ("min_p", 0.1),
        ("chat_template_kwargs", {"enable_thinking": False}),
        ("a_field_no_one_knows_yet", 1),
    ],
)
def test_every_other_field_is_part_of_the_key(field: str, value: object) -> None:
    plain = cache_key("/v1/chat/completions", BODY, None)
    assert cache_key("/v1/chat/completions", {**BODY, field: value}, None) != plain


def test_key_does_not_depend_on_field_order() -> None:
    reordered = dict(reversed(list({**BODY, "tools": [{"b": 1, "a": 2}]}.items())))
    assert cache_key("/v1/chat/completions", reordered, None) == cache_key(
        "/v1/chat/completions", {**BODY, "tools": [{"a": 2, "b": 1}]}, None
    )


def test_openai_json_stream_round_trip() -> None:
    pieces = openai_json_to_stream(COMPLETION, include_usage=True)
    assembled = openai_stream_to_json([p.decode() for p in pieces])
    assert assembled["choices"] == COMPLETION["choices"]
    assert assembled["usage"] == COMPLETION["usage"]
    assert pieces[-1] == b"data: [DONE]\n\n"


def test_anthropic_json_stream_round_trip() -> None:
    pieces = anthropic_json_to_stream(MESSAGE)
    assembled = anthropic_stream_to_json([p.decode() for p in pieces])
    assert assembled["content"] == MESSAGE["content"]
    assert assembled["stop_reason"] == "tool_use"
    assert assembled["usage"]["output_tokens"] == 2


def test_stream_entry_replays_the_same_pieces() -> None:
    pieces = openai_json_to_stream(COMPLETION, include_usage=True)
    entry = decode_entry(encode_entry("stream", pieces, USAGE, include_usage=True))
    assert entry is not None
    assert entry_as_stream(entry, "openai", include_usage=True) == pieces
    without = entry_as_stream(entry, "openai", include_usage=False)
    assert b"".join(without).count(b'"usage":{') == 0 and without[-1].endswith(b"data: [DONE]\n\n")
    assert (
        orjson.loads(entry_as_json(entry, "openai"))["choices"][0]["message"]["content"]
        == "Hello there"
    )


def test_stream_entry_without_usage_chunk_gains_one_when_asked() -> None:
    pieces = openai_json_to_stream(COMPLETION, include_usage=False)
    entry = decode_entry(encode_entry("stream", pieces, USAGE, include_usage=False))
    assert entry is not None
    replay = b"".join(entry_as_stream(entry, "openai", include_usage=True))
    assert b'"completion_tokens":2' in replay and replay.endswith(b"data: [DONE]\n\n")


def test_json_entry_served_as_stream() -> None:
    entry = decode_entry(encode_entry("json", orjson.dumps(MESSAGE), {}))
    assert entry is not None
    events = b"".join(entry_as_stream(entry, "anthropic", include_usage=False))
    assert events.startswith(b"event: message_start") and events.endswith(
        b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
    )


def test_garbage_entries_are_misses() -> None:
    assert decode_entry(b"not json") is None
    assert decode_entry(b'{"kind": "other"}') is None


@pytest.mark.asyncio
async def test_ttl_expires_with_an_injected_clock() -> None:
    state = MemoryState()
    await state.set("k", b"v", ttl_s=60, now=1000.0)
    assert await state.get("k", now=1059.0) == b"v"
    assert await state.get("k", now=1060.5) is None


def test_added_usage_chunk_carries_the_stream_id_created_and_model() -> None:
    # OpenAI puts id, created and model on every chunk, the usage chunk included.
    completion = {**COMPLETION, "system_fingerprint": "fp_1"}
    pieces = openai_json_to_stream(completion, include_usage=False)
    entry = decode_entry(encode_entry("stream", pieces, USAGE, include_usage=False))
    assert entry is not None
    replay = entry_as_stream(entry, "openai", include_usage=True)
    *_, usage_piece = [p for p in b"".join(replay).split(b"\n\n") if b'"usage"' in p]
    chunk = orjson.loads(usage_piece.removeprefix(b"data: "))
    assert chunk["usage"] == USAGE and chunk["choices"] == []
    assert (chunk["id"], chunk["created"], chunk["model"]) == ("chatcmpl-1", 1, "m")
    assert chunk["object"] == "chat.completion.chunk"


def test_stream_entry_without_usage_chunk_served_as_json_has_the_entry_usage() -> None:
    pieces = openai_json_to_stream(COMPLETION, include_usage=False)
    entry = decode_entry(encode_entry("stream", pieces, USAGE, include_usage=False))
    assert entry is not None
    assert orjson.loads(entry_as_json(entry, "openai"))["usage"] == USAGE


def test_stream_entry_with_usage_chunk_served_as_json_keeps_the_streamed_usage() -> None:
    detailed = {**USAGE, "prompt_tokens_details": {"cached_tokens": 3}}
    pieces = openai_json_to_stream({**COMPLETION, "usage": detailed}, include_usage=True)
    entry = decode_entry(encode_entry("stream", pieces, USAGE, include_usage=True))
    assert entry is not None
    assert orjson.loads(entry_as_json(entry, "openai"))["usage"] == detailed


THINKING_MESSAGE: dict[str, Any] = {
    **MESSAGE,
    "content": [
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig-abc"},
        {"type": "redacted_thinking", "data": "opaque"},
        *MESSAGE_CONTENT,
    ],
}


def test_thinking_blocks_stream_as_anthropic_sends_them() -> None:
    events = [
        orjson.loads(p.split(b"data: ", 1)[1]) for p in anthropic_json_to_stream(THINKING_MESSAGE)
    ]
    thinking = [e for e in events if e.get("index") == 0]
    assert thinking[0]["content_block"] == {"type": "thinking", "thinking": "", "signature": ""}
    assert [e["delta"] for e in thinking[1:-1]] == [
        {"type": "thinking_delta", "thinking": "Let me think."},
        {"type": "signature_delta", "signature": "sig-abc"},
    ]
    redacted = [e for e in events if e.get("index") == 1]
    assert [e["type"] for e in redacted] == ["content_block_start", "content_block_stop"]
    assert redacted[0]["content_block"] == {"type": "redacted_thinking", "data": "opaque"}


def test_thinking_blocks_survive_a_stream_entry_served_as_json() -> None:
    # The signature must come back intact: Anthropic refuses a next turn whose thinking block
    # has lost it.
    pieces = anthropic_json_to_stream(THINKING_MESSAGE)
    entry = decode_entry(encode_entry("stream", pieces, USAGE))
    assert entry is not None
    assert orjson.loads(entry_as_json(entry, "anthropic"))["content"] == THINKING_MESSAGE["content"]


def test_refusal_and_logprobs_survive_json_and_stream_entries() -> None:
    token = {"token": "No", "logprob": -0.1, "bytes": [78], "top_logprobs": []}
    refused = {
        **COMPLETION,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, "refusal": "No."},
                "logprobs": {"content": None, "refusal": [token]},
                "finish_reason": "stop",
            }
        ],
    }
    pieces = openai_json_to_stream(refused, include_usage=True)
    assert openai_stream_to_json([p.decode() for p in pieces])["choices"] == refused["choices"]
    # A stream with the refusal and the logprobs spread over chunks, as OpenAI sends it.
    spread: list[dict[str, Any]] = [
        {"delta": {"role": "assistant", "refusal": "N"}, "logprobs": {"refusal": [token]}},
        {"delta": {"refusal": "o."}, "logprobs": {"content": None, "refusal": [token]}},
        {"delta": {}, "finish_reason": "stop"},
    ]
    chunks = [
        f"data: {orjson.dumps({'id': 'c', 'choices': [{'index': 0, **c}]}).decode()}\n\n"
        for c in spread
    ]
    (choice,) = openai_stream_to_json(chunks)["choices"]
    assert choice["message"]["refusal"] == "No."
    assert choice["logprobs"] == {"content": None, "refusal": [token, token]}


def test_embeddings_entries_are_keyed_by_their_encoding_and_dimensions() -> None:
    """`encoding_format` and `dimensions` change the answer's body (base64 strings or float
    lists, and their length): a float request never gets a base64 entry, nor 256 dimensions
    1,536; `user` labels the request only."""
    body: dict[str, Any] = {"model": "embed", "input": ["a", "b"]}
    variants: list[dict[str, Any]] = [
        body,
        {**body, "encoding_format": "float"},
        {**body, "encoding_format": "base64"},
        {**body, "encoding_format": "base64", "dimensions": 256},
    ]
    keys = {cache_key("/v1/embeddings", variant, None) for variant in variants}
    assert len(keys) == len(variants)
    labelled = {**body, "encoding_format": "base64", "user": "u-1"}
    assert cache_key("/v1/embeddings", labelled, None) == cache_key(
        "/v1/embeddings", variants[2], None
    )


def test_reasoning_audio_and_annotations_survive_json_and_stream_entries() -> None:
    # DeepSeek's and vLLM's reasoning, an audio answer, web search citations and the
    # deprecated function_call: what a hit in the other form used to drop.
    citation: dict[str, Any] = {
        "type": "url_citation",
        "url_citation": {"url": "https://a.example", "title": "A"},
    }
    audio = {"id": "audio_1", "data": "UklGRg==", "transcript": "Paris.", "expires_at": 9}
    message: dict[str, Any] = {
        "role": "assistant",
        "content": "Paris.",
        "reasoning_content": "France's capital is Paris.",
        "annotations": [citation],
        "audio": audio,
        "function_call": {"name": "lookup", "arguments": '{"q": "Paris"}'},
    }
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
    answer = {**COMPLETION, "choices": [choice]}
    pieces = openai_json_to_stream(answer, include_usage=True)
    assert openai_stream_to_json([p.decode() for p in pieces])["choices"] == answer["choices"]
    # The same answer spread over chunks, as the upstreams stream it.
    spread: list[dict[str, Any]] = [
        {"role": "assistant", "content": "", "reasoning_content": "France's capital "},
        {"reasoning_content": "is Paris.", "audio": {"id": "audio_1", "transcript": "Par"}},
        {"content": "Paris.", "audio": {"transcript": "is.", "data": "UklGRg=="}},
        {"annotations": [citation], "function_call": {"name": "lookup", "arguments": ""}},
        {"function_call": {"arguments": '{"q": "Paris"}'}, "audio": {"expires_at": 9}},
    ]
    chunks = [
        f"data: {orjson.dumps({'id': 'c', 'choices': [{'index': 0, 'delta': d}]}).decode()}\n\n"
        for d in spread
    ]
    (assembled,) = openai_stream_to_json(chunks)["choices"]
    assert assembled["message"] == message


def test_service_tier_and_fingerprint_survive_json_and_stream_entries() -> None:
    answer = {**COMPLETION, "system_fingerprint": "fp_1", "service_tier": "flex"}
    pieces = openai_json_to_stream(answer, include_usage=False)
    chunks = [orjson.loads(p[len(b"data: ") :]) for p in pieces[:-1]]
    assert all((c["system_fingerprint"], c["service_tier"]) == ("fp_1", "flex") for c in chunks)
    assembled = openai_stream_to_json([p.decode() for p in pieces])
    assert (assembled["system_fingerprint"], assembled["service_tier"]) == ("fp_1", "flex")


def test_a_tool_call_answer_replayed_as_a_stream_has_no_content_in_the_sdk() -> None:
    # OpenAI streams a tool call's message with `"content": null`: the openai SDK assembles
    # `content=None`, as in the JSON answer, not "" (which an app may take for a text answer).
    message = {"role": "assistant", "content": None, "tool_calls": COMPLETION_CALLS}
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "tool_calls"}
    answer = {**COMPLETION, "choices": [choice]}
    state = ChatCompletionStreamState()
    for piece in openai_json_to_stream(answer, include_usage=False)[:-1]:
        state.handle_chunk(ChatCompletionChunk.model_validate_json(piece[len(b"data: ") :]))
    (assembled,) = state.get_final_completion().choices
    assert assembled.message.content is None
    assert assembled.message.tool_calls and assembled.message.tool_calls[0].id == "call_1"


def test_citations_survive_json_and_stream_entries() -> None:
    # Anthropic streams a cited text's citations as `citations_delta` events (web search,
    # documents): a stream entry served as JSON used to lose them.
    cite = {"type": "char_location", "cited_text": "Paris", "document_index": 0}
    cited = {"type": "text", "text": "Paris.", "citations": [cite, {**cite, "cited_text": "P"}]}
    message = {**MESSAGE, "content": [cited]}
    pieces = anthropic_json_to_stream(message)
    deltas = [orjson.loads(p.split(b"data: ")[1])["delta"] for p in pieces if b"_delta\n" in p]
    assert [d["type"] for d in deltas[:3]] == ["citations_delta", "citations_delta", "text_delta"]
    assert anthropic_stream_to_json([p.decode() for p in pieces])["content"] == [cited]
