"""The Responses API part of a stream guard (`GuardedConverter`): each text, reasoning and
argument delta through its window, and the events that repeat a whole text (`.done`,
`output_item.done`, `response.completed`) given what the client was actually sent."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.guardrails import stream_responses as responses
from gateway.guardrails.stream_windows import Key, StreamWindows
from gateway.sse import encode_event

_PART_DONE = ("response.content_part.done", "response.reasoning_summary_part.done")


class ResponsesWindows(StreamWindows):
    """StreamWindows reading Responses API events; the guard that inherits it makes `_sent`,
    `_last` and `response` and says how the windows' held text is flushed and the stream ended.
    """

    # The text (or arguments) sent so far per output item, and its last delta event (the model
    # of the events that release held text).
    _sent: dict[Key, str]
    _last: dict[Key, dict[str, Any]]
    # The final response object as the client was sent it (guarded).
    response: dict[str, Any] | None

    def _flush(self, index: int | None) -> list[bytes]:
        """The events of the text each window (of output `index`, or all) still holds."""
        raise NotImplementedError

    def _end(self, raw: bytes, out: list[bytes]) -> None:
        """`raw`, an event that ends the answer, sent (or kept back for a verdict)."""
        raise NotImplementedError

    def _responses(self, data: bytes, raw: bytes, out: list[bytes]) -> None:
        """Text, reasoning and argument deltas go through a window each; the events that repeat
        a whole text (`.done`, `response.completed`) get what the client was actually sent."""
        parsed = orjson.loads(data)
        kind = parsed.get("type")
        index = parsed.get("output_index", 0)
        if responses.is_delta(parsed):
            key = responses.key_of(parsed)
            self._last[key] = parsed
            released = self._push(key, parsed["delta"])
            if released:
                out.append(self._responses_delta(key, parsed, released))
            return
        # Citations (an annotation added, or repeated by a part, an item, the response) are
        # scanned whole wherever they appear: the same text gets the same rewrite each time.
        cited = self.whole(responses.citations(parsed))
        if kind in responses.DONE or kind in _PART_DONE or kind == "response.output_item.done":
            # The item's text still held goes out first; what a `.done` repeats is then what
            # was sent (or, never streamed, its own text scanned now).
            out.extend(self._flush(index))
        if kind in responses.DONE:
            field = responses.DONE[kind]
            parsed[field] = self._settled(responses.key_of(parsed), parsed.get(field))
        elif kind in _PART_DONE:
            part = parsed.get("part")
            name = responses.part_field(part)
            if name is not None:
                part[name] = self._settled(responses.key_of(parsed), part[name])
        elif kind == "response.output_item.done":
            self._settle_item(parsed.get("item"), index)
        elif kind == "response.output_item.added" or kind in responses.PART_ADDED:
            if not self._responses_open(parsed, index) and not cited:
                out.append(raw)
                return
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            out.extend(self._flush(None))
            response = parsed.get("response") or {}
            for position, item in enumerate(response.get("output") or ()):
                self._settle_item(item, position)
            if isinstance(response, dict):
                self.response = response
            self._end(encode_event(orjson.dumps(parsed), kind), out)
            return
        elif not cited:
            out.append(raw)
            return
        out.append(encode_event(orjson.dumps(parsed), kind))

    def _responses_open(self, event: dict[str, Any], index: int) -> bool:
        """The texts an event opening an item or a part carries (real providers send them
        empty, then deltas): the start of each window's text. The event keeps what the window
        released, the rest goes out in a delta like the ones the upstream streams for it (also
        what a window holds when no delta comes). True when a text changed."""
        if event.get("type") == "response.output_item.added":
            texts = responses.item_texts(event.get("item"), index)
        else:
            part, texts = event.get("part"), []
            name = responses.part_field(part)
            if isinstance(part, dict) and name is not None:
                texts.append((responses.key_of(event), part, name, responses.part_delta(event)))
        changed = False
        for key, container, field, like in texts:
            self._last.setdefault(key, like)
            if container[field]:
                released = self._push(key, container[field])
                self._sent[key] = self._sent.get(key, "") + released
                changed = changed or released != container[field]
                container[field] = released
        return changed

    def _settled(self, key: Key, text: object) -> str:
        """What the client gets for `key`: the text its deltas were sent, or, when none were
        streamed, the event's own `text` scanned through the key's window then."""
        if key not in self._sent:
            whole = text if isinstance(text, str) else ""
            self._sent[key] = self._push(key, whole) + self._flush_one(key)
        return self._sent[key]

    def _settle_item(self, item: object, index: int) -> None:
        """An item's texts (in `output_item.done`, `response.completed`) -> what was sent."""
        for key, container, field, _ in responses.item_texts(item, index):
            container[field] = self._settled(key, container[field])

    def _responses_delta(self, key: Key, like: dict[str, Any], text: str) -> bytes:
        """A delta event like `like` (the window's last one) carrying `text`."""
        self._sent[key] = self._sent.get(key, "") + text
        event = responses.delta_like(like, text)
        return encode_event(orjson.dumps(event), event["type"])
