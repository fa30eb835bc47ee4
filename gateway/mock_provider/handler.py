"""The transport-independent core of the mock provider: request bytes in, a paced reply out.

`MockHandler.handle` serves the OpenAI endpoints (chat, legacy completions, Responses,
embeddings, models) and the Anthropic ones (messages, count_tokens), and injects the faults
named by the requested model (`fail-500`, `fail-429`, `fail-quota`, `fail-529`,
`fail-400-context`, `fail-timeout`, `drop-mid-stream`, `error-mid-stream`, `malformed`), with
the bodies and headers the real providers send.
The ASGI server (`server.py`) and the in-process upstream (`inprocess.py`) both wrap it.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import orjson

from gateway.mock_provider import render
from gateway.mock_provider.bodies import MockConnectionDrop, MockStats, OnceBody, StreamBody
from gateway.mock_provider.decisions import (
    CREATED_AT_PLACEHOLDER,
    CREATED_PLACEHOLDER,
    DONE,
    MODELS,
    Decision,
    decide,
    error_decision,
    json_decision,
    quoted,
)
from gateway.mock_provider.responses import ResponseStore, not_found

__all__ = ["MockConnectionDrop", "MockHandler", "MockReply", "MockStats"]

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
    "/v1/responses/compact": ("POST", "compact"),
    "/v1/responses/input_tokens": ("POST", "input_tokens"),
    "/v1/models": ("GET", "models"),
}
_JSON = "application/json"
_SSE_HEADERS = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
_MALFORMED_JSON = (
    b'{"id": "chatcmpl-malformed", "object": "chat.completion", "choices": [{"index": 0, '
)
_MALFORMED_OPENAI_STREAM = b'data: {"id": "chatcmpl-malformed", "choices": [{"delta": \n\n' + DONE
_MALFORMED_ANTHROPIC_STREAM = (
    b'event: message_start\ndata: {"type": "message_start", "message": \n\n'
)


@dataclass
class MockReply:
    status: int
    headers: dict[str, str]  # lower-case names, content-type included
    body: AsyncIterator[bytes]  # paced; raises MockConnectionDrop to simulate a dropped connection


class MockHandler:
    """Answers provider requests; its only state is the stats and a cache of decisions."""

    def __init__(self, latency_ms: float = 0, tokens_per_s: float = 0) -> None:
        self.latency_ms = latency_ms
        self.tokens_per_s = tokens_per_s
        self.stats = MockStats()
        self._latency_s = latency_ms / 1000 if latency_ms > 0 else 0.0
        self._frame_delay_s = 1.0 / tokens_per_s if tokens_per_s > 0 else 0.0
        self._cache: dict[tuple[str, bytes], Decision] = {}
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
            decision = Decision("error", "responses", decision.model, 400, payload)
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

    def _route(self, method: str, path: str, body: bytes) -> Decision:
        wire = "anthropic" if path.startswith("/v1/messages") else "openai"
        route = _ROUTES.get(path)
        if route is None and path.startswith("/v1/responses/"):
            return self._stored_response(method, path[len("/v1/responses/") :])
        if route is None:
            if path.startswith("/v1/models/") and method == "GET":
                return json_decision(wire, render.model_object(path[len("/v1/models/") :]))
            return error_decision(
                wire, 404, f"Unknown request URL: {method} {path}", "not_found_error", "unknown_url"
            )
        expected, endpoint = route
        if method != expected:
            return error_decision(
                wire,
                405,
                f"Method {method} not allowed for {path}",
                "invalid_request_error",
                "method_not_allowed",
            )
        if endpoint == "models":
            return MODELS
        key = (endpoint, body)
        decision = self._cache.get(key)
        if decision is None:
            decision = decide(endpoint, wire, body)
            if len(body) <= _CACHEABLE_BODY:
                if len(self._cache) >= _CACHE_SIZE:
                    self._cache.clear()
                self._cache[key] = decision
        return decision

    def _stored_response(self, method: str, response_id: str) -> Decision:
        """`GET` / `DELETE /v1/responses/{id}` of a response this mock remembers."""
        if method not in ("GET", "DELETE"):
            message = f"Method {method} not allowed for /v1/responses/{{id}}"
            return error_decision(
                "responses", 405, message, "invalid_request_error", "method_not_allowed"
            )
        stored = self.responses.get(response_id)
        if stored is None:
            return Decision("error", "responses", None, 404, orjson.dumps(not_found(response_id)))
        if method == "GET":
            return Decision("json", "responses", None, payload=stored)
        self.responses.delete(response_id)
        deleted = {"id": response_id, "object": "response", "deleted": True}
        return json_decision("responses", deleted)

    async def _reply(self, decision: Decision) -> MockReply:
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

    def _plan_reply(self, decision: Decision, drop: bool) -> MockReply:
        # Fill this response's id (and OpenAI's `created`) into the pre-rendered bytes; the
        # placeholders have the same length, so the piece boundaries stay where they were.
        serial = f"{self._id_prefix}{next(self._ids) & 0xFFFFFFFF:08x}".encode()
        raw = decision.payload.replace(
            decision.id_placeholder, decision.id_placeholder[:-17] + serial + b'"'
        )
        if decision.wire == "openai":
            raw = raw.replace(CREATED_PLACEHOLDER, b'"created":%d,' % int(time.time()))
        elif decision.wire == "responses":
            created_at = b'"created_at":%d,' % int(time.time())
            raw = raw.replace(CREATED_AT_PLACEHOLDER, created_at)
            if decision.stored:
                stored = decision.stored.replace(CREATED_AT_PLACEHOLDER, created_at)
                response_id = (decision.id_placeholder[1:-17] + serial).decode()
                self.responses.add(
                    response_id, stored.replace(decision.id_placeholder, quoted(response_id))
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


def _json_reply(status: int, payload: bytes, extra: tuple[tuple[str, str], ...]) -> MockReply:
    headers = {"content-type": _JSON, "content-length": str(len(payload))}
    headers.update(extra)
    return MockReply(status, headers, OnceBody(payload))
