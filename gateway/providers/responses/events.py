"""The Responses API stream, built one piece at a time: `ResponseEvents` turns "some text",
"a function call starts", "some arguments", "done" into the typed events OpenAI sends.

    response.created, response.in_progress
    response.output_item.added            (a `message`, a `reasoning` item, a `function_call`,
                                           `custom_tool_call` or `tool_search_call`)
    response.content_part.added           (a message's `output_text` or `refusal` part, a
                                           reasoning item's `reasoning_text`)
    response.output_text.delta ...        / response.refusal.delta ...
                                          / response.reasoning_text.delta ...
                                          / response.function_call_arguments.delta ...
    response.output_text.done (or refusal, reasoning_text), response.content_part.done
                                          / response.function_call_arguments.done
                                          / response.custom_tool_call_input.delta, .done
    response.output_item.done
    (a `compaction` item: its `.added` and `.done` together, no events between)
    response.completed                    (or response.incomplete), with the usage

Every event carries `type` and a `sequence_number` from 0. An item is closed when the next one
opens, and at the end. A custom tool's input arrives as its function's JSON arguments
(`chat_tools`): it is gathered and sent as one delta when the call ends; a `tool_search_call`
has no events of its own, its arguments are in the item's `.done`. Used by the chat ->
Responses stream translation and the mock provider.
"""

from __future__ import annotations

from typing import Any

import orjson

from gateway.json_types import JSON
from gateway.providers.anthropic.carried_thinking import as_encrypted_content
from gateway.providers.responses.chat_tools import (
    ToolOrigin,
    call_item,
    custom_input,
    search_arguments,
)
from gateway.providers.responses.objects import (
    carried_thinking_item,
    message_item,
    new_id,
    output_text_part,
    response_object,
)
from gateway.sse import encode_event


def encode(event: JSON) -> bytes:
    """One Responses event as SSE: `event: <type>` and its JSON."""
    return encode_event(orjson.dumps(event), event["type"])


