"""`StreamScrub` and `scrubbed_answer`: a configured key in an answer becomes `****` wherever
two pieces of a stream cut it; a piece that ends a line is sent whole (nothing held back);
a credential's shape that is no configured secret stays."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import pytest

from gateway.config.types import ServerConfig
from gateway.http.answer_scrub import StreamScrub, scrubbed_answer
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.runtime import Runtime
from gateway.scrub import Secrets

KEY = "prov/Key+0123456789abcdef"
SAMPLE = b'data: {"content":"export OPENAI_API_KEY=sk-sample0123456789 Bearer abc123"}\n\n'
# The key as it is, and JSON-escaped (`\/`) as an encoder writes it.
STREAM = (
    b'data: {"content":"the key is ' + KEY.encode() + b'"}\n\n'
    b'data: {"content":"' + KEY.replace("/", "\\/").encode() + b'"}\n\n'
    b"data: [DONE]\n\n"
)


def context() -> RequestContext:
    config = SimpleNamespace(server=ServerConfig())
    runtime = cast(Runtime, SimpleNamespace(secrets=Secrets([KEY]), config=config))
    endpoint = Endpoint("/v1/chat/completions", "chat", "openai")
    return RequestContext(endpoint, runtime, "req_1", 0.0, 0.0, {})


def relayed(scrub: StreamScrub, pieces: list[bytes]) -> bytes:
    """What `send_stream` sends of `pieces`: a piece that ends a line and that `check` passes
    (None) goes as it is."""
    sent = [
        piece if piece.endswith(b"\n") and scrub.check(piece) is None else scrub.piece(piece)
        for piece in pieces
    ]
    return b"".join([*sent, scrub.end(b"")])


@pytest.mark.parametrize("split", range(1, len(STREAM)))
def test_a_key_cut_between_two_pieces_is_scrubbed(split: int) -> None:
    out = relayed(StreamScrub(context()), [STREAM[:split], STREAM[split:]])
    assert b"Key+0123456789abcdef" not in out
    assert out == STREAM.replace(b"prov/Key+0123456789abcdef", b"****").replace(
        b"prov\\/Key+0123456789abcdef", b"****"
    )


def test_a_piece_that_ends_a_line_is_sent_whole() -> None:
    scrub = StreamScrub(context())
    first = b'data: {"content":"Hi"}\n\n'
    assert scrub.piece(first) == first
    assert scrub.piece(b'data: {"content":') == b""  # an incomplete line: no client can use it
    assert scrub.piece(b'"there"}\n\n') == b'data: {"content":"there"}\n\n'
    assert scrub.end(b"") == b""


def test_a_piece_after_a_held_line_goes_through_the_scrub() -> None:
    """The piece after a held line holds only the key's end: `check` must not pass it."""
    line = b'data: {"content":"the key is ' + KEY.encode() + b'"}\n\n'
    cut = line.index(b"0123")
    assert relayed(StreamScrub(context()), [line[:cut], line[cut:]]) == (
        b'data: {"content":"the key is ****"}\n\n'
    )


def test_a_credential_shape_that_is_no_configured_secret_stays() -> None:
    ctx = context()
    assert scrubbed_answer(ctx, SAMPLE) is SAMPLE
    assert StreamScrub(ctx).piece(SAMPLE) is SAMPLE
