"""The transport-independent core of the mock provider: request bytes in, a paced reply out.

`MockHandler.handle` serves the OpenAI endpoints (chat, legacy completions, Responses,
embeddings, models) and the Anthropic ones (messages, count_tokens), and injects the faults
named by the requested model (`fail-500`, `fail-429`, `fail-quota`, `fail-529`,
`fail-400-context`, `fail-timeout`, `drop-mid-stream`, `malformed`), with the bodies and headers
the real providers send.
The ASGI server (`server.py`) and the in-process upstream (`inprocess.py`) both wrap it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from gateway.mock_provider import render
from gateway.mock_provider.behaviour import (
    Plan,
    RequestError,
    count_message_tokens,
    plan_chat,
    plan_messages,
)
from gateway.mock_provider.bodies import MockConnectionDrop, MockStats, OnceBody, StreamBody
from gateway.mock_provider.completions import (
    plan_completion,
    text_completion,
    text_completion_frames,
)
from gateway.mock_provider.embeddings import embeddings_response
from gateway.mock_provider.errors import ERROR_FAULTS, error_answer, fault_error
from gateway.mock_provider.responses import (
    ResponseStore,
    not_found,
    plan_responses,
    render_response,
    render_stream,
)
from gateway.sse import encode_event

__all__ = ["MockConnectionDrop", "MockHandler", "MockReply", "MockStats"]

FAULT_MODELS = ERROR_FAULTS | {"fail-timeout", "drop-mid-stream", "malformed"}
# drop-mid-stream sends this many frames (after the opening events) and then drops.
DROP_AFTER_FRAMES = 3
_CACHE_SIZE = 512
_CACHEABLE_BODY = 16384

# path -> (method, endpoint)
_ROUTES = {
    "/v1/chat/completions": ("POST", "chat"),
    "/v1/completions": ("POST", "completions"),
    "/v1/messages": ("POST", "messages"),
    "/v1/messages/count_tokens": ("POST", "count_tokens"),
    "/v1/embeddings": ("POST", "embeddings"),
    "/v1/responses": ("POST", "responses"),
    "/v1/models": ("GET", "models"),
}
_JSON = "application/json"
_SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
_DONE = b"data: [DONE]\n\n"
# Placeholders exactly as long as what replaces them (16 hex digits; 10 digits of Unix time).
_OPENAI_ID = "chatcmpl-mock" + "#" * 16
_COMPLETION_ID = "cmpl-mock" + "#" * 16
_ANTHROPIC_ID = "msg_mock" + "#" * 16
_RESPONSES_ID = "resp_mock" + "#" * 16
_CREATED = 1000000000
_CREATED_PLACEHOLDER = b'"created":1000000000,'
_CREATED_AT_PLACEHOLDER = b'"created_at":1000000000,'
_STREAMING = ("chat", "messages", "responses", "completions")
_MALFORMED_JSON = (
    b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"index": 0, '
)
_MALFORMED_OPENAI_STREAM = b'data: {"id": "chatcmpl-malformed", "choices": [{"delta": \n\n' + _DONE
_MALFORMED_ANTHROPIC_STREAM = (
    b'event: message_start\ndata: {"type": "message_start", "message": \n\n'
)


@dataclass
class MockReply:
    status: int
    headers: dict[str, str]  # lower-case names, content-type included
    body: AsyncIterator[bytes]  # paced; raises MockConnectionDrop to simulate a dropped connection


@dataclass(frozen=True, slots=True)
class _Decision:
    """What to do with a request body; computed once per distinct body and cached."""

    action: str  # "plan" | "json" | "error" | "timeout" | "drop" | "malformed"
    wire: str  # "openai" | "anthropic" | "responses" (OpenAI errors)
    model: str | None = None
    status: int = 200
    payload: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()
    stream: bool = False
    # For rendered plans: the id placeholder inside `payload` and, for streams, piece offsets.
    id_placeholder: bytes = b""
    bounds: tuple[int, ...] = ()
    # Responses: the response object to remember (with the same placeholders), and the
    # `previous_response_id` the request names.
    stored: bytes = b""
    previous: str | None = None


class MockHandler:
    """Answers provider requests; its only state is the stats and a cache of decisions."""

    def __init__(self, latency_ms: float = 0, tokens_per_s: float = 0) -> None:
        self.latency_ms = latency_ms
        self.tokens_per_s = tokens_per_s
        self.stats = MockStats()
        self._latency_s = latency_ms / 1000 if latency_ms > 0 else 0.0
        self._frame_delay_s = 1.0 / tokens_per_s if tokens_per_s > 0 else 0.0
        self._cache: dict[tuple[str, bytes], _Decision] = {}
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()
        self.responses = ResponseStore()

    async def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes
    ) -> MockReply:
        """Answer one request. Sleeps `latency_ms` first; raises MockConnectionDrop for a drop."""
        stats = self.stats
        stats.note_request(method, path, headers, body)
        decision = self._route(method, path, body)
        if decision.model is not None:
            stats.by_model[decision.model] = stats.by_model.get(decision.model, 0) + 1
        if decision.previous is not None and self.responses.get(decision.previous) is None:
            payload = orjson.dumps(not_found(decision.previous, "previous_response_id"))
            decision = _Decision("error", "responses", decision.model, 404, payload)
        if self._latency_s:
            await asyncio.sleep(self._latency_s)
        return await self._reply(decision)

    def may_wait(self, body: bytes) -> bool:
        """Whether `handle` or its reply body can take time for this request body (latency,
        pacing, or the `fail-timeout` model), so a transport should watch for the client leaving.
        May say True when it need not; never False when it should."""
        # A model name spelled with JSON escapes could hide "fail-timeout": watch those too.
        return (
            bool(self._latency_s or self._frame_delay_s)
            or b"fail-timeout" in body
            or b"\\u" in body
        )

    def _route(self, method: str, path: str, body: bytes) -> _Decision:
        wire = "anthropic" if path.startswith("/v1/messages") else "openai"
        route = _ROUTES.get(path)
        if route is None and path.startswith("/v1/responses/"):
            return self._stored_response(method, path[len("/v1/responses/") :])
        if route is None:
            if path.startswith("/v1/models/") and method == "GET":
                return _json_decision(wire, render.model_object(path[len("/v1/models/") :]))
            return _error(
                wire, 404, f"Unknown request URL: {method} {path}", "not_found_error", "unknown_url"
            )
        expected, endpoint = route
        if method != expected:
            return _error(
                wire,
                405,
                f"Method {method} not allowed for {path}",
                "invalid_request_error",
                "method_not_allowed",
            )
        if endpoint == "models":
            return _MODELS
        key = (endpoint, body)
        decision = self._cache.get(key)
        if decision is None:
            decision = _decide(endpoint, wire, body)
            if len(body) <= _CACHEABLE_BODY:
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = decision
        return decision

    def _stored_response(self, method: str, response_id: str) -> _Decision:
        """`GET` / `DELETE /v1/responses/{id}` of a response this mock remembers."""
        if method not in ("GET", "DELETE"):
            message = f"Method {method} not allowed for /v1/responses/{{id}}"
            return _error("responses", 405, message, "invalid_request_error", "method_not_allowed")
        stored = self.responses.get(response_id)
        if stored is None:
            return _Decision("error", "responses", None, 404, orjson.dumps(not_found(response_id)))
        if method == "GET":
            return _Decision("json", "responses", None, payload=stored)
        self.responses.delete(response_id)
        deleted = {"id": response_id, "object": "response", "deleted": True}
        return _json_decision("responses", deleted)

    async def _reply(self, decision: _Decision) -> MockReply:
        action = decision.action
        if action == "plan":
            return self._plan_reply(decision, drop=False)
        if action == "json":
            return _json_reply(decision.status, decision.payload, decision.headers)
        if action == "error":
            # Each error answer has its own request id, as the providers' do.
            name = "request-id" if decision.wire == "anthropic" else "x-request-id"
            rid = (name, f"req_mock{self._id_prefix}{next(self._ids) & 0xFFFFFFFF:08x}")
            return _json_reply(decision.status, decision.payload, (*decision.headers, rid))
        if action == "timeout":
            await asyncio.get_running_loop().create_future()  # never answers; cancellable
        if action == "drop":
            if not decision.stream:
                raise MockConnectionDrop("connection dropped before the response")
            return self._plan_reply(decision, drop=True)
        # malformed
        if not decision.stream:
            return _json_reply(200, _MALFORMED_JSON, ())
        malformed = (
            _MALFORMED_ANTHROPIC_STREAM
            if decision.wire == "anthropic"
            else _MALFORMED_OPENAI_STREAM
        )
        return MockReply(
            200, dict(_SSE_HEADERS), StreamBody([malformed], 0.0, self.stats, drop=False)
        )

    def _plan_reply(self, decision: _Decision, drop: bool) -> MockReply:
        # Fill this response's id (and OpenAI's `created`) into the pre-rendered bytes; the
        # placeholders have the same length, so the piece boundaries stay where they were.
        serial = f"{self._id_prefix}{next(self._ids) & 0xFFFFFFFF:08x}".encode()
        raw = decision.payload.replace(
            decision.id_placeholder, decision.id_placeholder[:-17] + serial + b'"'
        )
        if decision.wire == "openai":
            raw = raw.replace(_CREATED_PLACEHOLDER, b'"created":%d,' % int(time.time()))
        elif decision.wire == "responses":
            created_at = b'"created_at":%d,' % int(time.time())
            raw = raw.replace(_CREATED_AT_PLACEHOLDER, created_at)
            if decision.stored:
                stored = decision.stored.replace(_CREATED_AT_PLACEHOLDER, created_at)
                response_id = (decision.id_placeholder[1:-17] + serial).decode()
                self.responses.add(
                    response_id, stored.replace(decision.id_placeholder, _quoted(response_id))
                )
        if not decision.stream:
            return _json_reply(200, raw, ())
        bounds = decision.bounds
        pieces = [raw[bounds[i] : bounds[i + 1]] for i in range(len(bounds) - 1)]
        if drop:
            pieces = pieces[:DROP_AFTER_FRAMES]
        return MockReply(
            200, dict(_SSE_HEADERS), StreamBody(pieces, self._frame_delay_s, self.stats, drop)
        )


def _rendered_responses(
    plan: Plan, request: dict[str, Any], model: str | None, action: str = "plan"
) -> _Decision:
    """A Responses plan rendered once, with placeholders for the id and `created_at`; the
    response object to remember too, unless `store` is false."""
    placeholder = _RESPONSES_ID
    previous = request.get("previous_response_id")
    previous = previous if isinstance(previous, str) else None
    common: dict[str, Any] = {"id_placeholder": _quoted(placeholder), "previous": previous}
    if not plan.stream:
        response = render_response(plan, request, placeholder, _CREATED)
        payload = orjson.dumps(response)
        stored = payload if request.get("store") is not False else b""
        return _Decision(action, "responses", model, payload=payload, stored=stored, **common)
    frames, final = render_stream(plan, request, placeholder, _CREATED)
    pieces = [
        b"".join([encode_event(orjson.dumps(e), e["type"]) for e in frame]) for frame in frames
    ]
    stored = orjson.dumps(final) if request.get("store") is not False else b""
    return _Decision(
        action, "responses", model, payload=b"".join(pieces), stored=stored,
        bounds=_bounds(pieces), stream=True, **common,
    )  # fmt: skip


def _bounds(pieces: list[bytes]) -> tuple[int, ...]:
    bounds = [0]
    for piece in pieces:
        bounds.append(bounds[-1] + len(piece))
    return tuple(bounds)


# How a plan renders: (id placeholder, the JSON answer, the stream's frames).
_Shape = tuple[str, Callable[[Plan, str, int], Any], Callable[[Plan, str, int], list[render.Frame]]]
_CHAT: _Shape = (_OPENAI_ID, render.openai_completion, render.openai_stream_frames)
_COMPLETION: _Shape = (_COMPLETION_ID, text_completion, text_completion_frames)
_MESSAGES: _Shape = (
    _ANTHROPIC_ID,
    lambda plan, message_id, _: render.anthropic_message(plan, message_id),
    lambda plan, message_id, _: render.anthropic_stream_frames(plan, message_id),
)


def _rendered(
    wire: str, plan: Plan, model: str | None, action: str = "plan", completion: bool = False
) -> _Decision:
    """Render the plan once, with placeholders where each response's id and timestamp go;
    `completion`: as a legacy text completion."""
    anthropic = wire == "anthropic"
    placeholder, whole, frames_of = _MESSAGES if anthropic else _COMPLETION if completion else _CHAT
    quoted = _quoted(placeholder)
    if not plan.stream:
        payload = orjson.dumps(whole(plan, placeholder, _CREATED))
        return _Decision(action, wire, model, payload=payload, id_placeholder=quoted)
    pieces = [
        b"".join([encode_event(orjson.dumps(e), e["type"] if anthropic else None) for e in frame])
        for frame in frames_of(plan, placeholder, _CREATED)
    ]
    if not anthropic:
        pieces[-1] += _DONE
    return _Decision(
        action, wire, model, payload=b"".join(pieces), id_placeholder=quoted,
        bounds=_bounds(pieces), stream=True,
    )  # fmt: skip


def _quoted(text: str) -> bytes:
    return b'"' + text.encode() + b'"'


def _decide(endpoint: str, wire: str, body: bytes) -> _Decision:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return _error(
            wire,
            400,
            f"We could not parse the JSON body of your request: {exc}",
            "invalid_request_error",
        )
    model = data.get("model") if isinstance(data, dict) else None
    model = model if isinstance(model, str) else None
    stream = isinstance(data, dict) and data.get("stream") is True
    try:
        if model in FAULT_MODELS:
            return _fault(model, endpoint, wire, data, stream)
        if endpoint == "chat":
            return _rendered(wire, plan_chat(data), model)
        if endpoint == "completions":
            return _rendered(wire, plan_completion(data), model, completion=True)
        if endpoint == "messages":
            return _rendered(wire, plan_messages(data), model)
        if endpoint == "responses":
            return _rendered_responses(plan_responses(data), data, model)
        if endpoint == "count_tokens":
            return _json_decision(wire, {"input_tokens": count_message_tokens(data)}, model)
        return _json_decision(wire, embeddings_response(data), model)
    except RequestError as exc:
        return _error(wire, 400, exc.message, "invalid_request_error", param=exc.param, model=model)


def _fault(model: str, endpoint: str, wire: str, data: Any, stream: bool) -> _Decision:
    if model in ERROR_FAULTS:
        answer = fault_error(model, wire)
        return _Decision(
            "error", wire, model, status=answer.status, payload=answer.payload,
            headers=answer.headers,
        )  # fmt: skip
    if model == "fail-timeout":
        return _Decision("timeout", wire, model)
    if model == "drop-mid-stream":
        if stream and endpoint == "responses":
            return _rendered_responses(plan_responses(data), data, model, action="drop")
        if stream and endpoint == "completions":
            return _rendered(wire, plan_completion(data), model, "drop", completion=True)
        if stream and endpoint in _STREAMING:
            plan = plan_chat(data) if endpoint == "chat" else plan_messages(data)
            return _rendered(wire, plan, model, action="drop")
        return _Decision("drop", wire, model)
    return _Decision("malformed", wire, model, stream=stream and endpoint in _STREAMING)


def _error(
    wire: str,
    status: int,
    message: str,
    kind: str,
    code: str | None = None,
    *,
    param: str | None = None,
    model: str | None = None,
) -> _Decision:
    answer = error_answer(wire, status, message, kind, code, param=param)
    return _Decision("error", wire, model, status=status, payload=answer.payload)


def _json_decision(wire: str, data: Any, model: str | None = None) -> _Decision:
    return _Decision("json", wire, model, payload=orjson.dumps(data))


_MODELS = _json_decision("openai", render.models_list())


def _json_reply(status: int, payload: bytes, extra: tuple[tuple[str, str], ...]) -> MockReply:
    headers = {"content-type": _JSON, "content-length": str(len(payload))}
    headers.update(extra)
    return MockReply(status, headers, OnceBody(payload))
