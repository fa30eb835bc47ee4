"""The relay of OpenAI-format streams (chat and legacy completions chunks), forwarded byte for
byte as they arrive, checked and read (usage, text, all the model wrote) on the way."""

from __future__ import annotations

from typing import Any

import orjson

from gateway.errors import GatewayError, UpstreamFailed
from gateway.providers.base import Usage, malformed, stream_cut_short
from gateway.providers.openai_usage import usage_from_openai
from gateway.providers.service_tiers import with_tier
from gateway.providers.upstream_errors import error_of_event, stream_error_from_upstream
from gateway.sse import EventBuffer, parse_event

_DONE = b"[DONE]"


def _malformed_event() -> UpstreamFailed:
    return UpstreamFailed("upstream sent a malformed stream event", code="upstream_malformed")


def _events_before(failed: bytes, lines: list[bytes], dropped: list[bytes]) -> list[bytes]:
    """The events of a chunk before the one that failed (the first with its bytes: an event's
    fate depends on its bytes alone), as sent: the client is sent them before the error."""
    return [
        b"data: " + data + b"\n\n" for data in lines[: lines.index(failed)] if data not in dropped
    ]


class OpenAIStreamPassthrough:
    """Forwards OpenAI chunks unchanged, validating each and reading usage on the way.

    The gateway always asks the upstream for the usage chunk; when the client did not ask for
    it, that chunk (the one with `"choices": []`) is dropped so the client sees what it asked for.
    The answer's text is only needed now and then (no usage from upstream, bodies in the log,
    remote output guardrails), so it is read from the kept events when asked for, not per event.
    """

    def __init__(self, client_wants_usage: bool) -> None:
        self._buffer = EventBuffer()  # bytes after the last complete event
        self._client_wants_usage = client_wants_usage
        self._events: list[bytes] = []  # the data of every forwarded chunk, for `text`
        self.usage: Usage | None = None
        # `[DONE]` came (a chunk with a finish_reason is the other proper end: `finish`).
        self.ended = False

    @property
    def text(self) -> list[str]:
        """The content deltas so far, in order."""
        parts: list[str] = []
        for data in self._events:
            parsed = orjson.loads(data)
            choices = parsed.get("choices")
            if choices and type(choices[0]) is dict:
                delta = choices[0].get("delta")
                if type(delta) is dict and type(delta.get("content")) is str:
                    parts.append(delta["content"])
        return parts

    def written_text(self) -> str:
        """Everything the model wrote so far, in every choice: text, refusals, reasoning and
        tool-call arguments (what the upstream bills as output), for estimating the completion
        tokens of a stream whose upstream reported none; read only then."""
        parts: list[str] = []
        for data in self._events:
            for choice in orjson.loads(data).get("choices") or ():
                delta = choice.get("delta") if type(choice) is dict else None
                if type(delta) is dict:
                    parts += _written(delta)
        return "".join(parts)

    @property
    def finish_reason(self) -> str | None:
        """The first choice's `finish_reason`, once a chunk carried one (read when asked)."""
        for data in reversed(self._events):
            choices = orjson.loads(data).get("choices")
            if choices and type(choices[0]) is dict and choices[0].get("finish_reason"):
                return str(choices[0]["finish_reason"])
        return None

    def feed(self, chunk: bytes) -> list[bytes]:
        if not self._buffer.idle or b"\r" in chunk or not chunk.endswith(b"\n\n"):
            chunk = self._buffer.take(chunk)  # nearly never: a chunk is whole events
        # Nearly always every event is one `data: ` line: then the lines are what lies between
        # the marks, and the chunk has no newline but the two ending each event.
        lines = chunk[6:-2].split(b"\n\ndata: ")
        if not chunk.startswith(b"data: ") or chunk.count(b"\n") != 2 * len(lines):
            return self._relay_any(chunk) if chunk else []
        dropped: list[bytes] = []
        for data in lines:
            # One `try` per event, the one the JSON read needs: the checks run inside it, so
            # that a failure hands back the events before it (`_events_before`) at no cost.
            try:
                parsed = orjson.loads(data)
                choices = parsed.get("choices")
                # A plain content chunk (nearly every one) needs no more checks than these.
                if (
                    type(choices) is list
                    and choices
                    and type(choices[0]) is dict
                    and "error" not in parsed
                    and parsed.get("usage") is None
                ) or not self._check(parsed):
                    self._events.append(data)
                else:
                    dropped.append(data)
            except (orjson.JSONDecodeError, AttributeError):  # not JSON, or not an object
                if data == _DONE:
                    self.ended = True
                    continue
                error = _malformed_event()
                error.pending = _events_before(data, lines, dropped)
                raise error from None
            except GatewayError as exc:
                exc.pending = _events_before(data, lines, dropped)
                raise
        if not dropped:
            return [chunk]  # the bytes exactly as received
        # Whether an event is dropped depends on its bytes alone: equal bytes, same fate.
        return [b"data: " + data + b"\n\n" for data in lines if data not in dropped]

    def _relay_any(self, complete: bytes) -> list[bytes]:
        """Whole events of any shape: comments, events of several lines or other fields."""
        parts = complete.split(b"\n\n")
        parts.pop()  # the empty remainder after the last blank line
        dropped: set[int] = set()
        try:
            for index, part in enumerate(parts):
                if part.startswith(b"data: ") and b"\n" not in part:
                    data = part[6:]
                else:
                    event = parse_event(part + b"\n\n")
                    if event is None or not event.data:
                        continue  # a comment or an event without data: forwarded as it is
                    if event.event == "error":  # llama.cpp's `error:` line, `event: error`
                        raise stream_error_from_upstream(
                            error_of_event(event.data), anthropic=False
                        )
                    data = event.data
                if data == _DONE:
                    self.ended = True
                    continue
                try:
                    parsed = orjson.loads(data)
                except orjson.JSONDecodeError:
                    raise _malformed_event() from None
                if type(parsed) is not dict:
                    raise _malformed_event()
                if self._check(parsed):
                    dropped.add(index)
                    continue
                self._events.append(data)
            if not dropped:
                return [complete]  # the bytes exactly as received
            return [part + b"\n\n" for index, part in enumerate(parts) if index not in dropped]
        except GatewayError as exc:  # the events before `part` are the client's all the same
            exc.pending = [p + b"\n\n" for i, p in enumerate(parts[:index]) if i not in dropped]
            raise

    def _check(self, parsed: dict[str, Any]) -> bool:
        """Every check of one event: an upstream error, the choices' shape, the usage (read
        into `usage`). Whether to drop the event: the usage chunk the client did not ask for."""
        if parsed.get("error"):
            raise stream_error_from_upstream(parsed["error"], anthropic=False)
        choices = parsed.get("choices")
        if choices:
            if type(choices) is not list or type(choices[0]) is not dict:
                raise malformed("a stream chunk's choices are not a list of objects")
        elif choices is not None and choices != []:
            raise malformed("a stream chunk's choices are not a list")
        if parsed.get("usage") is not None:
            usage = usage_from_openai(parsed["usage"])
            if usage is not None:
                self.usage = with_tier(usage, parsed)  # (every chunk names the tier)
                return not choices and not self._client_wants_usage
        return False

    def finish(self) -> list[bytes]:
        if not self.ended and not self._finish_reason_sent():
            raise stream_cut_short("[DONE] or a finish_reason")
        return []

    def _finish_reason_sent(self) -> bool:
        """Whether a forwarded chunk had a choice with a finish_reason: looked for once, at the
        end (the last chunks nearly always), not in every chunk as it passes."""
        for data in reversed(self._events):
            choices = orjson.loads(data).get("choices")
            if choices and any(type(c) is dict and c.get("finish_reason") for c in choices):
                return True
        return False


