"""Guardrails on a streamed answer: a sliding window per choice (OpenAI) or content block
(Anthropic).

Each text delta goes into its window; the window scans what it holds and releases everything
except the tail that could still grow into a finding (`GuardrailSet.hold`: a partial email, a
phone number still being written, a placeholder cut in half). Findings are acted on as text is
released, so an entity split across chunks is caught and the client still gets text as soon as
it is safe. A `block` raises ContentBlocked, which the responder turns into a well-formed last
error event. `GuardedConverter` wraps the adapter's StreamConverter and rewrites its output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from gateway.errors import ContentBlocked
from gateway.guardrails.base import Finding, Placeholders
from gateway.guardrails.compiled import Decision, Guard, GuardrailSet, decide
from gateway.providers import StreamConverter, Usage
from gateway.sse import SSEDecoder, encode_event

# Released text kept as left context for the next scan (context words, word boundaries).
CONTEXT_CHARS = 48

Recorder = Callable[[Decision], None]


class TextWindow:
    """One growing text: push deltas, get back what may be released (rewritten as needed)."""

    def __init__(
        self, guards: GuardrailSet, placeholders: Placeholders | None, record: Recorder
    ) -> None:
        self._guards = guards
        self._placeholders = placeholders
        self._restoring = placeholders is not None and bool(placeholders.by_placeholder)
        self._record = record
        self.buffer = ""
        self._context = ""

    def push(self, text: str) -> str:
        self.buffer += text
        return self._release(final=False)

    def flush(self) -> str:
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        buffer = self.buffer
        if not buffer:
            return ""
        cut = len(buffer) if final else len(buffer) - self._guards.hold(buffer, self._restoring)
        if cut <= 0:
            return ""
        base = len(self._context)
        scanned = self._context + buffer
        results: list[tuple[Guard, list[Finding]]] = []
        for guard in self._guards.output:
            if guard.detector is None:
                continue
            findings = [f for f in guard.check(scanned) if f.end > base or f.end == f.start]
            results.append((guard, findings))
            for f in findings:
                # Never release half of a finding: stop before it and wait for the rest.
                if base <= f.start < base + cut < f.end:
                    cut = f.start - base
        if cut <= 0 and not final:
            # Blocks do not wait for the entity to be complete.
            self._act(scanned[:base], results, only_blocks=True)
            return ""
        limit = base + cut
        inside = [
            (g, [_clip(f, base) for f in fs if f.end <= limit or f.end == f.start])
            for g, fs in results
        ]
        released = self._act(scanned[:limit], inside, only_blocks=False)[base:]
        self._context = (self._context + buffer[:cut])[-CONTEXT_CHARS:]
        self.buffer = buffer[cut:]
        if self._restoring and self._placeholders is not None:
            released = self._placeholders.restore(released)
        return released

    def _act(self, text: str, results: list[tuple[Guard, list[Finding]]], only_blocks: bool) -> str:
        if only_blocks:
            results = [(g, fs) for g, fs in results if g.action == "block" and fs]
        decision = decide(text, results, self._placeholders)
        if decision.hits:
            self._record(decision)
        if decision.blocked is not None:
            raise ContentBlocked(
                f"the answer was stopped by the guardrail '{decision.blocked.name}'"
            )
        return decision.text


def _clip(finding: Finding, base: int) -> Finding:
    if finding.start >= base or finding.end == finding.start:
        return finding
    return Finding(finding.entity, base, finding.end, finding.score)


class GuardedConverter:
    """A StreamConverter around the adapter's: same events, text released through windows."""

    def __init__(
        self,
        inner: StreamConverter,
        wire: str,
        guards: GuardrailSet,
        placeholders: Placeholders | None,
        record: Recorder,
        defer_end: bool = False,
    ) -> None:
        self._inner = inner
        self._wire = wire
        self._guards, self._placeholders, self._record = guards, placeholders, record
        self._windows: dict[int, TextWindow] = {}
        self._decoder = SSEDecoder()
        self._template: dict[str, Any] | None = None
        # Ending events kept back until `finish`: a remote check of the whole answer may still
        # block it.
        self._defer_end = defer_end
        self._deferred: list[bytes] = []
        self.released: list[str] = []
        # Responses API: the text sent so far per output item.
        self._sent: dict[int, str] = {}

    @property
    def inner(self) -> StreamConverter:
        """The adapter's converter this one wraps."""
        return self._inner

    @property
    def usage(self) -> Usage | None:
        return self._inner.usage

    @usage.setter
    def usage(self, value: Usage | None) -> None:
        self._inner.usage = value

    @property
    def text(self) -> list[str]:
        # What the client was sent (redacted / masked), for the record.
        return self.released

    @text.setter
    def text(self, value: list[str]) -> None:
        self.released = value

    def rewrite(self, produced: list[bytes]) -> list[bytes]:
        """Client-format bytes (from the inner converter) -> the guarded bytes to send."""
        if not produced:
            return []
        out: list[bytes] = []
        for event in self._decoder.feed(b"".join(produced)):
            if self._wire == "anthropic":
                self._anthropic(event.event, event.data, event.raw, out)
            elif self._wire == "responses":
                self._responses(event.data, event.raw, out)
            else:
                self._openai(event.data, event.raw, out)
        return out

    def feed(self, chunk: bytes) -> list[bytes]:
        return self.rewrite(self._inner.feed(chunk))

    def finish(self) -> list[bytes]:
        out = self.rewrite(self._inner.finish())
        out.extend(self._flush_all())
        out.extend(self._deferred)
        self._deferred = []
        return out

    def full_text(self) -> str:
        return "".join(self.released)

    # -- OpenAI chat chunks -----------------------------------------------------------------

    def _window(self, index: int) -> TextWindow:
        window = self._windows.get(index)
        if window is None:
            window = self._windows[index] = TextWindow(
                self._guards, self._placeholders, self._record
            )
        return window

    def _openai(self, data: bytes, raw: bytes, out: list[bytes]) -> None:
        if data == b"[DONE]":
            out.extend(self._flush_all())
            self._end(raw, out)
            return
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            out.append(raw)
            return
        choices = parsed.get("choices") if isinstance(parsed, dict) else None
        if not isinstance(choices, list) or not choices:
            out.extend(self._flush_all())
            out.append(raw)
            return
        changed = False
        keep = False
        for choice in choices:
            if not isinstance(choice, dict):
                keep = True
                continue
            index = choice.get("index", 0)
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, dict) else None
            if isinstance(content, str):
                self._template = parsed
                extra = {k for k, v in delta.items() if k != "content" and v is not None}  # type: ignore[union-attr]
                ends = choice.get("finish_reason") is not None or "tool_calls" in extra
                released = self._window(index).push(content)
                if ends:
                    released += self._window(index).flush()
                if released != content:
                    delta["content"] = released  # type: ignore[index]
                    changed = True
                self._note(released)
                keep = keep or bool(released) or ends or bool(extra)
            else:
                pending = self._window(index).flush() if index in self._windows else ""
                if pending:
                    out.append(self._openai_text(index, pending))
                keep = True
        if not keep:
            return
        out.append(encode_event(orjson.dumps(parsed)) if changed else raw)

    def _openai_text(self, index: int, text: str) -> bytes:
        self._note(text)
        template = self._template or {}
        event = {k: v for k, v in template.items() if k not in ("choices", "usage")}
        event["choices"] = [{"index": index, "delta": {"content": text}, "finish_reason": None}]
        return encode_event(orjson.dumps(event))

    # -- Anthropic message events -----------------------------------------------------------

    def _anthropic(self, name: str | None, data: bytes, raw: bytes, out: list[bytes]) -> None:
        if name == "content_block_delta":
            parsed = orjson.loads(data)
            delta = parsed.get("delta") or {}
            if delta.get("type") == "text_delta" and isinstance(delta.get("text"), str):
                released = self._window(parsed.get("index", 0)).push(delta["text"])
                self._note(released)
                if released:
                    delta["text"] = released
                    out.append(encode_event(orjson.dumps(parsed), name))
                return
        elif name == "content_block_stop":
            index = orjson.loads(data).get("index", 0)
            if index in self._windows:
                pending = self._windows[index].flush()
                if pending:
                    out.append(self._anthropic_text(index, pending))
        elif name in ("message_delta", "message_stop"):
            out.extend(self._flush_all())
            if name == "message_stop":
                self._end(raw, out)
                return
        out.append(raw)

    def _anthropic_text(self, index: int, text: str) -> bytes:
        self._note(text)
        event = {
            "type": "content_block_delta",
            "index": index,
            "delta": {"type": "text_delta", "text": text},
        }
        return encode_event(orjson.dumps(event), "content_block_delta")

    # -- Responses API events ---------------------------------------------------------------

    def _responses(self, data: bytes, raw: bytes, out: list[bytes]) -> None:
        """Text deltas go through a window per output item; the events that repeat the whole
        text (`.done`, `response.completed`) get the text the client was actually sent."""
        parsed = orjson.loads(data)
        kind = parsed.get("type")
        index = parsed.get("output_index", 0)
        if kind == "response.output_text.delta" and isinstance(parsed.get("delta"), str):
            self._template = parsed
            released = self._window(index).push(parsed["delta"])
            if released:
                parsed["delta"] = released
                out.append(self._responses_delta(parsed, released))
            return
        if kind == "response.output_text.done":
            pending = self._window(index).flush()
            if pending:
                out.append(self._responses_delta({**parsed, "type": "x"}, pending))
            parsed["text"] = self._sent.get(index, "")
        elif kind == "response.content_part.done":
            _set_text(parsed.get("part"), self._sent.get(index, ""))
        elif kind == "response.output_item.done":
            _set_item_text(parsed.get("item"), self._sent.get(index))
        elif kind in ("response.completed", "response.incomplete", "response.failed"):
            out.extend(self._flush_all())
            response = parsed.get("response") or {}
            for position, item in enumerate(response.get("output") or ()):
                _set_item_text(item, self._sent.get(position))
            self._end(encode_event(orjson.dumps(parsed), kind), out)
            return
        else:
            out.append(raw)
            return
        out.append(encode_event(orjson.dumps(parsed), kind))

    def _responses_delta(self, like: dict[str, Any], text: str) -> bytes:
        index = like.get("output_index", 0)
        self._note(text)
        self._sent[index] = self._sent.get(index, "") + text
        event = {
            "type": "response.output_text.delta",
            "item_id": like.get("item_id"),
            "output_index": index,
            "content_index": like.get("content_index", 0),
            "delta": text,
        }
        if "sequence_number" in like:
            event["sequence_number"] = like["sequence_number"]
        return encode_event(orjson.dumps(event), "response.output_text.delta")

    # -- both -------------------------------------------------------------------------------

    def _flush_all(self) -> list[bytes]:
        out: list[bytes] = []
        for index, window in self._windows.items():
            pending = window.flush()
            if not pending:
                continue
            if self._wire == "anthropic":
                out.append(self._anthropic_text(index, pending))
            elif self._wire == "responses":
                out.append(self._responses_delta({"output_index": index}, pending))
            else:
                out.append(self._openai_text(index, pending))
        return out

    def _end(self, raw: bytes, out: list[bytes]) -> None:
        if self._defer_end:
            self._deferred.append(raw)
        else:
            out.append(raw)

    def _note(self, text: str) -> None:
        if text:
            self.released.append(text)


def _set_text(part: Any, text: str) -> None:
    if isinstance(part, dict) and isinstance(part.get("text"), str):
        part["text"] = text


def _set_item_text(item: Any, text: str | None) -> None:
    """A Responses `message` item's text part -> `text` (None: the item had no text)."""
    if text is None or not isinstance(item, dict) or item.get("type") != "message":
        return
    for part in item.get("content") or ():
        _set_text(part, text)
