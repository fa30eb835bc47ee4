"""Cache entries of legacy completions (`/v1/completions`): served in the other form, they are
`text_completion` objects (never chat ones), the usage chunk added or dropped as the client's
`stream_options.include_usage` asks (tests/e2e/test_response_cache.py: the openai SDK parses
them)."""

from typing import Any

import orjson
from openai.types import Completion

from gateway.cache.completions import completion_json_to_stream
from gateway.cache.entries import decode_entry, encode_entry, entry_as_json, entry_as_stream
from gateway.sse import SSEDecoder

USAGE = {"prompt_tokens": 4, "completion_tokens": 6, "total_tokens": 10}
LOGPROBS = {
    "tokens": ["Hello", " there"],
    "token_logprobs": [-0.1, -0.2],
    "top_logprobs": [{"Hello": -0.1}, {" there": -0.2}],
    "text_offset": [0, 5],
}
ANSWER: dict[str, Any] = {
    "id": "cmpl-1",
    "object": "text_completion",
    "created": 1,
    "model": "m",
    "choices": [
        {"text": "Hello there", "index": 0, "logprobs": LOGPROBS, "finish_reason": "stop"},
        {"text": "Bye", "index": 1, "logprobs": None, "finish_reason": "length"},
    ],
    "usage": USAGE,
}


def chunks(pieces: list[bytes]) -> list[dict[str, Any]]:
    events = SSEDecoder().feed(b"".join(pieces))
    return [orjson.loads(e.data) for e in events if e.data != b"[DONE]"]


def entry(kind: str, payload: bytes | list[bytes], include_usage: bool = False) -> dict[str, Any]:
    decoded = decode_entry(encode_entry(kind, payload, USAGE, include_usage))
    assert decoded is not None
    return decoded


def built(sent: list[dict[str, Any]]) -> dict[int, str]:
    texts: dict[int, str] = {}
    for chunk in sent:
        for choice in chunk["choices"]:
            texts[choice["index"]] = texts.get(choice["index"], "") + choice["text"]
    return texts


def test_a_json_answer_is_served_as_text_completion_chunks() -> None:
    stored = entry("json", orjson.dumps(ANSWER))
    for include_usage in (True, False):
        served = entry_as_stream(stored, "openai", include_usage, "completions")
        sent = chunks(served)
        assert served[-1] == b"data: [DONE]\n\n"
        assert {c["object"] for c in sent} == {"text_completion"}
        assert built(sent) == {0: "Hello there", 1: "Bye"}
        assert {c["id"] for c in sent} == {"cmpl-1"}
        usage = [c for c in sent if not c["choices"]]
        assert [c["usage"] for c in usage] == ([USAGE] if include_usage else [])


def test_a_stream_is_served_as_one_text_completion() -> None:
    stored = entry("stream", completion_json_to_stream(ANSWER, include_usage=False))
    answer = orjson.loads(entry_as_json(stored, "openai", "completions"))
    # The entry's usage stands in for the usage chunk the stream did not carry.
    assert answer == ANSWER
    parsed = Completion.model_validate(answer)
    assert [c.text for c in parsed.choices] == ["Hello there", "Bye"]
    assert parsed.choices[0].logprobs is not None
    assert parsed.choices[0].logprobs.tokens == LOGPROBS["tokens"]


def test_a_stream_gains_or_loses_its_usage_chunk_as_text_completion() -> None:
    without = entry("stream", completion_json_to_stream(ANSWER, include_usage=False))
    gained = chunks(entry_as_stream(without, "openai", True, "completions"))
    assert gained[-1] == {
        "id": "cmpl-1",
        "object": "text_completion",
        "created": 1,
        "model": "m",
        "choices": [],
        "usage": USAGE,
    }
    with_usage = entry("stream", completion_json_to_stream(ANSWER, True), include_usage=True)
    dropped = chunks(entry_as_stream(with_usage, "openai", False, "completions"))
    assert all(c["choices"] for c in dropped) and built(dropped) == {0: "Hello there", 1: "Bye"}
