"""OpenAI chat chunks -> Anthropic stream events (an Anthropic client, an OpenAI upstream).

A small state machine over parsed chunks: feed it what arrives, send on what it returns, call
`finish()` once the upstream stream has ended. No I/O and no byte handling: SSE framing stays
with the caller.
"""

from __future__ import annotations

from typing import Any, Literal

from gateway.json_types import JSON
from gateway.providers.anthropic.errors import stream_error
from gateway.providers.anthropic.stop_reasons import matched_stop_sequence, stop_reason
from gateway.providers.anthropic.thinking_blocks import (
    ThinkingDisplay,
    thinking_block,
    thinking_signature,
)
from gateway.providers.anthropic.usage import anthropic_usage
from gateway.providers.anthropic.web_search import (
    SEARCHES_FIELD,
    citation,
    query_json,
    search_blocks,
)
from gateway.providers.chat_reasoning import encrypted_reasoning, reasoning_text

Event = tuple[str, JSON]


class OpenAIToAnthropicStream:
    """OpenAI `chat.completion.chunk` dicts in, Anthropic `(event, data)` pairs out.

    The sequence is Anthropic's: `message_start` (empty content), then per content block
    `content_block_start`, its deltas (`text_delta`, or `input_json_delta` for `tool_use`), and
    `content_block_stop`; a web search (the Anthropic bridge's `web_searches`) its
    `server_tool_use` and `web_search_tool_result` blocks, a `url_citation` annotation a
    `citations_delta` of the open text block (`web_search`); a new block opens when the delta
    switches between reasoning, text and tool calls or a new tool call (index or id) appears.
    `finish()` closes the last block and sends
    `message_delta` (stop_reason, `stop_sequence` as `matched_stop_sequence` reads it, usage)
    and `message_stop`: OpenAI sends usage after its finish_reason chunk, so nothing closes
    before the upstream has ended.

    `message_start` must go out before any usage is known, so its `input_tokens` is the caller's
    estimate. When the upstream reports usage, `message_delta.usage` carries the real
    `input_tokens` (and `cache_read_input_tokens`) beside `output_tokens`; Anthropic's own
    streams do the same and its SDK overwrites the estimate with them. Without reported usage,
    `output_tokens` is 0 and `usage` stays None, so the caller knows to count. Only choice 0 is
    read. Its reasoning deltas (`reasoning_content` or `reasoning`: `chat_reasoning`) become a
    `thinking` block's `thinking_delta` events, closed by a `signature_delta` as Claude's are,
    when the request asked to see the thinking (`thinking`: `thinking_blocks`); else they are
    dropped. An encrypted reasoning the upstream keeps (a `reasoning_details` delta:
    `chat_reasoning`) is the signature of the open thinking block, or of one of its own.
    """

    def __init__(
        self, model: str, input_tokens_estimate: int, thinking: ThinkingDisplay | None = None
    ) -> None:
        self.model = model
        self.input_tokens_estimate = input_tokens_estimate
        self.thinking = thinking
        self._carried: str | None = None  # the open thinking block's encrypted reasoning
        self.usage: JSON | None = None
        self._started = False
        self._closed = False
        self._index = -1  # Anthropic content block index of the open block
        self._open: Literal["thinking", "text", "tool", "search"] | None = None
        self._texts: list[str] = []  # the answer's text so far (what citations count in)
        self._tool_key: tuple[Any, Any] | None = None  # (OpenAI index, id) of the open tool call
        self._finish_reason: str | None = None
        self._stop_sequence: str | None = None  # vLLM's `stop_reason`, when a string matched
        self._calls_tools = False  # a tool_use block was opened

    @property
    def finish_reason(self) -> str | None:
        """The finish_reason of choice 0, once a chunk carried one."""
        return self._finish_reason

    def feed(self, chunk: JSON) -> list[Event]:
        """Translate one OpenAI chunk (the `[DONE]` sentinel is the caller's to drop)."""
        if chunk.get("error"):
            raise stream_error(chunk)
        out = self._start(chunk)
        if isinstance(chunk.get("usage"), dict):
            self.usage = anthropic_usage(chunk["usage"])
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or (choice.get("index") or 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if self.thinking is not None:
                if (thought := reasoning_text(delta)) is not None:
                    out += self._thought(thought)
                for data in encrypted_reasoning(delta):
                    out += self._carry(data)
            for entry in delta.get(SEARCHES_FIELD) or ():
                out += self._search(entry)
            text = delta.get("content") or delta.get("refusal")
            if isinstance(text, str) and text:
                out += self._text(text)
            for annotation in delta.get("annotations") or ():
                out += self._cite(annotation)
            for call in delta.get("tool_calls") or ():
                out += self._tool(call)
            if choice.get("finish_reason"):
                self._finish_reason = choice["finish_reason"]
                matched = choice.get("stop_reason")
                self._stop_sequence = matched_stop_sequence(self._finish_reason, matched)
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
        reason = stop_reason(self._finish_reason, calls_tools=self._calls_tools)
        if self._stop_sequence:
            reason = "stop_sequence"
        delta = {"stop_reason": reason, "stop_sequence": self._stop_sequence}
        out.append(("message_delta", {"type": "message_delta", "delta": delta, "usage": usage}))
        out.append(("message_stop", {"type": "message_stop"}))
        return out

    def _start(self, chunk: JSON) -> list[Event]:
        if self._started:
            return []
        self._started = True
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self.model = chunk["model"]  # the upstream's name, as on the JSON path
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
        out: list[Event] = []
        if self._open == "thinking":  # Claude's thinking block ends with its signature
            signature = thinking_signature(self._carried)
            self._carried = None
            out.append(self._delta({"type": "signature_delta", "signature": signature}))
        self._open = None
        self._tool_key = None
        out.append(("content_block_stop", {"type": "content_block_stop", "index": self._index}))
        return out

    def _delta(self, delta: JSON) -> Event:
        return (
            "content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": delta},
        )

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

    def _thought(self, text: str) -> list[Event]:
        """`text` of the model's reasoning, into the open thinking block (opened when none is,
        or when the open one is done: its encrypted reasoning came)."""
        assert self.thinking is not None
        out: list[Event] = []
        if self._open == "thinking" and self._carried is not None and text:
            out = self._close_block()
        if self._open != "thinking":
            block = {**thinking_block("", self.thinking), "signature": ""}
            out += self._open_block(block)
            self._open = "thinking"
        if self.thinking == "shown" and text:
            out.append(self._delta({"type": "thinking_delta", "thinking": text}))
        return out

    def _carry(self, encrypted: str) -> list[Event]:
        """The encrypted reasoning of the open thinking block (of a new one when none is open,
        or the open one carries one already)."""
        out: list[Event] = []
        if self._open == "thinking" and self._carried is not None:
            out = self._close_block()
        out += self._thought("")
        self._carried = encrypted
        return out

    def _text(self, text: str) -> list[Event]:
        out = [] if self._open == "text" else self._open_block({"type": "text", "text": ""})
        self._open = "text"
        self._texts.append(text)
        out.append(self._delta({"type": "text_delta", "text": text}))
        return out

    def _search(self, entry: object) -> list[Event]:
        """A search the model made: its `server_tool_use` block (the query its one
        `input_json_delta`) and its `web_search_tool_result` block, whole."""
        out: list[Event] = []
        for block in search_blocks(entry):
            if block["type"] == "server_tool_use":
                out += self._open_block({**block, "input": {}})
                out.append(
                    self._delta({"type": "input_json_delta", "partial_json": query_json(block)})
                )
            else:
                out += self._open_block(block)
            self._open = "search"
        return out

    def _cite(self, annotation: object) -> list[Event]:
        """A citation of the open text block (none open: it has no block to go with)."""
        if self._open != "text":
            return []
        cited = citation(annotation, "".join(self._texts))
        if cited is None:
            return []
        return [self._delta({"type": "citations_delta", "citation": cited})]

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
            self._calls_tools = True
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
            out.append(self._delta({"type": "input_json_delta", "partial_json": arguments}))
        return out
