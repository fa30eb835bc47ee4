"""Guardrails on a streamed legacy completion (`POST /v1/completions`): each choice's
`choices[].text` through a window of its own, as a chat choice's `delta.content`.

A legacy completion streams `text_completion` chunks (`{"choices": [{"text", "index",
"logprobs", "finish_reason"}]}`; several prompts or `n` > 1 give several indexes, interleaved),
the usage chunk of `stream_options.include_usage` (`choices: []`), then `[DONE]`. With `echo`
the first chunk's text repeats the prompt: the client is sent it like the rest, so it is scanned
like the rest. A choice's finish reason flushes its window, `[DONE]` flushes them all; a chunk
without choices ends no text (as on chat streams), so what a window holds waits for the text
that may complete it and goes out after it.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.guardrails import stream_events as events
from gateway.guardrails.stream import GuardedConverter
from gateway.guardrails.stream_windows import TEXT
from gateway.sse import encode_event

# What a choice's finish chunk carries in place of its text when the finish waits for a
# verdict (its logprobs, if any, stay with the text they describe).
_EMPTY: dict[str, Any] = {"text": "", "logprobs": None}
# The fields of a choice that say nothing beyond its text (any other, set, keeps the chunk).
_PLAIN = frozenset({"text", "index", "finish_reason"})


class GuardedCompletion(GuardedConverter):
    """`GuardedConverter` over `text_completion` chunks: the same windows, recording, verdict
    and ending as a chat stream, reading `choices[].text`."""

    def _openai(self, data: bytes, raw: bytes, out: list[bytes]) -> None:
        read = self._openai_chunk(data, raw, out)
        if read is None:
            return
        parsed, choices = read
        changed = False
        keep = parsed.get("usage") is not None
        for choice in choices:
            if not isinstance(choice, dict) or not isinstance(choice.get("text"), str):
                keep = True
                continue
            key = (choice.get("index", 0), TEXT)
            ends = choice.get("finish_reason") is not None
            text = choice["text"]
            self._template = parsed
            released = self._push(key, text)
            if ends:
                released += self._flush_one(key)
            if released != text:
                choice["text"] = released
                changed = True
            extra = any(value is not None for k, value in choice.items() if k not in _PLAIN)
            keep = keep or bool(released) or ends or extra
        if not keep:
            return
        if self._judge_at_end and any(
            isinstance(c, dict) and c.get("finish_reason") is not None for c in choices
        ):
            # A client may stop reading at a finish reason: it waits with the end for the verdict.
            chunk, finish = events.split_finish(parsed, _EMPTY)
            if chunk is not None:
                out.append(chunk)
            self._deferred.append(finish)
            return
        out.append(encode_event(orjson.dumps(parsed)) if changed else raw)

    def _flush(self, index: int | None) -> list[bytes]:
        """A chunk for the text each window (of choice `index`, or all) still holds."""
        out: list[bytes] = []
        for key in [k for k in self._windows if index is None or k[0] == index]:
            held = self._flush_one(key)
            if held:
                out.append(self._text_chunk(key[0], held))
        return out

    def _text_chunk(self, index: int, text: str) -> bytes:
        template = self._template or {}
        chunk = {k: v for k, v in template.items() if k not in ("choices", "usage")}
        choice = {"text": text, "index": index, "logprobs": None, "finish_reason": None}
        chunk["choices"] = [choice]
        return encode_event(orjson.dumps(chunk))
