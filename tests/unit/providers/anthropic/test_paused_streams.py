"""The streams of a continued turn, as one message's stream; the content sent back, rebuilt
from the events as Claude sent it."""

from __future__ import annotations

import orjson
import pytest

from gateway.json_types import JSON
from gateway.providers.anthropic.paused_streams import PausedTurnStream
from gateway.sse import SSEDecoder, encode_event

SIGNED = {"type": "thinking", "thinking": "Look it up. Then answer.", "signature": "c2ln"}
CITATION = {
    "type": "web_search_result_location",
    "url": "https://a.example",
    "title": "A",
    "cited_text": "It is.",
    "encrypted_index": "aW5k",
}
RESULT = {
    "type": "web_search_tool_result",
    "tool_use_id": "srvtoolu_1",
    "content": [
        {"type": "web_search_result", "url": "https://a.example", "encrypted_content": "ZQ"}
    ],
}
USE = {"type": "server_tool_use", "id": "srvtoolu_1", "name": "web_search", "input": {"query": "q"}}
CITED = {"type": "text", "text": "It is so.", "citations": [CITATION]}


def _events(content: list[JSON], stop: str, usage: JSON, start_usage: JSON) -> list[JSON]:
    """The stream Claude sends for a message of `content` (deltas as Claude cuts them)."""
    events: list[JSON] = [
        {"type": "message_start", "message": {"id": "msg", "content": [], "usage": start_usage}}
    ]
    for index, block in enumerate(content):
        kind = block["type"]
        if kind == "thinking":
            start: JSON = {"type": "thinking", "thinking": ""}
            deltas = [
                {"type": "thinking_delta", "thinking": p} for p in ("Look it up.", " Then answer.")
            ]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        elif kind == "text":
            start = {
                "type": "text",
                "text": "",
                **({"citations": []} if "citations" in block else {}),
            }
            deltas = [
                {"type": "citations_delta", "citation": c} for c in block.get("citations", ())
            ]
            deltas += [
                {"type": "text_delta", "text": p} for p in (block["text"][:3], block["text"][3:])
            ]
        elif kind == "server_tool_use":
            start = {**block, "input": {}}
            whole = orjson.dumps(block["input"]).decode()
            deltas = [
                {"type": "input_json_delta", "partial_json": p} for p in (whole[:4], whole[4:])
            ]
        else:
            start, deltas = block, []
        events.append({"type": "content_block_start", "index": index, "content_block": start})
        events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
        events.append({"type": "content_block_stop", "index": index})
    events.append({"type": "ping"})
    events.append({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": usage})
    events.append({"type": "message_stop"})
    return events


def _sse(events: list[JSON]) -> bytes:
    return b"".join(encode_event(orjson.dumps(e), e["type"]) for e in events)


def _feed(turn: PausedTurnStream, data: bytes, size: int) -> bytes:
    """`data` fed in pieces of `size` bytes (events cut anywhere)."""
    return b"".join(turn.feed(data[at : at + size]) for at in range(0, len(data), size))


def _parsed(data: bytes) -> list[JSON]:
    return [orjson.loads(event.data) for event in SSEDecoder().feed(data)]


PAUSED = _events(
    [SIGNED, USE, RESULT],
    "pause_turn",
    {"output_tokens": 30},
    {"input_tokens": 100, "output_tokens": 1},
)
FINAL = _events(
    [CITED],
    "end_turn",
    {"output_tokens": 8, "server_tool_use": {"web_search_requests": 1}},
    {"input_tokens": 180, "output_tokens": 1},
)


@pytest.mark.parametrize("size", [7, 64, 100_000])
def test_two_calls_stream_as_one_message(size: int) -> None:
    turn = PausedTurnStream()
    out = _feed(turn, _sse(PAUSED), size)
    assert turn.paused
    assert turn.content == [SIGNED, USE, RESULT]  # as Claude sent it, to send back
    turn.next_call()
    out += _feed(turn, _sse(FINAL), size)
    assert not turn.paused and turn.end() == b""
    events = _parsed(out)
    kinds = [e["type"] for e in events]
    assert kinds.count("message_start") == 1 and kinds.count("message_stop") == 1
    [delta] = [e for e in events if e["type"] == "message_delta"]
    assert delta["delta"]["stop_reason"] == "end_turn"
    assert delta["usage"] == {
        "input_tokens": 280,
        "output_tokens": 38,
        "server_tool_use": {"web_search_requests": 1},
    }
    starts = [e["index"] for e in events if e["type"] == "content_block_start"]
    assert starts == [0, 1, 2, 3]  # the second call's block after the first's three
    assert {e["index"] for e in events if e["type"] == "content_block_delta"} == {0, 1, 3}
    assert turn.content == [SIGNED, USE, RESULT, CITED]


def test_a_stream_never_paused_passes_byte_for_byte() -> None:
    turn = PausedTurnStream()
    data = _sse(FINAL)
    assert _feed(turn, data, 13) == data
    assert not turn.paused and turn.end() == b""


def test_a_turn_not_continued_ends_as_claude_paused_it() -> None:
    turn = PausedTurnStream()
    out = _feed(turn, _sse(PAUSED), 50)
    assert "message_stop" not in [e["type"] for e in _parsed(out)]  # held until it is known
    out += turn.end()
    events = _parsed(out)
    assert [e["type"] for e in events[-2:]] == ["message_delta", "message_stop"]
    assert events[-2]["delta"]["stop_reason"] == "pause_turn"
    assert events[-2]["usage"] == {"input_tokens": 100, "output_tokens": 30}
    assert turn.end() == b""


def test_an_event_that_is_not_json_passes_for_the_converter_to_refuse() -> None:
    turn = PausedTurnStream()
    assert turn.feed(b"event: message_start\ndata: {broken\n\n") == (
        b"event: message_start\ndata: {broken\n\n"
    )
