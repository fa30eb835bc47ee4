"""Responses API stream events -> chat completion chunks (a chat client of a deployment with
`api = "responses"`), as SSE bytes.

`response.created` opens the answer (a chunk with `role: "assistant"`); `output_text.delta` and
`refusal.delta` become `content` and `refusal` deltas; a `function_call` (or
`custom_tool_call`) item added opens a tool call at the next chat `index` (its id and name), its
`function_call_arguments.delta` (`custom_tool_call_input.delta`) events its argument deltas; a
reasoning summary's deltas become `reasoning_content` deltas (a blank line between its parts),
and a reasoning item done with its `encrypted_content` a `reasoning_details` delta, as the JSON
answer has them (`responses_responses_to_chat`); an `output_text.annotation.added` event's
`url_citation` a delta's `annotations` (`web_search`). The final event
(`response.completed` or `.incomplete`) gives the chunk with the `finish_reason`, then, for a
client that asked (`stream_options.include_usage`), the usage chunk, then `[DONE]`. A
`response.failed` or an `error` event ends the stream with the upstream's error; a stream that
ends without a final event was cut short.
"""

from __future__ import annotations

import orjson

from gateway.errors import GatewayError
from gateway.json_types import JSON
from gateway.providers.anthropic.web_search import SEARCHES_FIELD
from gateway.providers.base import Usage, stream_cut_short
from gateway.providers.chat_reasoning import encrypted_details, sealed
from gateway.providers.openai_usage import usage_from_openai
from gateway.providers.responses.objects import usage_with_searches
from gateway.providers.responses.responses_responses_to_chat import (
    chat_tool_call,
    chat_usage,
    finish_reason,
)
from gateway.providers.responses.stream_passthrough import response_failure, stream_event_json
from gateway.providers.responses.web_search import chat_annotation, search_entry
from gateway.providers.upstream_errors import stream_error_from_upstream
from gateway.sse import SSEDecoder, encode_event

_DONE = b"data: [DONE]\n\n"
_FINAL_EVENTS = ("response.completed", "response.incomplete", "response.failed")
_CALL_DELTAS = ("response.function_call_arguments.delta", "response.custom_tool_call_input.delta")


