"""An upstream that thinks aloud: OpenAI-compatible chat with `reasoning_content` (as vLLM and
DeepSeek send it), Anthropic Messages with a signed `thinking` block, and the Responses API
with a reasoning summary; JSON and streams (reasoning streamed one character per event). The
reasoning names an email address; each answer is "Hello!". It keeps the last body it received.
Asked for the model `opener`, its streams put the whole texts in the events that open a block
or an item, and stream no deltas (as a hostile or future upstream could).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

EMAIL = "jane.roe@example.org"
THOUGHT = f"The user signed as {EMAIL}; I should greet her."
SIGNATURE = "RXVjbGlkIHNpZ25lZCB0aGlz"
ANSWER = "Hello!"


def _sse(event: dict[str, Any], name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return (head + "data: " + json.dumps(event) + "\n\n").encode()


def _chat(stream: bool) -> Iterator[bytes] | dict[str, Any]:
    usage = {"prompt_tokens": 5, "completion_tokens": 9, "total_tokens": 14}
    if not stream:
        message = {"role": "assistant", "content": ANSWER, "reasoning_content": THOUGHT}
        return {
            "id": "chatcmpl-r",
            "object": "chat.completion",
            "created": 1,
            "model": "reasoner",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": usage,
        }
    base = {"id": "chatcmpl-r", "object": "chat.completion.chunk", "created": 1, "model": "r"}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": None, "reasoning_content": ""}]
    deltas += [{"reasoning_content": c} for c in THOUGHT] + [{"content": ANSWER}]
    events = [
        {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    events.append({**base, "choices": [], "usage": usage})
    return iter([*(_sse(e) for e in events), b"data: [DONE]\n\n"])


def _messages(stream: bool) -> Iterator[bytes] | dict[str, Any]:
    usage = {"input_tokens": 5, "output_tokens": 9}
    thinking = {"type": "thinking", "thinking": THOUGHT, "signature": SIGNATURE}
    message = {
        "id": "msg_r",
        "type": "message",
        "role": "assistant",
        "model": "thinker",
        "content": [thinking, {"type": "text", "text": ANSWER}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": usage,
    }
    if not stream:
        return message
    start = {**message, "content": [], "stop_reason": None}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"type": "message_start", "message": start})
    ]
    block = {"type": "thinking", "thinking": "", "signature": ""}
    events.append(
        ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
    )
    for c in THOUGHT:
        delta = {"type": "thinking_delta", "thinking": c}
        events.append(
            ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        )
    signed = {"type": "signature_delta", "signature": SIGNATURE}
    events.append(
        ("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": signed})
    )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 0}))
    text = {"type": "text", "text": ""}
    events.append(
        ("content_block_start", {"type": "content_block_start", "index": 1, "content_block": text})
    )
    delta = {"type": "text_delta", "text": ANSWER}
    events.append(
        ("content_block_delta", {"type": "content_block_delta", "index": 1, "delta": delta})
    )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": 1}))
    end = {"stop_reason": "end_turn", "stop_sequence": None}
    events.append(("message_delta", {"type": "message_delta", "delta": end, "usage": usage}))
    events.append(("message_stop", {"type": "message_stop"}))
    return iter([_sse(data, name) for name, data in events])


def _responses(stream: bool) -> Iterator[bytes] | dict[str, Any]:
    reasoning = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": THOUGHT}],
    }
    text = {"type": "output_text", "text": ANSWER, "annotations": []}
    message = {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [text],
    }
    response = {
        "id": "resp_r",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "responder",
        "output": [reasoning, message],
        "usage": {"input_tokens": 5, "output_tokens": 9, "total_tokens": 14},
    }
    if not stream:
        return response
    events: list[dict[str, Any]] = [
        {
            "type": "response.created",
            "response": {**response, "status": "in_progress", "output": []},
        },
        {
            "type": "response.output_item.added",
            "output_index": 0,
            "item": {**reasoning, "summary": []},
        },
    ]
    where = {"item_id": "rs_1", "output_index": 0, "summary_index": 0}
    events += [
        {"type": "response.reasoning_summary_text.delta", **where, "delta": c} for c in THOUGHT
    ]
    events += [
        {"type": "response.reasoning_summary_text.done", **where, "text": THOUGHT},
        {"type": "response.reasoning_summary_part.done", **where, "part": reasoning["summary"][0]},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        {
            "type": "response.output_item.added",
            "output_index": 1,
            "item": {**message, "content": []},
        },
        {
            "type": "response.output_text.delta",
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "delta": ANSWER,
        },
        {
            "type": "response.output_text.done",
            "item_id": "msg_1",
            "output_index": 1,
            "content_index": 0,
            "text": ANSWER,
        },
        {"type": "response.output_item.done", "output_index": 1, "item": message},
        {"type": "response.completed", "response": response},
    ]
    numbered = [{**e, "sequence_number": n} for n, e in enumerate(events)]
    return iter([_sse(e, e["type"]) for e in numbered])


def _opened_messages() -> Iterator[bytes]:
    """A Messages stream whose blocks start with their whole text: no deltas."""
    message: dict[str, Any] = {"id": "msg_o", "type": "message", "role": "assistant"}
    message |= {"model": OPENER, "content": [], "stop_reason": None, "stop_sequence": None}
    thinking = {"type": "thinking", "thinking": THOUGHT, "signature": ""}
    signed = {"type": "signature_delta", "signature": SIGNATURE}
    text = {"type": "text", "text": f"Hello {EMAIL}!"}
    events: list[tuple[str, dict[str, Any]]] = [
        ("message_start", {"message": {**message, "usage": {"input_tokens": 5}}}),
        ("content_block_start", {"index": 0, "content_block": thinking}),
        ("content_block_delta", {"index": 0, "delta": signed}),
        ("content_block_stop", {"index": 0}),
        ("content_block_start", {"index": 1, "content_block": text}),
        ("content_block_stop", {"index": 1}),
        ("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 9}}),
        ("message_stop", {}),
    ]
    return iter([_sse({"type": name, **data}, name) for name, data in events])


def _opened_responses() -> Iterator[bytes]:
    """A Responses stream whose items are added with their whole text: no deltas."""
    response = _responses(False)
    assert isinstance(response, dict)
    reasoning, message = response["output"]
    message = {**message, "content": [{**message["content"][0], "text": f"Hello {EMAIL}!"}]}
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**response, "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": reasoning},
        {"type": "response.output_item.done", "output_index": 0, "item": reasoning},
        {"type": "response.output_item.added", "output_index": 1, "item": message},
        {"type": "response.output_item.done", "output_index": 1, "item": message},
        {"type": "response.completed", "response": {**response, "output": [reasoning, message]}},
    ]
    numbered = [{**e, "sequence_number": n} for n, e in enumerate(events)]
    return iter([_sse(e, e["type"]) for e in numbered])


OPENER = "opener"
_ROUTES = {"/v1/chat/completions": _chat, "/v1/messages": _messages, "/v1/responses": _responses}
_OPENED = {"/v1/messages": _opened_messages, "/v1/responses": _opened_responses}


class _Handler(BaseHTTPRequestHandler):
    server: ReasoningUpstream

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        self.server.bodies.append(body)
        if body.get("model") == OPENER and body.get("stream"):
            answer: Iterator[bytes] | dict[str, Any] = _OPENED[self.path]()
        else:
            answer = _ROUTES[self.path](bool(body.get("stream")))
        self.send_response(200)
        if isinstance(answer, dict):
            payload = json.dumps(answer).encode()
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for event in answer:
            self.wfile.write(event)
            self.wfile.flush()

    def log_message(self, *args: Any) -> None:
        pass


class ReasoningUpstream(ThreadingHTTPServer):
    bodies: list[dict[str, Any]]


@contextmanager
def running_reasoning_upstream() -> Iterator[ReasoningUpstream]:
    """The upstream on a loopback port (`server_address`), serving from a thread."""
    server = ReasoningUpstream(("127.0.0.1", 0), _Handler)
    server.bodies = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
