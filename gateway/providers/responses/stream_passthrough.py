"""The stream of a Responses upstream relayed to a Responses client (`ResponsesPassthrough`):
events forwarded as received, the final response and its usage read on the way; and the
failure a failed response reports of itself (`response_failure`), streamed or JSON."""

from __future__ import annotations

from gateway.errors import GatewayError, UpstreamFailed, UpstreamStreamError
from gateway.json_types import JSON
from gateway.providers.base import RelaysFailure, Usage, parse_upstream_json
from gateway.providers.responses.objects import usage_from_responses, usage_with_searches
from gateway.providers.service_tiers import with_tier
from gateway.providers.upstream_errors import stream_error_from_upstream
from gateway.sse import EventBuffer, parse_event

_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})
# The events that carry, beside the answer's text, what the model wrote (billed as output).
_WRITTEN_EVENTS = frozenset(
    {
        "response.function_call_arguments.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_text.delta",
        "response.refusal.delta",
    }
)


def stream_event_json(data: bytes) -> JSON:
    """One upstream stream event's data parsed (a malformed one is the upstream's failure)."""
    return parse_upstream_json(data, "upstream sent a malformed stream event")


class ResponsesStreamPassthrough(RelaysFailure):
    """Forwards Responses events unchanged, as received, reading the final response and its
    usage on the way.

    Only the events that end a response (`response.completed`, `.incomplete`, `.failed`) are
    parsed as they pass (the usage and the final object are in them); the text deltas are kept
    as bytes and read only when the text is asked for (no usage, logged bodies, remote
    guardrails). A stream that ends without a final event is reported as failed (`finish`);
    one whose final event is `response.failed` is relayed as it is and its error kept in
    `failure`; an `error` event ends it with the gateway's error event, its code kept.
    """

    def __init__(self) -> None:
        self._buffer = EventBuffer()
        self._deltas: list[bytes] = []  # the data of each response.output_text.delta
        self._written: list[bytes] = []  # ... and of every other delta the model wrote
        self.usage: Usage | None = None
        self.response: JSON | None = None  # the final response object, once it arrived

    @property
    def text(self) -> list[str]:
        parts: list[str] = []
        for data in self._deltas:
            delta = stream_event_json(data).get("delta")
            if isinstance(delta, str):
                parts.append(delta)
        return parts

    def written_text(self) -> str:
        """All the model wrote so far (`WritesText`), for counting its tokens: its reasoning,
        refusals and function-call arguments, then its text; read only for an estimate."""
        written = [stream_event_json(data).get("delta") for data in self._written]
        return "".join(d for d in written if isinstance(d, str)) + "".join(self.text)

    @property
    def finish_reason(self) -> str | None:
        """The final response's `status` (`ReportsFinish`), once it arrived."""
        status = self.response.get("status") if self.response is not None else None
        return status if isinstance(status, str) else None

    def feed(self, chunk: bytes) -> list[bytes]:
        complete = self._buffer.take(chunk)
        if not complete:
            return []
        try:
            for part in complete.split(b"\n\n")[:-1]:
                name, data = _name_and_data(part)
                if name == "response.output_text.delta":
                    self._deltas.append(data)
                elif name in _WRITTEN_EVENTS:
                    self._written.append(data)
                elif name == "error":
                    raise stream_error_from_upstream(
                        _error_of(stream_event_json(data)), anthropic=False
                    )
                elif name in _FINAL_EVENTS or (name is None and data and data != b"[DONE]"):
                    self._final(stream_event_json(data))
            return [complete]
        except GatewayError as exc:  # the events before `part` are the client's all the same
            # An event's fate depends on its bytes alone: the first like `part` is the one.
            parts = complete.split(b"\n\n")
            exc.pending = [b"".join(p + b"\n\n" for p in parts[: parts.index(part)])]
            raise

    def _final(self, parsed: JSON) -> None:
        if parsed.get("type") not in _FINAL_EVENTS:
            return
        response = parsed.get("response")
        if isinstance(response, dict):
            self.response = response
            usage = usage_from_responses(response.get("usage")) or self.usage
            if usage is not None:
                usage = with_tier(usage_with_searches(usage, response), response)
            self.usage = usage
            if parsed["type"] == "response.failed":
                self.failure = _failed(response.get("error"))

    def finish(self) -> list[bytes]:
        if self.response is None:
            raise UpstreamFailed(
                "upstream stream ended before its response was complete",
                code="stream_interrupted",
            )
        return []


def _error_of(event: JSON) -> object:
    """The error of a Responses `error` event: its own `code`, `message` and `param` (the
    event's `type` is "error", no error type), or an `error` object when it holds one."""
    nested = event.get("error")
    if isinstance(nested, dict):
        return nested
    return {name: event.get(name) for name in ("code", "message", "param")}


def response_failure(response: JSON | None) -> UpstreamStreamError | None:
    """The failure a JSON Responses answer reports of itself (`"status": "failed"`, its
    `error`), relayed to the client as it is and recorded as the failure a stream's
    `response.failed` is, but its message "upstream answer failed: ..." (no stream was
    involved); None for any other answer (`incomplete` is a truncation, no failure)."""
    if response is None or response.get("status") != "failed":
        return None
    return _failed(response.get("error"), prefix="upstream answer failed")


def _failed(error: object, *, prefix: str = "upstream stream error") -> UpstreamStreamError:
    """The error of a failed response (`{"code", "message"}`): of a `response.failed` event's,
    or of a JSON answer's (`response_failure`), its message led by `prefix`."""
    fields = error if isinstance(error, dict) else {}
    if not fields.get("message"):
        fields = {**fields, "message": "the response failed"}
    return stream_error_from_upstream(fields, anthropic=False, prefix=prefix)


def _name_and_data(part: bytes) -> tuple[str | None, bytes]:
    """(event name, data) of one SSE event without its blank line; the common shape
    (`event: X` then one `data:` line) without the general parser."""
    if part.startswith(b"event: "):
        newline = part.find(b"\n")
        if newline > 0 and part.startswith(b"data: ", newline + 1) and part.count(b"\n") == 1:
            return part[7:newline].decode(), part[newline + 7 :]
    event = parse_event(part + b"\n\n")
    if event is None:
        return None, b""
    return event.event, event.data
