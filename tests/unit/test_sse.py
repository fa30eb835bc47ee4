from gateway.sse import EventBuffer, SSEDecoder, encode_event


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


STREAM = b"data: a\r\n\r\n: ping\r\rdata: b\r\ndata: c\n\nevent: e\ndata: d\r\n\r\n"


def _events(pieces: list[bytes]) -> list[tuple[str | None, bytes]]:
    decoder = SSEDecoder()
    return [(e.event, e.data) for piece in pieces for e in decoder.feed(piece)]


def test_every_split_of_a_stream_gives_its_events() -> None:
    """A `\\r\\n` split between two chunks is one line end (it made a blank line: `b` and `c`
    came as two events)."""
    whole = _events([STREAM])
    assert whole == [(None, b"a"), (None, b"b\nc"), ("e", b"d")]
    for cut in range(len(STREAM) + 1):
        assert _events([STREAM[:cut], STREAM[cut:]]) == whole, cut
    assert _events([bytes([byte]) for byte in STREAM]) == whole


def test_an_event_in_many_pieces_is_kept_as_its_pieces_until_it_ends() -> None:
    """Joined once at its blank line, not joined to every piece and scanned again (a 64 MiB
    event fed 64 KiB at a time cost minutes of CPU)."""
    buffer = EventBuffer()
    for _ in range(1000):
        assert buffer.take(b"x" * 100) == b""
    assert len(buffer._pieces) == 1000
    assert buffer.take(b"\n\ndata: next") == b"x" * 100_000 + b"\n\n"
    assert not buffer.idle and buffer.take(b"\n\n") == b"data: next\n\n"


def test_llamacpps_error_line_is_an_error_event() -> None:
    events = SSEDecoder().feed(b'error: {"code": 500}\n\ndata: [DONE]\n\n')
    assert [(e.event, e.data) for e in events] == [("error", b'{"code": 500}'), (None, b"[DONE]")]
