"""Chat completion chunks of a summary -> the Responses stream of a compaction (a request
whose input ends with `compaction_trigger`, to a deployment without the Responses API:
`compaction`).

The summary is gathered, not streamed: the client gets `response.created` and
`response.in_progress` with the first chunk, then, once the upstream ended, the one `compaction`
item (`.added` and `.done`) and `response.completed` with the usage, as OpenAI's compaction
streams. A summary cut short (`length`) is still the compaction, and the response `completed`:
Codex takes nothing else.
"""

from __future__ import annotations

from gateway.json_types import JSON
from gateway.providers.responses.compaction import compaction_item
from gateway.providers.responses.responses_chat_to_responses import chat_usage_to_responses
from gateway.providers.responses.streams_chat_to_responses import ChatToResponsesStream


class ChatToCompactionStream(ChatToResponsesStream):
    """`ChatToResponsesStream`'s opening, the answer's text kept for the one item at the end."""

    def feed(self, chunk: JSON) -> list[JSON]:
        out, choice = self._first_choice(chunk)
        if choice is None:
            return out
        delta = choice.get("delta")
        content = delta.get("content") if isinstance(delta, dict) else None
        if isinstance(content, str) and content:
            self.events.texts.append(content)
        return out

    def finish(self) -> list[JSON]:
        """The compaction item, then `response.completed`."""
        out = self._start({})
        out += self.events.whole_item(compaction_item("".join(self.events.texts)))
        return out + self.events.complete(chat_usage_to_responses(self.usage))
