"""Anthropic stream events -> OpenAI chat chunks (an OpenAI client, an Anthropic upstream).

A small state machine over parsed events: feed it what arrives, send on what it returns, call
`finish()` once the upstream stream has ended. No I/O and no byte handling: SSE framing stays
with the caller.
"""

from __future__ import annotations

import time

import orjson

from gateway.json_types import JSON
from gateway.providers.anthropic.carried_thinking import thinking_detail
from gateway.providers.anthropic.errors import stream_error
from gateway.providers.anthropic.stop_reasons import finish_reason
from gateway.providers.anthropic.structured_output import STRUCTURED_TOOL
from gateway.providers.anthropic.usage import openai_usage
from gateway.providers.anthropic.web_search import cited_span


class AnthropicToOpenAIStream:
    """Anthropic stream events in, OpenAI `chat.completion.chunk` dicts out, as OpenAI sends them.

    - `message_start` -> the first chunk, delta `{"role": "assistant", "content": ""}`;
    - text deltas -> `{"content": ...}`; a `tool_use` block -> a `tool_calls` entry with id, type,
      name and empty arguments, then its `input_json_delta`s as argument fragments (`{}` at its
      `content_block_stop` when none had text); tool calls are indexed from 0 in the order they
      appear, whatever their content block index;
    - `message_delta` -> the closing chunk (empty delta, `finish_reason`), then, when
      `include_usage`, a chunk with `"choices": []` and the usage; other chunks then carry
      `"usage": null`, and carry no `usage` key at all otherwise;
    - a text block's web search citations (its start's `citations`, its `citations_delta`
      events) -> a delta's `annotations` when it closes, each spanning the block's text, as
      the JSON answer has them (`web_search`); the search's own blocks produce nothing;
    - a thinking block's `thinking_delta`s -> `reasoning_content` deltas; at its
      `content_block_stop`, the block (text and signature sealed with `origin`; none without
      one) as a `reasoning_details` delta of one entry, as the JSON answer carries it
      (`carried_thinking`); a `redacted_thinking` block likewise at its start;
    - `ping` and unknown events produce nothing; `error` raises `StreamTranslationError` with
      the upstream message.

    `usage` holds the OpenAI-style usage from `message_start` on, final after `message_delta`.
    `structured`: the request asked for a structured output through `STRUCTURED_TOOL`, whose
    input then streams as `content` (`{}` when none came), ending with `finish_reason` "stop".
    """

    def __init__(
        self,
        model: str,
        include_usage: bool,
        *,
        created: int | None = None,
        structured: bool = False,
        origin: str = "",
    ) -> None:
        self.model = model
        self.include_usage = include_usage
        self.created = int(time.time()) if created is None else created
        self.id = "chatcmpl-gateway"
        self.usage: JSON | None = None
        # The upstream's own usage, merged over the stream (cache writes included).
        self.anthropic_usage: JSON = {}
        self._started = False
        self._finished = False
        self.finish_reason: str | None = None  # the one the closing chunk carried
        self._usage_sent = False
        self._tool_index: dict[int, int] = {}  # content block index -> OpenAI tool call index
        self._no_arguments: set[int] = set()  # tool_use blocks with no argument text sent yet
        self._structured = structured
        self._answer_blocks: set[int] = set()  # blocks of STRUCTURED_TOOL: their input is text
        self._length = 0  # characters of `content` sent
        # An open text block's web search citations, and where its text starts in `content`.
        self._cited: dict[int, tuple[int, list[JSON]]] = {}
        self._origin = origin
        self._thinking: dict[int, JSON] = {}  # open thinking blocks, as they grow
        self.carried: list[JSON] = []  # the `reasoning_details` entries sent
        self.call_ids: list[str] = []  # the tool calls' ids, in order

    def feed(self, event: str | None, data: JSON) -> list[JSON]:
        """Translate one Anthropic event (`event` may be None: `data["type"]` names it then)."""
        kind = event or data.get("type")
        if kind == "error":
            raise stream_error(data)
        if kind == "message_start":
            message = data.get("message") or {}
            if message.get("id"):
                self.id = f"chatcmpl-{message['id']}"
            if isinstance(message.get("model"), str) and message["model"]:
                self.model = message["model"]  # the upstream's name, as on the JSON path
            self._update_usage(message.get("usage"))
            return self._start()
        if kind == "content_block_start":
            return self._start() + self._block_start(data)
        if kind == "content_block_delta":
            return self._start() + self._block_delta(data)
        if kind == "content_block_stop":
            return self._block_stop(data)
        if kind == "message_delta":
            self._update_usage(data.get("usage"))
            reason = finish_reason((data.get("delta") or {}).get("stop_reason"))
            if self._structured and reason == "tool_calls" and not self._tool_index:
                reason = "stop"
            return self._start() + self._finish(reason)
        return []  # ping, message_stop, and events added to the API later

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
        if kind == "text":
            citations = [c for c in block.get("citations") or () if isinstance(c, dict)]
            self._cited[int(data.get("index") or 0)] = (self._length, citations)
            return [self._content(block["text"])] if block.get("text") else []
        if kind == "thinking":
            self._thinking[int(data.get("index") or 0)] = dict(block)
            return self._reasoning(block.get("thinking"))
        if kind == "redacted_thinking":
            return self._detail(block)
        if kind != "tool_use":
            return []
        block_index = int(data.get("index") or 0)
        initial = block.get("input")
        # Streamed tool_use blocks start with `{}` and grow through input_json_delta.
        arguments = orjson.dumps(initial).decode() if initial else ""
        if not arguments:
            self._no_arguments.add(block_index)
        if self._structured and block.get("name") == STRUCTURED_TOOL:
            self._answer_blocks.add(block_index)
            return [self._chunk({"content": arguments})] if arguments else []
        index = self._tool_index.setdefault(block_index, len(self._tool_index))
        if isinstance(block.get("id"), str):
            self.call_ids.append(block["id"])
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
            return [self._content(delta["text"])]
        if kind in ("thinking_delta", "signature_delta"):
            block = self._thinking.get(int(data.get("index") or 0))
            field = kind.removesuffix("_delta")
            piece = delta.get(field)
            if block is None or not isinstance(piece, str):
                return []
            block[field] = f"{block.get(field) or ''}{piece}"
            return self._reasoning(piece) if field == "thinking" else []
        if kind == "citations_delta" and isinstance(delta.get("citation"), dict):
            cited = self._cited.get(int(data.get("index") or 0))
            if cited is not None:
                cited[1].append(delta["citation"])
            return []
        if kind == "input_json_delta" and delta.get("partial_json"):
            block_index = int(data.get("index") or 0)
            if block_index in self._answer_blocks:
                self._no_arguments.discard(block_index)
                return [self._content(delta["partial_json"])]
            index = self._tool_index.get(block_index)
            if index is not None:
                self._no_arguments.discard(block_index)
                call = {"index": index, "function": {"arguments": delta["partial_json"]}}
                return [self._chunk({"tool_calls": [call]})]
        return []

    def _block_stop(self, data: JSON) -> list[JSON]:
        """A tool call whose arguments never came (a tool without parameters: Claude streams
        one empty `input_json_delta`) gets `{}`, as OpenAI sends and the JSON path has it."""
        block_index = int(data.get("index") or 0)
        if block_index in self._thinking:
            return self._detail(self._thinking.pop(block_index))
        if block_index in self._cited:
            return self._citations(*self._cited.pop(block_index))
        if block_index not in self._no_arguments:
            return []
        self._no_arguments.discard(block_index)
        if block_index in self._answer_blocks:
            return [self._content("{}")]
        call = {"index": self._tool_index[block_index], "function": {"arguments": "{}"}}
        return [self._chunk({"tool_calls": [call]})]

    def _reasoning(self, text: object) -> list[JSON]:
        return [self._chunk({"reasoning_content": text})] if isinstance(text, str) and text else []

    def _detail(self, block: JSON) -> list[JSON]:
        """A whole thinking block as a `reasoning_details` delta, when it can be carried."""
        detail = thinking_detail(block, self._origin, len(self.carried))
        if detail is None:
            return []
        self.carried.append(detail)
        return [self._chunk({"reasoning_details": [detail]})]

    def _content(self, text: str) -> JSON:
        self._length += len(text)
        return self._chunk({"content": text})

    def _citations(self, start: int, citations: list[JSON]) -> list[JSON]:
        """A closed text block's web search citations, as annotations spanning its text."""
        spans = [
            cited_span(c, start, self._length)
            for c in citations
            if c.get("type") == "web_search_result_location"
        ]
        return [self._chunk({"annotations": spans})] if spans else []

    def _update_usage(self, usage: object) -> None:
        if not isinstance(usage, dict):
            return
        # message_delta counts are cumulative: they replace those of message_start.
        self.anthropic_usage.update({k: v for k, v in usage.items() if v is not None})
        self.usage = openai_usage(self.anthropic_usage)

    def _finish(self, reason: str) -> list[JSON]:
        out: list[JSON] = []
        if not self._finished:
            self._finished = True
            self.finish_reason = reason
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