# The delta fields that hold text the model wrote (DeepSeek's and vLLM's reasoning included).
_WRITTEN_FIELDS = ("content", "refusal", "reasoning_content", "reasoning")


def _written(delta: dict[str, Any]) -> list[str]:
    """The text one chat delta adds: its written fields and its tool calls' arguments."""
    parts = [delta[name] for name in _WRITTEN_FIELDS if type(delta.get(name)) is str]
    calls = delta.get("tool_calls")
    functions = [c.get("function") for c in calls if type(c) is dict] if type(calls) is list else []
    functions.append(delta.get("function_call"))  # the deprecated single call
    for function in functions:
        if type(function) is dict and type(function.get("arguments")) is str:
            parts.append(function["arguments"])
    return parts


class OpenAICompletionStreamPassthrough(OpenAIStreamPassthrough):
    """The same relay for legacy `text_completion` chunks, whose text is `choices[].text`."""

    @property
    def text(self) -> list[str]:
        parts: list[str] = []
        for data in self._events:
            choices = orjson.loads(data).get("choices")
            if choices and type(choices[0]) is dict and type(choices[0].get("text")) is str:
                parts.append(choices[0]["text"])
        return parts

    def written_text(self) -> str:
        """The text of every choice so far (`n`, `best_of`), for estimating its tokens."""
        parts: list[str] = []
        for data in self._events:
            for choice in orjson.loads(data).get("choices") or ():
                if type(choice) is dict and type(choice.get("text")) is str:
                    parts.append(choice["text"])
        return "".join(parts)
