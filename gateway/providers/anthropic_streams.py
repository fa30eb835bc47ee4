"""Streaming translation between Anthropic Messages events and OpenAI chat completion chunks.

Each translator is a small state machine over parsed events: feed it what arrives, send on what
it returns, call `finish()` once the upstream stream has ended. No I/O and no byte handling:
SSE framing stays with the caller.
"""

from __future__ import annotations

import time
from typing import Any, Literal

import orjson

from gateway.providers.anthropic_responses import (
    anthropic_usage,
    finish_reason,
    openai_usage,
    stop_reason,
)

JSON = dict[str, Any]
Event = tuple[str, JSON]


class StreamTranslationError(Exception):
    """The upstream stream reported an error mid-way; `str(exc)` is the upstream's message."""

    def __init__(self, message: str, error_type: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.error_type = error_type


def _upstream_error(data: JSON) -> StreamTranslationError:
    error = data.get("error")
    if isinstance(error, dict):
        message = error.get("message")
        kind = error.get("type")
        return StreamTranslationError(
            str(message) if message else "upstream stream error",
            str(kind) if kind else None,
        )
    return StreamTranslationError(str(error) if error else "upstream stream error")


class AnthropicToOpenAIStream:
    """Anthropic stream events in, OpenAI `chat.completion.chunk` dicts out, as OpenAI sends them.

    - `message_start` -> the first chunk, delta `{"role": "assistant", "content": ""}`;
    - text deltas -> `{"content": ...}`; a `tool_use` block -> a `tool_calls` entry with id, type,
      name and empty arguments, then its `input_json_delta`s as argument fragments; tool calls are
      indexed from 0 in the order they appear, whatever their content block index;
    - `message_delta` -> the closing chunk (empty delta, `finish_reason`), then, when
      `include_usage`, a chunk with `"choices": []` and the usage; other chunks then carry
      `"usage": null`, and carry no `usage` key at all otherwise;
    - thinking blocks, `ping` and unknown events produce nothing; `error` raises
      `StreamTranslationError` with the upstream message.

    `usage` holds the OpenAI-style usage from `message_start` on, final after `message_delta`.
    """

    def __init__(self, model: str, include_usage: bool, *, created: int | None = None) -> None:
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time()) if created is None else created
        self.id = "chatcmpl-gateway"
        self.usage: JSON | None = None
        self._anthropic_usage: JSON = {}
        self._started = False
        self._finished = False
        self._usage_sent = False
        self._tool_index: dict[int, int] = {}  # content block index -> OpenAI tool call index

    def feed(self, event: str | None, data: JSON) -> list[JSON]:
        """Translate one Anthropic event (`event` may be None: `data["type"]` names it then)."""
        kind = event or data.get("type")
        if kind == "error":
            raise _upstream_error(data)
        if kind == "message_start":
            message = data.get("message") or {}
            if message.get("id"):
                self.id = f"chatcmpl-{message['id']}"
            self._update_usage(message.get("usage"))
            return self._start()
        if kind == "content_block_start":
            return self._start() + self._block_start(data)
        if kind == "content_block_delta":
            return self._start() + self._block_delta(data)
        if kind == "message_delta":
            self._update_usage(data.get("usage"))
            reason = finish_reason((data.get("delta") or {}).get("stop_reason"))
            return self._start() + self._finish(reason)
        return []  # ping, content_block_stop, message_stop, and events added to the API later

    def finish(self) -> list[JSON]:
        """Chunks still owed when the upstream ended: the closing chunk and the usage chunk
        (the latter only when usage is known), if `message_delta` never delivered them."""
        return self._start() + self._finish("stop")

    def _chunk(self, delta: JSON, finish: str | None = None) -> JSON:
        chunk: JSON = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self.include_usage:
            chunk["usage"] = None
        return chunk

    def _start(self) -> list[JSON]:
        if self._started:
            return []
        self._started = True
        return [self._chunk({"role": "assistant", "content": ""})]

    def _block_start(self, data: JSON) -> list[JSON]:
        block = data.get("content_block") or {}
        kind = block.get("type")
        if kind == "text" and block.get("text"):
            return [self._chunk({"content": block["text"]})]
        if kind != "tool_use":
            return []
        index = self._tool_index.setdefault(int(data.get("index") or 0), len(self._tool_index))
        initial = block.get("input")
        # Streamed tool_use blocks start with `{}` and grow through input_json_delta.
        arguments = orjson.dumps(initial).decode() if initial else ""
        call = {
            "index": index,
            "id": block.get("id"),
            "type": "function",
            "function": {"name": block.get("name"), "arguments": arguments},
        }
        return [self._chunk({"tool_calls": [call]})]

    def _block_delta(self, data: JSON) -> list[JSON]:
        delta = data.get("delta") or {}
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text"):
            return [self._chunk({"content": delta["text"]})]
        if kind == "input_json_delta" and delta.get("partial_json"):
            index = self._tool_index.get(int(data.get("index") or 0))
            if index is not None:
                call = {"index": index, "function": {"arguments": delta["partial_json"]}}
                return [self._chunk({"tool_calls": [call]})]
        return []

    def _update_usage(self, usage: Any) -> None:
        if not isinstance(usage, dict):
            return
        # message_delta counts are cumulative: they replace those of message_start.
        self._anthropic_usage.update({k: v for k, v in usage.items() if v is not None})
        self.usage = openai_usage(self._anthropic_usage)

    def _finish(self, reason: str) -> list[JSON]:
        out: list[JSON] = []
        if not self._finished:
            self._finished = True
            out.append(self._chunk({}, reason))
        if self.include_usage and not self._usage_sent and self.usage is not None:
            self._usage_sent = True
            out.append(
                {
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": self.usage,
                }
            )
        return out


