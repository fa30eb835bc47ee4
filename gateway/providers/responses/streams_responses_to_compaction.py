"""A Responses upstream's stream of a summary -> the Responses stream of a compaction (a
`compaction_trigger` request to a provider whose server does not compact: `compaction`).

The upstream's events are read, not relayed: the client gets `response.created` and
`response.in_progress` with the first of them, then, once the upstream's response is complete,
the one `compaction` item holding its text (`.added` and `.done`) and `response.completed` with
its usage, as OpenAI's compaction streams. An upstream `error` event, or a response that
failed, is the stream's error.
"""

from __future__ import annotations

from gateway.errors import GatewayError
from gateway.json_types import JSON
from gateway.providers.responses.compaction import compaction_item
from gateway.providers.responses.events import ResponseEvents, encode
from gateway.providers.responses.objects import new_id, output_text
from gateway.providers.responses.stream_passthrough import ResponsesStreamPassthrough


class ResponsesToCompactionStream(ResponsesStreamPassthrough):
    def __init__(self, request: JSON) -> None:
        super().__init__()
        self._events = ResponseEvents(request, new_id("resp"), str(request.get("model") or ""))
        self._started = False

    def feed(self, chunk: bytes) -> list[bytes]:
        out = self._start()
        try:
            super().feed(chunk)  # (read: the final response, its usage, an error)
        except GatewayError as exc:
            exc.pending = out
            raise
        return out

    def finish(self) -> list[bytes]:
        """The compaction item, then `response.completed`."""
        super().finish()
        if self.failure is not None:  # the stream's error, not relayed as it came
            failure, self.failure = self.failure, None
            raise failure
        assert self.response is not None  # (`finish` above raises without one)
        if isinstance(self.response.get("model"), str):
            self._events.response["model"] = self.response["model"]
        out = self._start()
        events = self._events.whole_item(compaction_item(output_text(self.response)))
        events += self._events.complete(self.response.get("usage"))
        return out + [encode(event) for event in events]

    def _start(self) -> list[bytes]:
        if self._started:
            return []
        self._started = True
        return [encode(event) for event in self._events.start()]
