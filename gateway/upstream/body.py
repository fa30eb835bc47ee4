"""An answer's body as it arrives, decoded and held to `max_response_bytes`, for both network
clients: `http1` feeds it socket reads, `httpx` its raw (still encoded) chunks.

httpx's own decoders expand each read whole before anyone can count it (a 1 MB gzip body
holding 1 GiB of zeros is decoded in 64 MiB pieces); `decoding.py` is told the room left.
"""

from __future__ import annotations

from collections.abc import Iterator

from gateway.upstream.base import UpstreamError, UpstreamTooLarge
from gateway.upstream.decoding import DECODE_ERRORS, Decoder, OutputLimit, decoder_for


class CappedBody:
    """The body of one answer; `room` is the count of decoded bytes still allowed."""

    def __init__(self, content_encoding: str | None, max_bytes: int) -> None:
        """Raises UpstreamError for a Content-Encoding no decoder undoes."""
        self.decoder: Decoder | None = decoder_for(content_encoding) if content_encoding else None
        self.max_bytes = max_bytes
        self.room = max_bytes

    def feed(self, data: bytes, *, end: bool = False) -> Iterator[bytes]:
        """`data` decoded, as far as the cap allows, then UpstreamTooLarge if the body passes
        it; UpstreamError `protocol` for a malformed compressed body. What fits is passed on
        first, however the reads grouped the body (a stream's events sent apart may arrive
        together). `end`: the body is complete, the decoder's last bytes come too."""
        pieces, over = self._decoded(data, end)
        for piece in pieces:
            self.room -= len(piece)
            if self.room < 0:
                if len(piece) + self.room > 0:
                    yield piece[: len(piece) + self.room]
                raise UpstreamTooLarge(self.max_bytes)
            if piece:
                yield piece
        if over:
            raise UpstreamTooLarge(self.max_bytes)

    def _decoded(self, data: bytes, end: bool) -> tuple[list[bytes], bool]:
        """`data` decoded, and whether the body goes on past the room left. A decoder makes
        no more than that room, a piece at a time (a gzip bomb is never expanded in full)."""
        decoder = self.decoder
        if decoder is None:
            return [data], False
        room = max(self.room, 0)
        try:
            out = decoder.decompress(data, room)
            if end:
                out += decoder.flush(room - sum(map(len, out)))
            return out, False
        except OutputLimit as over:
            return over.fitting, True
        except DECODE_ERRORS as exc:
            raise UpstreamError(
                "protocol", f"upstream sent a malformed compressed body: {exc}"
            ) from None
