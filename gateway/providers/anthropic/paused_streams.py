"""The streams of a turn Claude paused and the gateway continued (`paused_turns`), as one.

`PausedTurnStream` sits between the upstream's bytes and the adapter's converter, which sees
one Messages stream whatever happened: the first call's events pass as they come, except its
end, which is held while the stream says `pause_turn` (its `message_delta` and
`message_stop`); each continuation's events follow without their `message_start`, their
content blocks numbered after those already sent, and the last `message_delta` carries the
usage of every call added up. Meanwhile it rebuilds the content Claude sent (text, thinking
and its signature, a tool's input, citations, whole blocks such as a search's results), which
the next continuation sends back as it came. When no continuation follows (the limit, or one
that failed), `end` gives the held end: the turn ends paused, as it did before.
"""

from __future__ import annotations

import orjson

from gateway.json_types import JSON
from gateway.providers.anthropic.paused_turns import PAUSED, summed_usage
from gateway.sse import SSEDecoder, encode_event

_BLOCK_EVENTS = ("content_block_start", "content_block_delta", "content_block_stop")


class PausedTurnStream:
    """Anthropic events of one turn's calls in, one message's events out (see the module)."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self.content: list[JSON] = []  # every block so far, whole, as Claude sent it
        self._open: dict[int, JSON] = {}  # this call's blocks being streamed, by its index
        self._json: dict[int, list[str]] = {}  # their tool input, as it streamed
        self._offset = 0  # how many blocks the calls before this one sent
        self._calls_usage: JSON = {}  # the finished calls' usage, added up
        self._usage: JSON = {}  # this call's usage (`message_start`'s, then `message_delta`'s)
        self._held: JSON | None = None  # the paused call's `message_delta`
        self._started = False  # the first `message_start` passed
        self.paused = False  # the call's stream ended paused (its end held)

    def feed(self, chunk: bytes) -> bytes:
        """Upstream bytes in, the bytes of the one message out."""
        out: list[bytes] = []
        for event in self._decoder.feed(chunk):
            try:
                parsed = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                parsed = None
            if type(parsed) is not dict:
                out.append(event.raw)  # the converter says what is wrong with it
                continue
            kind = parsed.get("type")
            if kind in _BLOCK_EVENTS:
                out.append(self._block_event(event.raw, event.event, parsed))
            elif kind == "message_start":
                message = parsed.get("message")
                usage = message.get("usage") if type(message) is dict else None
                self._usage = dict(usage) if type(usage) is dict else {}
                if not self._started:
                    self._started = True
                    out.append(event.raw)
            elif kind == "message_delta":
                usage = parsed.get("usage")
                if type(usage) is dict:
                    self._usage.update({k: v for k, v in usage.items() if v is not None})
                delta = parsed.get("delta")
                if type(delta) is dict and delta.get("stop_reason") == PAUSED:
                    self._held = parsed
                elif self._calls_usage:
                    out.append(self._with_all_usage(parsed, event.event))
                else:
                    out.append(event.raw)
            elif kind == "message_stop" and self._held is not None:
                self.paused = True
            else:
                out.append(event.raw)
        return b"".join(out)

    def _block_event(self, raw: bytes, name: str | None, parsed: JSON) -> bytes:
        index = parsed.get("index")
        if type(index) is not int:
            return raw
        kind = parsed["type"]
        if kind == "content_block_start":
            block = parsed.get("content_block")
            self._open[index] = dict(block) if type(block) is dict else {}
        elif kind == "content_block_delta":
            self._apply(index, parsed.get("delta"))
        elif index in self._open:
            self._close(index)
        if not self._offset:
            return raw
        return encode_event(orjson.dumps({**parsed, "index": index + self._offset}), name)

    def _apply(self, index: int, delta: object) -> None:
        block = self._open.get(index)
        if block is None or type(delta) is not dict:
            return
        kind = delta.get("type")
        if kind == "text_delta":
            block["text"] = str(block.get("text") or "") + str(delta.get("text") or "")
        elif kind == "thinking_delta":
            block["thinking"] = str(block.get("thinking") or "") + str(delta.get("thinking") or "")
        elif kind == "signature_delta":
            block["signature"] = delta.get("signature")
        elif kind == "citations_delta":
            block["citations"] = [*(block.get("citations") or ()), delta.get("citation")]
        elif kind == "input_json_delta":
            self._json.setdefault(index, []).append(str(delta.get("partial_json") or ""))

    def _close(self, index: int) -> None:
        block = self._open.pop(index)
        pieces = self._json.pop(index, None)
        if pieces and "".join(pieces).strip():
            try:
                block["input"] = orjson.loads("".join(pieces))
            except orjson.JSONDecodeError:
                pass  # sent back as it started: Claude says what is wrong with it
        self.content.append(block)

    def _with_all_usage(self, parsed: JSON, name: str | None) -> bytes:
        """The final `message_delta`, its usage that of every call of the turn."""
        usage = summed_usage(self._calls_usage, self._usage)
        return encode_event(orjson.dumps({**parsed, "usage": usage}), name)

    def next_call(self) -> None:
        """A continuation's stream comes next: its blocks follow those sent, its usage adds."""
        self._calls_usage = summed_usage(self._calls_usage, self._usage)
        self._usage = {}
        self._offset = len(self.content)
        self._open.clear()
        self._json.clear()
        self._held = None
        self.paused = False

    def end(self) -> bytes:
        """The held end of a paused call, when the turn ends paused (no continuation)."""
        held, self._held = self._held, None
        if held is None:
            return b""
        self.paused = False
        delta = self._with_all_usage(held, "message_delta")
        return delta + encode_event(b'{"type":"message_stop"}', "message_stop")
