"""The OpenAI stream relay: bytes forwarded as received, usage read, malformed events refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway.errors import UpstreamFailed, UpstreamStreamError
from gateway.providers.openai_streams import (
    OpenAICompletionStreamPassthrough,
    OpenAIStreamPassthrough,
)


def chunk(content: str | None, usage: dict[str, int] | None = None, choices: bool = True) -> bytes:
    body = {
        "id": "c1",
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}]
        if choices
        else [],
        "usage": usage,
    }
    return b"data: " + json.dumps(body).encode() + b"\n\n"


USAGE = {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}
STREAM = (
    chunk("Hel")
    + b": keep-alive\n\n"
    + chunk("lo")
    + chunk(None, USAGE, choices=False)
    + b"data: [DONE]\n\n"
)


def relay(wants_usage: bool, pieces: list[bytes]) -> tuple[bytes, OpenAIStreamPassthrough]:
    relay = OpenAIStreamPassthrough(wants_usage)
    out = b"".join(b"".join(relay.feed(piece)) for piece in pieces)
    return out + b"".join(relay.finish()), relay


def test_a_client_that_asked_for_usage_gets_the_bytes_exactly_as_sent() -> None:
    out, converter = relay(True, [STREAM])
    assert out == STREAM  # comments included
    assert converter.usage is not None and converter.usage.completion_tokens == 2
    assert converter.text == ["Hel", "lo"]


def test_the_usage_chunk_is_dropped_when_the_client_did_not_ask_for_it() -> None:
    out, converter = relay(False, [STREAM])
    assert out == STREAM.replace(chunk(None, USAGE, choices=False), b"")
    assert converter.usage is not None and converter.usage.prompt_tokens == 5


def test_events_split_anywhere_across_reads_come_out_whole() -> None:
    for cut in range(1, len(STREAM), 7):
        out, converter = relay(True, [STREAM[:cut], STREAM[cut:]])
        assert out == STREAM and converter.text == ["Hel", "lo"]


def test_crlf_line_endings_are_normalised() -> None:
    out, converter = relay(True, [STREAM.replace(b"\n", b"\r\n")])
    assert out == STREAM and converter.text == ["Hel", "lo"]


@pytest.mark.parametrize("bad", [b'data: {"choices": [\n\n', b"data: [1, 2]\n\n"])
def test_a_malformed_event_is_refused(bad: bytes) -> None:
    with pytest.raises(UpstreamFailed):
        relay(True, [chunk("ok") + bad])


def test_legacy_completion_chunks_are_relayed_and_their_text_read() -> None:
    def text_chunk(text: str) -> bytes:
        body = {"object": "text_completion", "choices": [{"index": 0, "text": text}]}
        return b"data: " + json.dumps(body).encode() + b"\n\n"

    relay = OpenAICompletionStreamPassthrough(client_wants_usage=False)
    upstream = text_chunk("Once ") + text_chunk("upon") + chunk(None, USAGE, choices=False)
    sent = relay.feed(upstream)
    assert b"".join(sent) == text_chunk("Once ") + text_chunk("upon")
    assert relay.text == ["Once ", "upon"]
    assert relay.usage is not None and relay.usage.completion_tokens == 2


PLAIN = chunk("ok")
HOSTILE = [
    # (event data, the error's code, a fragment of its message)
    (b'{"choices": [{"delta": {}}], "error": {"message": "boom"}}', None, "boom"),
    (b'{"choices": [{"delta": {}}], "\\u0065rror": {"message": "boom"}}', None, "boom"),
    (b'{"choices": [1]}', "upstream_malformed", "not a list of objects"),
    (b'{"choices": {"0": {}}}', "upstream_malformed", "not a list of objects"),
    (b'{"choices": 0}', "upstream_malformed", "not a list"),
    (
        b'{"choices": [{"delta": {}}], "usage": {"prompt_tokens": -1}}',
        "upstream_malformed",
        "prompt_tokens",
    ),
    (b'{"choices": [{"delta": {}}', "upstream_malformed", "malformed stream event"),
]


@pytest.mark.parametrize(("data", "code", "message"), HOSTILE)
@pytest.mark.parametrize(
    "arrival",
    [
        lambda event: [event],  # a chunk of its own
        lambda event: [PLAIN + event + PLAIN],  # among plain events
        lambda event: [b": keep-alive\n\n" + event],  # beside a comment
        lambda event: [event[:9], event[9:]],  # split across reads
    ],
)
def test_a_hostile_event_fails_however_it_arrives(
    data: bytes, code: str | None, message: str, arrival: Any
) -> None:
    event = b"data: " + data + b"\n\n"
    with pytest.raises(UpstreamFailed, match=message) as caught:
        relay(True, arrival(event))
    assert caught.value.code == (code or UpstreamFailed("x").code)


def test_usage_on_a_content_chunk_is_read_and_the_chunk_kept() -> None:
    with_usage = chunk("Hi", USAGE)
    for pieces in ([with_usage, b"data: [DONE]\n\n"], [PLAIN + with_usage + b"data: [DONE]\n\n"]):
        out, converter = relay(False, pieces)
        assert out == b"".join(pieces)
        assert converter.usage is not None and converter.usage.prompt_tokens == 5
        assert converter.text[-1] == "Hi" and converter.ended


@pytest.mark.parametrize(
    "shape",
    [
        lambda event: event.replace(b"\n", b"\r"),  # bare `\r` line ends
        lambda event: event.replace(b"data: ", b"data:"),  # no space after the colon
        lambda event: event.replace(b', "usage"', b',\ndata: "usage"'),  # data on two lines
        lambda event: b"event: chunk\n" + event,  # another field
        lambda event: b"data: {}\n\n" + event,  # an event without choices before it
    ],
)
def test_events_of_any_sse_shape_are_read_like_the_usual_one(shape: Any) -> None:
    stream = shape(chunk("Hel")) + shape(chunk("lo")) + b"data: [DONE]\n\n"
    out, converter = relay(True, [stream])
    assert converter.text == ["Hel", "lo"]
    assert out == stream.replace(b"\r", b"\n")  # forwarded as received, line ends made `\n`


def test_llamacpps_error_line_is_the_upstreams_error() -> None:
    """llama.cpp server writes an error found mid-stream as `error: {...}`, then `[DONE]`."""
    relay = OpenAIStreamPassthrough(client_wants_usage=False)
    assert relay.feed(chunk("Hel")) == [chunk("Hel")]
    crash = {"code": 500, "message": "llama_decode failed", "type": "server_error"}
    with pytest.raises(UpstreamStreamError) as caught:
        relay.feed(b"error: " + json.dumps(crash).encode() + b"\n\ndata: [DONE]\n\n")
    assert caught.value.type == "server_error" and caught.value.upstream_fault
    assert caught.value.message == "upstream stream error: llama_decode failed"
    # A 4xx it names is the request's: the refusal it would have answered with.
    context = {"code": 400, "message": "request (9 tokens) exceeds the available context size",
               "type": "exceed_context_size_error"}  # fmt: skip
    relay = OpenAIStreamPassthrough(client_wants_usage=False)
    with pytest.raises(UpstreamStreamError) as refused:
        relay.feed(b"error: " + json.dumps(context).encode() + b"\n\n")
    rejection = refused.value.rejection
    assert rejection is not None and not refused.value.upstream_fault
    assert (rejection.status, rejection.code) == (400, "context_length_exceeded")


def _event(choices: list[dict[str, Any]]) -> bytes:
    return b"data: " + json.dumps({"id": "c1", "choices": choices}).encode() + b"\n\n"


def test_the_written_text_is_every_choice_and_every_tool_calls_arguments() -> None:
    # What an estimate counts when the upstream reports no usage: all that is billed as output.
    relay = OpenAIStreamPassthrough(client_wants_usage=False)
    call = {"index": 0, "id": "t", "function": {"name": "f", "arguments": '{"a":'}}
    relay.feed(_event([{"index": 0, "delta": {"reasoning_content": "think "}}]))
    relay.feed(_event([{"index": 0, "delta": {"content": "one "}}]))
    relay.feed(_event([{"index": 1, "delta": {"content": "two "}}]))
    relay.feed(_event([{"index": 0, "delta": {"tool_calls": [call]}}]))
    more = {"index": 0, "function": {"arguments": " 1}"}}
    relay.feed(_event([{"index": 0, "delta": {"tool_calls": [more]}, "finish_reason": None}]))
    assert relay.written_text() == 'think one two {"a": 1}'
    assert relay.text == ["one ", "two "]  # the answer's text (logged bodies) is unchanged
    completions = OpenAICompletionStreamPassthrough(client_wants_usage=False)
    completions.feed(_event([{"index": 0, "text": "a"}, {"index": 1, "text": "b"}]))
    assert completions.written_text() == "ab"