class OpenAIToAnthropicStream:
    """OpenAI `chat.completion.chunk` dicts in, Anthropic `(event, data)` pairs out.

    The sequence is Anthropic's: `message_start` (empty content), then per content block
    `content_block_start`, its deltas (`text_delta`, or `input_json_delta` for `tool_use`), and
    `content_block_stop`; a new block opens when the delta switches between text and tool calls
    or a new tool call (index or id) appears. `finish()` closes the last block and sends
    `message_delta` (stop_reason, `stop_sequence: None`, usage) and `message_stop`: OpenAI sends
    usage after its finish_reason chunk, so nothing closes before the upstream has ended.

    `message_start` must go out before any usage is known, so its `input_tokens` is the caller's
    estimate. When the upstream reports usage, `message_delta.usage` carries the real
    `input_tokens` (and `cache_read_input_tokens`) beside `output_tokens`; Anthropic's own
    streams do the same and its SDK overwrites the estimate with them. Without reported usage,
    `output_tokens` is 0 and `usage` stays None, so the caller knows to count. Only choice 0 is
    read; non-standard reasoning deltas (`reasoning_content`) are dropped: Anthropic thinking
    blocks would need a signature.
    """

    def __init__(self, model: str, input_tokens_estimate: int) -> None:
        self.model = model
        self.input_tokens_estimate = input_tokens_estimate
        self.usage: JSON | None = None
        self._started = False
        self._closed = False
        self._index = -1  # Anthropic content block index of the open block
        self._open: Literal["text", "tool"] | None = None
        self._tool_key: tuple[Any, Any] | None = None  # (OpenAI index, id) of the open tool call
        self._finish_reason: str | None = None

    def feed(self, chunk: JSON) -> list[Event]:
        """Translate one OpenAI chunk (the `[DONE]` sentinel is the caller's to drop)."""
        if chunk.get("error"):
            raise _upstream_error(chunk)
        out = self._start(chunk)
        if isinstance(chunk.get("usage"), dict):
            self.usage = anthropic_usage(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or (choice.get("index") or 0) != 0:
                continue
            delta = choice.get("delta") or {}
            text = delta.get("content") or delta.get("refusal")
            if isinstance(text, str) and text:
                out += self._text(text)
            for call in delta.get("tool_calls") or ():
                out += self._tool(call)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
        return out

    def finish(self) -> list[Event]:
        """The closing events; an empty list when called twice."""
        if self._closed:
            return []
        self._closed = True
        out = self._start({}) + self._close_block()
        usage: JSON = {"output_tokens": 0}
        if self.usage is not None:
            usage = {
                "output_tokens": self.usage["output_tokens"],
                "input_tokens": self.usage["input_tokens"],
            }
            if "cache_read_input_tokens" in self.usage:
                usage["cache_read_input_tokens"] = self.usage["cache_read_input_tokens"]
        delta = {"stop_reason": stop_reason(self._finish_reason), "stop_sequence": None}
        out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(("message_stop", {"type": "message_stop"}))
        return out

    def _start(self, chunk: JSON) -> list[Event]:
        if self._started:
            return []
        self._started = True
        message: JSON = {
            "id": f"msg_{chunk.get('id') or 'gateway'}",
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": self.input_tokens_estimate, "output_tokens": 0},
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def _close_block(self) -> list[Event]:
        if self._open is None:
            return []
        self._open = None
        self._tool_key = None
        return [("content_block_stop", {"type": "content_block_stop", "index": self._index})]

    def _open_block(self, block: JSON) -> list[Event]:
        out = self._close_block()
        self._index += 1
        out.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )
        return out

    def _text(self, text: str) -> list[Event]:
        out = [] if self._open == "text" else self._open_block({"type": "text", "text": ""})
        self._open = "text"
        delta = {"type": "text_delta", "text": text}
        out.append(
            (
                "content_block_delta",
                {"type": "content_block_delta", "index": self._index, "delta": delta},
            )
        )
        return out

    def _tool(self, call: JSON) -> list[Event]:
        function = call.get("function") or {}
        index, call_id = call.get("index"), call.get("id")
        out: list[Event] = []
        current = self._tool_key
        # Some compatible servers omit `index` or reuse 0 for every call; a new id then tells.
        is_new = (
            self._open != "tool"
            or current is None
            or (index is not None and index != current[0])
            or (bool(call_id) and call_id != current[1])
        )
        if is_new:
            block_id = call_id or f"toolu_gateway_{self._index + 1}"
            block: JSON = {
                "type": "tool_use",
                "id": block_id,
                "name": function.get("name") or "",
                "input": {},
            }
            out = self._open_block(block)
            self._open = "tool"
            self._tool_key = (index, call_id or block_id)
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            delta = {"type": "input_json_delta", "partial_json": arguments}
            out.append(
                (
                    "content_block_delta",
                    {"type": "content_block_delta", "index": self._index, "delta": delta},
                )
            )
        return out