class ResponseEvents:
    """The events of one streamed response; `response` is the final object once complete."""

    def __init__(
        self, request: JSON, response_id: str, model: str, created_at: int | None = None
    ) -> None:
        self.request = request
        self.response = response_object(
            request, response_id, model, [], None, status="in_progress", created_at=created_at
        )
        self.output: list[JSON] = self.response["output"]
        self.texts: list[str] = []  # the text deltas, in order
        self._sequence = 0
        self._open: int | None = None  # output index of the item being written
        self._calls: dict[Any, int] = {}  # caller's key of a function call -> output index
        # The output index of a custom tool's call or a tool search -> its arguments so far.
        self._gathered: dict[int, str] = {}
        self.completed = False

    def _event(self, kind: str, **fields: Any) -> JSON:
        event = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return event

    def _snapshot(self) -> JSON:
        return orjson.loads(orjson.dumps(self.response))  # type: ignore[no-any-return]

    def start(self) -> list[JSON]:
        return [
            self._event("response.created", response=self._snapshot()),
            self._event("response.in_progress", response=self._snapshot()),
        ]

    def _open_message(self, part: JSON) -> list[JSON]:
        """Open a message item whose one content part is `part` (unless one is open)."""
        if self._open is not None:
            item = self.output[self._open]
            if item["type"] == "message" and item["content"][0]["type"] == part["type"]:
                return []
        events = self.close_open()
        item = message_item(new_id("msg"), "", status="in_progress")
        item["content"] = []
        events += self._add(item)
        item["content"].append(dict(part))
        events.append(
            self._event(
                "response.content_part.added",
                item_id=item["id"],
                output_index=len(self.output) - 1,
                content_index=0,
                part=dict(part),
            )
        )
        return events

    def refusal(self, delta: str) -> list[JSON]:
        """The model's refusal: a message item of its own with a `refusal` part, as the JSON
        answer has it (`response.refusal.delta` / `.done`)."""
        return self._delta({"type": "refusal", "refusal": ""}, "refusal", delta)

    def text(self, delta: str) -> list[JSON]:
        """Text of the answer: into the open message item (opened when needed)."""
        events = self._delta(output_text_part(""), "text", delta, logprobs=[])
        if delta:
            self.texts.append(delta)
        return events

    def _delta(self, part: JSON, field: str, delta: str, **extra: object) -> list[JSON]:
        """`delta` added to the `field` of the open message item's part (the item opened with
        `part` when needed), and its `response.<refusal|output_text>.delta` event."""
        events = self._open_message(part)
        if not delta:
            return events
        open_index = self._open
        assert open_index is not None
        item = self.output[open_index]
        item["content"][0][field] += delta
        kind = "response.refusal.delta" if field == "refusal" else "response.output_text.delta"
        events.append(
            self._event(
                kind,
                item_id=item["id"],
                output_index=open_index,
                content_index=0,
                delta=delta,
                **extra,
            )
        )
        return events

    def annotate(self, annotation: JSON) -> list[JSON]:
        """A citation of the open message's text (`response.output_text.annotation.added`);
        nothing when no text is being written."""
        index = self._open
        if index is None or self.output[index]["type"] != "message":
            return []
        item = self.output[index]
        annotations = item["content"][0].setdefault("annotations", [])
        annotations.append(annotation)
        return [
            self._event(
                "response.output_text.annotation.added",
                item_id=item["id"],
                output_index=index,
                content_index=0,
                annotation_index=len(annotations) - 1,
                annotation=dict(annotation),
            )
        ]

    def reasoning(self, delta: str) -> list[JSON]:
        """The model's own reasoning (a chat server's `reasoning_content`: DeepSeek, vLLM): a
        `reasoning` item with one `reasoning_text` part, as OpenAI's open-weight models'."""
        events: list[JSON] = []
        index = self._open
        if index is None or self.output[index]["type"] != "reasoning":
            events += self.close_open()
            part: JSON = {"type": "reasoning_text", "text": ""}
            item: JSON = {"id": new_id("rs"), "type": "reasoning", "summary": [], "content": [part]}
            events += self._add(item)
            index = len(self.output) - 1
            common = {"item_id": item["id"], "output_index": index, "content_index": 0}
            events.append(self._event("response.content_part.added", **common, part=dict(part)))
        if delta:
            item = self.output[index]
            item["content"][0]["text"] += delta
            common = {"item_id": item["id"], "output_index": index, "content_index": 0}
            events.append(self._event("response.reasoning_text.delta", **common, delta=delta))
        return events

    def summarized_reasoning(self, item: JSON) -> list[JSON]:
        """A reasoning item whole, as OpenAI's reasoning models stream it: its summary parts
        (`response.reasoning_summary_part.added`, `.reasoning_summary_text.delta`, `.done`,
        `.reasoning_summary_part.done`), then the item done with its `encrypted_content`."""
        events = self.close_open()
        summary = item.get("summary") or []
        events += self._add({**item, "summary": []})
        index = len(self.output) - 1
        common = {"item_id": item["id"], "output_index": index}
        for number, part in enumerate(summary):
            text = part["text"]
            empty = {"type": "summary_text", "text": ""}
            at = {**common, "summary_index": number}
            events.append(self._event("response.reasoning_summary_part.added", **at, part=empty))
            events.append(self._event("response.reasoning_summary_text.delta", **at, delta=text))
            events.append(self._event("response.reasoning_summary_text.done", **at, text=text))
            done = {"type": "summary_text", "text": text}
            events.append(self._event("response.reasoning_summary_part.done", **at, part=done))
        self.output[index] = dict(item)
        self._open = None
        done_item = orjson.loads(orjson.dumps(item))
        events.append(self._event("response.output_item.done", output_index=index, item=done_item))
        return events

    def call_start(
        self, key: object, call_id: str, name: str, origin: ToolOrigin | None = None
    ) -> list[JSON]:
        """A function call begins; `key` names it in later `call_arguments`; `origin`: the
        custom or namespaced tool its function stands for (`chat_tools`)."""
        events = self.close_open()
        events += self._add(call_item(origin, call_id, name, "", status="in_progress"))
        self._calls[key] = len(self.output) - 1
        if origin is not None and origin.kind != "function":
            self._gathered[len(self.output) - 1] = ""
        return events

    def call_arguments(self, key: object, delta: str) -> list[JSON]:
        index = self._calls.get(key)
        if index is None or not delta:
            return []
        if index in self._gathered:
            self._gathered[index] += delta
            return []
        item = self.output[index]
        if item["type"] != "function_call":  # a late piece of a custom call already closed
            return []
        item["arguments"] += delta
        return [
            self._event(
                "response.function_call_arguments.delta",
                item_id=item["id"],
                output_index=index,
                delta=delta,
            )
        ]

    def carried_thinking(self, entry: JSON) -> list[JSON]:
        """A Claude thinking block (`carried_thinking`) ended: the reasoning item its text went
        into gets it as `encrypted_content` and is done (one made whole when none is open)."""
        index = self._open
        if index is not None and self.output[index]["type"] == "reasoning":
            self.output[index]["encrypted_content"] = as_encrypted_content(entry)
            return self.close_open()
        return self.whole_item(carried_thinking_item(new_id("rs"), entry))

    def _add(self, item: JSON) -> list[JSON]:
        self.output.append(item)
        self._open = len(self.output) - 1
        added = orjson.loads(orjson.dumps(item))
        return [self._event("response.output_item.added", output_index=self._open, item=added)]

    def whole_item(self, item: JSON) -> list[JSON]:
        """An item with no parts to stream (a compaction): its `.added` and `.done` at once."""
        events = self.close_open()
        self.output.append(item)
        index = len(self.output) - 1
        for kind in ("response.output_item.added", "response.output_item.done"):
            events.append(self._event(kind, output_index=index, item=dict(item)))
        return events

    def close_open(self, status: str = "completed") -> list[JSON]:
        """End the item being written (its `.done` events); `incomplete` when the answer was
        cut there (as OpenAI marks the item a `max_output_tokens` stop ends)."""
        index, self._open = self._open, None
        if index is None:
            return []
        item = self.output[index]
        item["status"] = status
        events: list[JSON] = []
        if item["type"] == "message":
            part = item["content"][0]
            common = {"item_id": item["id"], "output_index": index, "content_index": 0}
            if part["type"] == "refusal":
                done = self._event("response.refusal.done", **common, refusal=part["refusal"])
            else:
                done = self._event(
                    "response.output_text.done", **common, text=part["text"], logprobs=[]
                )
            events.append(done)
            events.append(self._event("response.content_part.done", **common, part=dict(part)))
        elif item["type"] == "reasoning":
            part = item["content"][0]
            common = {"item_id": item["id"], "output_index": index, "content_index": 0}
            events.append(self._event("response.reasoning_text.done", **common, text=part["text"]))
            events.append(self._event("response.content_part.done", **common, part=dict(part)))
        elif item["type"] == "custom_tool_call":
            events += self._custom_input(index, item)
        elif item["type"] == "tool_search_call":  # (no events of its own: the item says it)
            item["arguments"] = search_arguments(self._gathered.pop(index, ""))
        else:
            events.append(
                self._event(
                    "response.function_call_arguments.done",
                    item_id=item["id"],
                    output_index=index,
                    name=item["name"],
                    arguments=item["arguments"],
                )
            )
        done = orjson.loads(orjson.dumps(item))
        events.append(self._event("response.output_item.done", output_index=index, item=done))
        return events

    def _custom_input(self, index: int, item: JSON) -> list[JSON]:
        """A custom tool call's input, whole: its one delta and its `.done`."""
        item["input"] = custom_input(self._gathered.pop(index, ""))
        common = {"item_id": item["id"], "output_index": index}
        events = []
        if item["input"]:
            delta = "response.custom_tool_call_input.delta"
            events.append(self._event(delta, **common, delta=item["input"]))
        events.append(
            self._event("response.custom_tool_call_input.done", **common, input=item["input"])
        )
        return events

    def complete(self, usage: JSON | None, incomplete_reason: str | None = None) -> list[JSON]:
        """The end: close the open item, then `response.completed` (or `.incomplete`)."""
        if self.completed:
            return []
        self.completed = True
        events = self.close_open("incomplete" if incomplete_reason else "completed")
        self.response["usage"] = usage
        if incomplete_reason:
            self.response["status"] = "incomplete"
            self.response["incomplete_details"] = {"reason": incomplete_reason}
            kind = "response.incomplete"
        else:
            self.response["status"] = "completed"
            kind = "response.completed"
        events.append(self._event(kind, response=self._snapshot()))
        return events
