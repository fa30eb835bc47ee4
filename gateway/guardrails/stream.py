"""Guardrails on a streamed answer: a sliding window per choice (OpenAI), content block
(Anthropic) or output item (Responses API), and one per streamed tool call's arguments.

Each text delta goes into its window; the window scans what it holds and releases everything
except the tail that could still grow into a finding (`GuardrailSet.hold`: a partial email, a
phone number still being written, a placeholder cut in half). Findings are acted on as text is
released, so an entity split across chunks is caught and the client still gets text as soon as
it is safe. A `block` raises ContentBlocked, which the responder turns into a well-formed last
error event. `GuardedConverter` wraps the adapter's StreamConverter and rewrites its output.
Tool-call arguments (OpenAI `tool_calls[].function.arguments`, Anthropic `input_json_delta`,
Responses `function_call_arguments.delta`) go through windows of their own: scanned like text,
and `restore` placeholders put back (JSON-escaped) even when cut across events.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import GatewayError
from gateway.guardrails import stream_events as events
from gateway.guardrails.base import Placeholders
from gateway.guardrails.bodies import citation_slots, detail_slots, string_slots
from gateway.guardrails.compiled import GuardrailSet
from gateway.guardrails.stream_responses_windows import ResponsesWindows
from gateway.guardrails.stream_windows import TEXT, Key
from gateway.guardrails.window import Recorder
from gateway.providers import StreamConverter
from gateway.providers.base import WrappingConverter
from gateway.sse import SSEDecoder, encode_event

# OpenAI chat deltas: the text fields of a choice, each with a window of its own (reasoning
# first: it comes before the answer; a refusal stands for the answer).
_OPENAI_TEXTS = {"reasoning_content": -2, "reasoning": -3, "refusal": -4, "content": TEXT}
_OPENAI_FIELD = {number: name for name, number in _OPENAI_TEXTS.items()}
# The arguments of a legacy `function_call` (a key above any tool call's index).
LEGACY_CALL = 1 << 30


class GuardedConverter(ResponsesWindows, WrappingConverter):
    """A StreamConverter around the adapter's: same events, text released through windows."""

    def __init__(
        self,
        inner: StreamConverter,
        wire: str,
        guards: GuardrailSet,
        placeholders: Placeholders | None,
        record: Recorder,
        judge_at_end: bool = False,
    ) -> None:
        # A remote check judges the whole answer when it ends: the ending events are kept back
        # until `finish` (it may still block it), and the windows keep what they released.
        super().__init__(guards, placeholders, record, keep=judge_at_end)
        self._inner = inner
        self._wire = wire
        self._decoder = SSEDecoder()
        self._template: dict[str, Any] | None = None
        self._judge_at_end = judge_at_end
        self._deferred: list[bytes] = []
        # Responses API: the text (or arguments) sent so far per output item, and its last
        # delta event (the model of the events that release held text).
        self._sent: dict[Key, str] = {}
        self._last: dict[Key, dict[str, Any]] = {}
        # Responses API: the final response object as the client was sent it (guarded).
        self.response: dict[str, Any] | None = None

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
        try:
            return self.rewrite(self._inner.feed(chunk))
        except GatewayError as exc:
            # What the inner converter made before its failure goes through the windows as
            # any output does (held text stays held); a block found in it wins.
            if exc.pending:
                exc.pending = self.rewrite(list(exc.pending))
            raise

    def finish(self) -> list[bytes]:
        out = self.rewrite(self._inner.finish())
        out.extend(self._flush(None))
        out.extend(self._deferred)
        self._deferred = []
        return out

    # -- OpenAI chat chunks -----------------------------------------------------------------

    def _openai_chunk(
        self, data: bytes, raw: bytes, out: list[bytes]
    ) -> tuple[dict[str, Any], list[Any]] | None:
        """An OpenAI chunk (chat or legacy completion) and its choices, when it has any text
        to read; else what it is done with here (None): `[DONE]` ends every window, a chunk
        that is no JSON passes, and one without choices (the usage of `include_usage`,
        Azure's filter results) ends no text: what the windows hold waits for the text that
        may complete it (after a finish kept back for a verdict, `split_finish`, behind it)."""
        if data == b"[DONE]":
            out.extend(self._flush(None))
            self._end(raw, out)
            return None
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            out.append(raw)
            return None
        choices = parsed.get("choices") if isinstance(parsed, dict) else None
        if not isinstance(choices, list) or not choices:
            (self._deferred if self._deferred else out).append(raw)
            return None
        return parsed, choices

    def _openai(self, data: bytes, raw: bytes, out: list[bytes]) -> None:
        read = self._openai_chunk(data, raw, out)
        if read is None:
            return
        parsed, choices = read
        changed = False
        keep = False
        for choice in choices:
            if not isinstance(choice, dict):
                keep = True
                continue
            index = choice.get("index", 0)
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                delta = {}
            ends = choice.get("finish_reason") is not None
            changed = self._openai_calls(index, delta, ends) or changed
            if delta.get("annotations"):  # url citations (web search), scanned whole
                changed = self.whole(citation_slots(delta["annotations"])) or changed
            if delta.get("reasoning_details"):  # a carried thinking block, whole
                changed = self.whole(detail_slots(delta["reasoning_details"])) or changed
            texts = [name for name in _OPENAI_TEXTS if isinstance(delta.get(name), str)]
            for name, number in _OPENAI_TEXTS.items():
                # A text field this delta does not carry has ended (reasoning before content,
                # content before tool calls): what its window holds goes first.
                if name not in texts:
                    held = self._flush_one((index, number))
                    if held:
                        out.append(self._openai_event(index, {name: held}))
            if not texts:
                keep = True
            extra = {k for k, v in delta.items() if k not in _OPENAI_TEXTS and v is not None}
            for name in texts:
                self._template = parsed
                value = delta[name]
                released = self._push((index, _OPENAI_TEXTS[name]), value)
                if ends or "tool_calls" in extra or "function_call" in extra:
                    released += self._flush_one((index, _OPENAI_TEXTS[name]))
                if released != value:
                    delta[name] = released
                    changed = True
                keep = keep or bool(released) or ends or bool(extra)
            if ends:  # what the other tool calls of the choice still hold goes first
                out.extend(self._flush(index))
        if not keep:
            return
        if self._judge_at_end and any(
            isinstance(c, dict) and c.get("finish_reason") is not None for c in choices
        ):
            # A client may stop reading at a finish reason: it waits with the end for the verdict.
            chunk, finish = events.split_finish(parsed)
            if chunk is not None:
                out.append(chunk)
            self._deferred.append(finish)
            return
        out.append(encode_event(orjson.dumps(parsed)) if changed else raw)

    def _openai_calls(self, index: int, delta: dict[str, Any], final: bool) -> bool:
        """Each streamed tool call's arguments through its window (all of it when the choice
        ends here); True when any changed."""
        calls = delta.get("tool_calls")
        functions = [
            (call.get("index", 0), call.get("function"))
            for call in (calls if isinstance(calls, list) else ())
            if isinstance(call, dict)
        ]
        # The legacy `functions` API streams one `function_call` per choice.
        functions.append((LEGACY_CALL, delta.get("function_call")))
        changed = False
        for number, function in functions:
            arguments = function.get("arguments") if isinstance(function, dict) else None
            if isinstance(arguments, str):
                assert isinstance(function, dict)
                key = (index, number)
                released = self._push(key, arguments)
                if final:
                    released += self._flush_one(key)
                if released != arguments:
                    function["arguments"] = released
                    changed = True
        return changed

    def _openai_event(self, index: int, delta: dict[str, Any]) -> bytes:
        template = self._template or {}
        event = {k: v for k, v in template.items() if k not in ("choices", "usage")}
        event["choices"] = [{"index": index, "delta": delta, "finish_reason": None}]
        return encode_event(orjson.dumps(event))

    # -- Anthropic message events -----------------------------------------------------------

    def _anthropic(self, name: str | None, data: bytes, raw: bytes, out: list[bytes]) -> None:
        if name == "content_block_delta":
            parsed = orjson.loads(data)
            delta = parsed.get("delta") or {}
            field = _ANTHROPIC_FIELDS.get(str(delta.get("type")))
            if field is not None and isinstance(delta.get(field), str):
                key = (parsed.get("index", 0), _ANTHROPIC_KEYS[field])
                released = self._push(key, delta[field])
                if released:
                    delta[field] = released
                    out.append(encode_event(orjson.dumps(parsed), name))
                return
            if delta.get("type") == "signature_delta":  # a thinking block's text ends here
                out.extend(self._flush(parsed.get("index", 0)))
            elif self.whole(citation_slots(delta.get("citation"))):  # a `citations_delta`
                out.append(encode_event(orjson.dumps(parsed), name))
                return
        elif name == "content_block_start":
            parsed = orjson.loads(data)
            if self._anthropic_open(parsed):
                out.append(encode_event(orjson.dumps(parsed), name))
                return
        elif name == "content_block_stop":
            index = orjson.loads(data).get("index", 0)
            out.extend(self._flush(index))
        elif name in ("message_delta", "message_stop"):
            # The stop reason waits with the end for a verdict too (a client may stop there).
            out.extend(self._flush(None))
            self._end(raw, out)
            return
        out.append(raw)

    def _anthropic_open(self, event: dict[str, Any]) -> bool:
        """What a `content_block_start` carries (real providers send it empty, then deltas): a
        text or thinking block's text is the start of its window's text (the block keeps what
        the window released, deltas carry the rest); each string of a tool call's `input` (which
        its `input_json_delta`s replace, never extend), a text block's citations and a search
        result's title and URL are scanned whole. True when one changed."""
        block = event.get("content_block")
        if not isinstance(block, dict):
            return False
        index = event.get("index", 0)
        field = {"text": "text", "thinking": "thinking"}.get(str(block.get("type")))
        text = block.get(field) if field is not None else None
        changed = False
        if field is not None and isinstance(text, str) and text:
            block[field] = self._push((index, _ANTHROPIC_KEYS[field]), text)
            changed = block[field] != text
        # Citations (a text block's), search results (a `web_search_tool_result` block's).
        results = block.get("content") if block.get("type") == "web_search_tool_result" else None
        cited = citation_slots([block.get("citations"), results])
        return self.whole(string_slots(block.get("input"))) | self.whole(cited) | changed

    # -- all wires --------------------------------------------------------------------------

    def _flush(self, index: int | None) -> list[bytes]:
        """The events of the text each window (of output `index`, or all) still holds."""
        out: list[bytes] = []
        for key in [k for k in self._windows if index is None or k[0] == index]:
            pending = self._flush_one(key)
            if not pending:
                continue
            if self._wire == "anthropic":
                out.append(events.anthropic_delta(key, pending))
            elif self._wire == "responses":
                like = self._last.get(key, {"output_index": key[0]})
                out.append(self._responses_delta(key, like, pending))
            elif key[1] in _OPENAI_FIELD:
                out.append(self._openai_event(key[0], {_OPENAI_FIELD[key[1]]: pending}))
            elif key[1] == LEGACY_CALL:
                out.append(self._openai_event(key[0], {"function_call": {"arguments": pending}}))
            else:
                call = {"index": key[1], "function": {"arguments": pending}}
                out.append(self._openai_event(key[0], {"tool_calls": [call]}))
        return out

    def _end(self, raw: bytes, out: list[bytes]) -> None:
        if self._judge_at_end:
            self._deferred.append(raw)
        else:
            out.append(raw)


_ANTHROPIC_FIELDS = {
    "text_delta": "text",
    "thinking_delta": "thinking",
    "input_json_delta": "partial_json",
}
_ANTHROPIC_KEYS = {"text": TEXT, "thinking": events.THINKING, "partial_json": 0}
