from gateway.sse import SSEDecoder, encode_event


def test_events_split_across_chunks_are_reassembled() -> None:
    decoder = SSEDecoder()
    raw = b'event: message_start\ndata: {"a": 1}\n\ndata: {"b": 2}\n\n'
    events = []
    for i in range(len(raw)):
        events += decoder.feed(raw[i : i + 1])
    assert [(e.event, e.data) for e in events] == [
        ("message_start", b'{"a": 1}'),
        (None, b'{"b": 2}'),
    ]
    assert b"".join(e.raw for e in events) == raw


def test_crlf_comments_and_multiline_data() -> None:
    events = SSEDecoder().feed(b": keep-alive\r\n\r\ndata: one\r\ndata: two\r\n\r\n")
    assert [(e.event, e.data) for e in events] == [(None, b"one\ntwo")]


def test_incomplete_event_waits_for_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]\n") == []
    assert decoder.feed(b"\n")[0].data == b"[DONE]"


def test_encode_event() -> None:
    assert encode_event(b"{}") == b"data: {}\n\n"
    assert encode_event(b"{}", "ping") == b"event: ping\ndata: {}\n\n"
