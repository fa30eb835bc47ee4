"""Chat completion chunks -> Responses API stream events (for upstreams without Responses).

A small state machine over parsed chunks: feed it each `chat.completion.chunk`, send on the
events it returns, call `finish()` once the upstream ended. The first chunk opens the response
(`response.created`, `response.in_progress`); reasoning deltas (`reasoning_content`) become
`response.reasoning_text.delta` in a `reasoning` item (which a Claude thinking block's
`reasoning_details` entry then closes, as its `encrypted_content`, when the request asks for
the encrypted reasoning: `anthropic.carried_thinking`); content deltas become
`response.output_text.delta` in one `message` item, refusal deltas `response.refusal.delta` in
a message item of their own; each tool call (by its chat `index`, and its id when a server
reuses one `index` for several) becomes a `function_call` item with
`response.function_call_arguments.delta` events (or the `custom_tool_call`, namespaced call or
`tool_search_call` its function stands for: `chat_tools`); the finish reason and the usage
chunk are kept for the closing `response.completed` (`response.incomplete` after `length`).
Only the first choice is followed (Responses has no `n`).
"""

from __future__ import annotations

from typing import Any

from gateway.json_types import JSON
from gateway.providers.anthropic.carried_thinking import claude_entries
from gateway.providers.chat_reasoning import reasoning_text
from gateway.providers.responses.chat_tools import tool_origins
from gateway.providers.responses.events import ResponseEvents
from gateway.providers.responses.objects import asks_encrypted_reasoning, new_id
from gateway.providers.responses.responses_chat_to_responses import (
    INCOMPLETE_REASONS,
    chat_usage_to_responses,
)
from gateway.providers.responses.web_search import responses_annotation


class ChatToResponsesStream:
    def __init__(self, request: JSON, response_id: str) -> None:
        self.events = ResponseEvents(request, response_id, str(request.get("model") or ""))
        self._call_ids: dict[Any, str] = {}  # each call's key (its chat `index`) -> its id
        self._origins = tool_origins(request)
        self.usage: JSON | None = None  # the chat usage, once the upstream sent it
        self._started = False
        self._finish_reason: str | None = None
        self._carries_thinking = asks_encrypted_reasoning(request)  # (`carried_thinking`)

    @property
    def response(self) -> JSON:
        """The response so far (final once `finish` returned)."""
        return self.events.response

    def _first_choice(self, chunk: JSON) -> tuple[list[JSON], JSON | None]:
        """The opening events (with the first chunk), and the chunk's first choice, if it has
        one (Responses has no `n`); the usage kept when the chunk carries it."""
        out = self._start(chunk)
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        choice = choices[0] if isinstance(choices, list) and choices else None
        if not isinstance(choice, dict) or choice.get("index", 0) != 0:
            return out, None
        return out, choice

    def feed(self, chunk: JSON) -> list[JSON]:
        out, choice = self._first_choice(chunk)
        if choice is None:
            return out
        delta = choice.get("delta")
        delta = delta if isinstance(delta, dict) else {}
        thought = reasoning_text(delta)
        if thought:
            out += self.events.reasoning(thought)
        for entry in claude_entries(delta) if self._carries_thinking else ():
            out += self.events.carried_thinking(entry)
        content = delta.get("content")
        if isinstance(content, str) and content:
            out += self.events.text(content)
        for annotation in delta.get("annotations") or ():
            if (cited := responses_annotation(annotation)) is not None:
                out += self.events.annotate(cited)
        refusal = delta.get("refusal")
        if isinstance(refusal, str) and refusal:
            out += self.events.refusal(refusal)
        for call in delta.get("tool_calls") or ():
            if not isinstance(call, dict):
                continue
            key = call.get("index", 0)
            function = call.get("function")
            function = function if isinstance(function, dict) else {}
            name = function.get("name")
            if self._starts_call(key, call.get("id"), name):
                call_id = str(call.get("id") or new_id("call"))
                self._call_ids[key] = call_id
                called = str(name or "")
                out += self.events.call_start(key, call_id, called, self._origins.get(called))
            arguments = function.get("arguments")
            if isinstance(arguments, str):
                out += self.events.call_arguments(key, arguments)
        if choice.get("finish_reason"):
            self._finish_reason = str(choice["finish_reason"])
        return out

    def _starts_call(self, key: object, call_id: object, name: object) -> bool:
        """Does this tool-call delta begin a call? A key (`index`) not seen yet does; a seen one
        only with another id: some compatible servers repeat the id and name on every chunk of
        a call, others omit `index` (or send 0) for every call and only the id tells them
        apart."""
        known = self._call_ids.get(key)
        if known is None:
            return bool(call_id or name)
        return bool(call_id) and str(call_id) != known

    def finish(self) -> list[JSON]:
        """The closing events (the output items' `.done`, then `response.completed`)."""
        out = self._start({})
        reason = INCOMPLETE_REASONS.get(self._finish_reason or "")
        return out + self.events.complete(chat_usage_to_responses(self.usage), reason)

    def _start(self, chunk: JSON) -> list[JSON]:
        if self._started:
            return []
        self._started = True
        if isinstance(chunk.get("model"), str) and chunk["model"]:
            self.events.response["model"] = chunk["model"]
        return self.events.start()