class ResponsesToChatStream:
    def __init__(self, include_usage: bool, origin: str = "", searches: bool = False) -> None:
        self._decoder = SSEDecoder()
        self._include_usage = include_usage
        self._id = "chatcmpl-"
        self._model = ""
        self._created = 0
        self._calls: dict[object, int] = {}  # a call item's output_index -> its chat index
        self._summary_part: tuple[object, object] | None = None  # (item id, summary index)
        self._encrypted_count = 0  # `reasoning_details` entries sent
        self._origin = origin  # what the encrypted reasoning is sealed with (none: left out)
        self._searches = searches  # the Anthropic bridge's `web_searches` (`web_search`)
        self._length = 0  # characters of answer text sent
        self._part_starts: dict[tuple[object, object], int] = {}  # a text part -> its offset
        self.usage: Usage | None = None
        self.text: list[str] = []
        self._written: list[str] = []  # the answer's text and tool-call arguments
        self.ended = False  # the final event came

    def written_text(self) -> str:
        """The answer's text and tool-call arguments so far (`WritesText`)."""
        return "".join(self._written)

    def _chunk(self, delta: JSON, finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return encode_event(orjson.dumps(self._head([choice])))

    def _head(self, choices: list[JSON]) -> JSON:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }

    def feed(self, chunk: bytes) -> list[bytes]:
        out: list[bytes] = []
        try:
            for event in self._decoder.feed(chunk):
                if event.data == b"[DONE]":
                    continue
                parsed = stream_event_json(event.data)
                out += self._translate(str(event.event or parsed.get("type") or ""), parsed)
            return out
        except GatewayError as exc:  # the chunks before it are the client's all the same
            exc.pending = out
            raise

    def _translate(self, kind: str, event: JSON) -> list[bytes]:
        if kind == "error":
            nested = event.get("error")
            raise stream_error_from_upstream(nested if nested else event, anthropic=False)
        if kind == "response.created":
            response = event.get("response")
            response = response if isinstance(response, dict) else {}
            self._id = f"chatcmpl-{response.get('id', '')}"
            self._model = str(response.get("model") or "")
            created = response.get("created_at")
            self._created = created if isinstance(created, int) else 0
            return [self._chunk({"role": "assistant", "content": ""})]
        delta = event.get("delta")
        if kind == "response.output_text.delta" and isinstance(delta, str):
            part = (event.get("item_id"), event.get("content_index"))
            self._part_starts.setdefault(part, self._length)
            self._length += len(delta)
            self.text.append(delta)
            self._written.append(delta)
            return [self._chunk({"content": delta})]
        if kind == "response.output_text.annotation.added":
            return self._annotation(event)
        if kind == "response.refusal.delta" and isinstance(delta, str):
            return [self._chunk({"refusal": delta})]
        if kind == "response.reasoning_summary_text.delta" and isinstance(delta, str):
            return self._summary_delta(event.get("item_id"), event.get("summary_index"), delta)
        if kind == "response.output_item.done":
            item = event.get("item")
            if self._searches and (entry := search_entry(item)) is not None:
                return [self._chunk({SEARCHES_FIELD: [entry]})]
            return self._encrypted(item)
        if kind == "response.output_item.added":
            return self._call_start(event)
        if kind in _CALL_DELTAS:
            return self._call_delta(kind, event.get("output_index"), delta)
        if kind in _FINAL_EVENTS:
            return self._final(event)
        return []

    def _summary_delta(self, item_id: object, part: object, delta: str) -> list[bytes]:
        if not delta:
            return []
        if self._summary_part is not None and self._summary_part != (item_id, part):
            delta = "\n\n" + delta  # a new summary part, of this item or another
        self._summary_part = (item_id, part)
        self._written.append(delta)
        return [self._chunk({"reasoning_content": delta})]

    def _annotation(self, event: JSON) -> list[bytes]:
        """A citation of the text part it names, counted in the whole answer's text."""
        part = (event.get("item_id"), event.get("content_index"))
        cited = chat_annotation(event.get("annotation"), self._part_starts.get(part, self._length))
        return [] if cited is None else [self._chunk({"annotations": [cited]})]

    def _encrypted(self, item: object) -> list[bytes]:
        if not isinstance(item, dict) or item.get("type") != "reasoning":
            return []
        data = item.get("encrypted_content")
        if not self._origin or not isinstance(data, str) or not data:
            return []
        details = encrypted_details([sealed(self._origin, data)], self._encrypted_count)
        self._encrypted_count += 1
        return [self._chunk({"reasoning_details": details})]

    def _call_start(self, event: JSON) -> list[bytes]:
        item = event.get("item")
        call = chat_tool_call(item) if isinstance(item, dict) else None
        if call is None:
            return []
        index = len(self._calls)
        self._calls[event.get("output_index")] = index
        if call["type"] == "custom":
            call["custom"]["input"] = ""
        else:
            call["function"]["arguments"] = ""
        return [self._chunk({"tool_calls": [{"index": index, **call}]})]

    def _call_delta(self, kind: str, output_index: object, delta: object) -> list[bytes]:
        index = self._calls.get(output_index)
        if index is None or not isinstance(delta, str) or not delta:
            return []
        self._written.append(delta)
        if kind == "response.custom_tool_call_input.delta":
            piece: JSON = {"index": index, "custom": {"input": delta}}
        else:
            piece = {"index": index, "function": {"arguments": delta}}
        return [self._chunk({"tool_calls": [piece]})]

    def _final(self, event: JSON) -> list[bytes]:
        self.ended = True
        response = event.get("response")
        response = response if isinstance(response, dict) else {}
        failure = response_failure(response)
        if failure is not None:
            raise failure
        usage = chat_usage(response.get("usage"))
        self.usage = usage_from_openai(usage)
        if self.usage is not None:
            usage_with_searches(self.usage, response)
        out = [self._chunk({}, finish_reason(response, bool(self._calls)))]
        if self._include_usage and usage is not None:
            out.append(encode_event(orjson.dumps({**self._head([]), "usage": usage})))
        return out

    def finish(self) -> list[bytes]:
        if not self.ended:
            raise stream_cut_short("response.completed")
        return [_DONE]
