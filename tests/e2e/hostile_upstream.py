"""An upstream that lies, on a raw socket: it writes the bytes a hostile or broken
OpenAI-compatible (or Anthropic) server would, chosen by the upstream model name it is asked for.

- `key-401`, `key-400`, `key-500`: an error answer quoting the credentials it was sent (in the
  message, `param` and `code`, as some servers do);
- `key-stream`: a stream that sends one chunk, then an error event quoting the credentials;
- `usage-huge`, `usage-negative`, `usage-string`, `choices-null`: JSON answers with that flaw;
- `stream-usage-huge`, `stream-usage-negative`: streams whose usage chunk has that flaw;
- `stream-no-end`: a stream that ends (cleanly, at the HTTP level) without `[DONE]` or a
  finish_reason (Anthropic: without `message_stop`);
- `done-then-hold`: a whole stream, `[DONE]` (Anthropic: `message_stop`) included, whose body
  then stays open for a minute without its end (a slow last write, a proxy holding it);
- `failed-then-hold`: a Responses stream ending with `response.failed`, whose body then stays
  open for a minute without its end;
- `random-code`: a stream that sends one chunk, then an error event naming a code (OpenAI) or
  type (Anthropic) never sent before, as a broken server or a proxy in front of it might;
- `tail-then-error`: a stream that sends one chunk, then in one write two more chunks (Anthropic:
  text deltas) and an error event after them;
- `echo-<form>`: a 401 whose message quotes the key it was sent encoded as `echo_forms.ECHOES`
  names (base64 of `user:key`, URL-encoded, in a JSON dump with `\\/` escapes, ...);
- `answer-echoes-key`: a successful answer (JSON, or a stream when asked for one) whose content
  quotes the key it was sent, as a debug proxy or a model given the key in a prompt might; the
  stream cuts the event holding the key between two writes, in the middle of the key;
- `counter`: a fresh answer every time (its text is the request number), to see cache hits;
- anything else: a normal answer.

Every request body received is kept in `bodies` (what reached the provider).
"""

from __future__ import annotations

import itertools
import json
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.e2e.echo_forms import ECHOES

PROVIDER_KEY = "hostile-provider-key-9d8c7b6a5f4e3d2c1b0a"
# A key in an answer's code sample: shaped like a credential, but no secret of the gateway's.
SAMPLE_KEY = "sk-sample-0123456789abcdef"


# Between the pieces of a stream: each reaches the gateway as its own read.
PACE_S = 0.02
# In a reply's pieces: write nothing more, and keep the connection open (for a minute at most).
_HOLD = b"\x00hold"


def _chunked(pieces: list[bytes]) -> list[bytes]:
    return [b"%x\r\n%s\r\n" % (len(p), p) for p in pieces if p] + [b"0\r\n\r\n"]


def _failed_response_events() -> list[dict[str, Any]]:
    """A Responses stream whose response failed after its first text."""
    response: dict[str, Any] = {"id": "resp_hostile", "object": "response"}
    failed = {**response, "status": "failed", "output": [], "usage": None}
    failed["error"] = {"code": "server_error", "message": "The model crashed mid-answer."}
    return [
        {"type": "response.created", "response": {**response, "status": "in_progress"}},
        {"type": "response.output_text.delta", "delta": "Hi"},
        {"type": "response.failed", "response": failed},
    ]


def _responses_event(event: dict[str, Any]) -> bytes:
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def _answer(
    status: int, body: bytes | list[bytes], stream: bool = False, headers: str = ""
) -> list[bytes]:
    """The response as the pieces to write, paced (a stream's chunks) or at once; `headers`:
    more header lines, each ending in CRLF."""
    if isinstance(body, list):
        head = (
            f"HTTP/1.1 {status} OK\r\ncontent-type: text/event-stream\r\n{headers}"
            "transfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        )
        return [head.encode(), *body]
    head = (
        f"HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return [head.encode() + body]


# Headers that echo the key (as a proxy that logs its request into the answer might).
ECHOING_HEADERS = (
    f"x-request-id: req-{PROVIDER_KEY}\r\nrequest-id: {PROVIDER_KEY}\r\n"
    f"x-ratelimit-remaining-requests: 9 (key {PROVIDER_KEY})\r\n"
    f"retry-after: {PROVIDER_KEY}\r\n"
    f"set-cookie: sid={PROVIDER_KEY}; Path=/\r\n"
    f'www-authenticate: Bearer realm="{PROVIDER_KEY}"\r\n'
    "server: hostile-upstream/1.0\r\n"
)


def _openai_chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    chunk = {
        "id": "chatcmpl-h",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "h",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _usage_chunk(prompt: Any) -> bytes:
    usage = {"prompt_tokens": prompt, "completion_tokens": 2, "total_tokens": 3}
    chunk = {"id": "chatcmpl-h", "object": "chat.completion.chunk", "choices": [], "usage": usage}
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


def _anthropic_event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _anthropic_start() -> list[bytes]:
    message: dict[str, object] = {
        "id": "msg_h",
        "type": "message",
        "role": "assistant",
        "model": "h",
        "content": [],
        "stop_reason": None,
        "usage": {"input_tokens": 3, "output_tokens": 0},
    }
    block = {
        "type": "content_block_start",
        "index": 0,
        "content_block": {"type": "text", "text": ""},
    }
    delta = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "Hi"},
    }
    return [
        _anthropic_event("message_start", {"type": "message_start", "message": message}),
        _anthropic_event("content_block_start", block),
        _anthropic_event("content_block_delta", delta),
    ]


# The text `tail-then-error` writes together with its error event.
TAIL = (" there", ", friend")


def _text_delta(text: str) -> dict[str, Any]:
    return {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": text},
    }


def _tail_then_error(anthropic: bool) -> list[bytes]:
    """`tail-then-error`: the first text, then in one write more text and an error event."""
    if anthropic:
        failed = {"type": "error", "error": {"type": "api_error", "message": "it broke"}}
        tail = [_anthropic_event("content_block_delta", _text_delta(t)) for t in TAIL]
        return [*_anthropic_start(), b"".join([*tail, _anthropic_event("error", failed)])]
    error = {"message": "it broke", "type": "server_error", "code": None}
    tail = [_openai_chunk({"content": t}) for t in TAIL]
    event = b"data: " + json.dumps({"error": error}).encode() + b"\n\n"
    return [_openai_chunk({"role": "assistant", "content": "Hi"}), b"".join([*tail, event])]


def _key_answer(key: str, stream: bool) -> list[bytes]:
    """A 200 answer whose text quotes `key` (and a sample key, which is no secret)."""
    text = f"Your key is {key}; a sample: {SAMPLE_KEY}."
    if not stream:
        message = {"role": "assistant", "content": text}
        answer = {
            "id": "chatcmpl-k",
            "object": "chat.completion",
            "created": 1,
            "model": "answer-echoes-key",
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 9, "total_tokens": 12},
        }
        return _answer(200, json.dumps(answer).encode())
    event = _openai_chunk({"role": "assistant", "content": text})
    cut = event.index(key.encode()) + len(key) // 2
    events = [event[:cut], event[cut:], _openai_chunk({}, "stop"), b"data: [DONE]\n\n"]
    return _answer(200, _chunked(events), stream=True)


class HostileUpstream:
    """The server; `url` is its base (OpenAI providers add `/v1`)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self._count = itertools.count(1)
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                more = conn.recv(65536)
                if not more:
                    return
                data += more
            head, _, body = data.partition(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines[1:])}
            length = int(headers.get("content-length", "0"))
            while len(body) < length:
                more = conn.recv(65536)
                if not more:
                    return
                body += more
            request = json.loads(body)
            self.bodies.append(request)
            credentials = headers.get("authorization") or headers.get("x-api-key", "")
            anthropic = lines[0].split()[1].endswith("/messages")
            pieces = self._reply(str(request.get("model")), credentials, anthropic, request)
            try:
                for number, piece in enumerate(pieces):
                    if number > 1:
                        time.sleep(PACE_S)
                    if piece == _HOLD:  # the body stays open, unended, until the gateway leaves
                        conn.settimeout(60)
                        conn.recv(1)
                        return
                    conn.sendall(piece)
            except OSError:
                pass  # the gateway stopped reading: what it does then is the test

    def _reply(
        self, model: str, credentials: str, anthropic: bool, request: dict[str, Any]
    ) -> list[bytes]:
        leak = f"Incorrect API key provided: {credentials}. Check x-api-key: {PROVIDER_KEY}"
        if model == "key-headers":
            ok = {"error": {"message": "try later", "type": "server_error", "code": None}}
            return _answer(503, json.dumps(ok).encode(), headers=ECHOING_HEADERS)
        if model == "answer-echoes-key":
            return _key_answer(credentials.removeprefix("Bearer "), bool(request.get("stream")))
        if model.startswith("echo-"):
            key = credentials.removeprefix("Bearer ")
            seen = f"credentials seen: {ECHOES[model.removeprefix('echo-')](key)}"
            error = {"message": seen, "type": "authentication_error", "code": "invalid_api_key"}
            return _answer(401, json.dumps({"error": error}).encode())
        if model.startswith("key-") and model != "key-stream":
            error = {"message": leak, "type": "invalid_request_error", "param": credentials}
            error["code"] = PROVIDER_KEY
            return _answer(int(model[4:]), json.dumps({"error": error}).encode())
        if model == "key-stream":
            if anthropic:
                events = _anthropic_start()
                failed = {"type": "error", "error": {"type": "api_error", "message": leak}}
                events.append(_anthropic_event("error", failed))
            else:
                events = [_openai_chunk({"role": "assistant", "content": "Hi"})]
                events.append(
                    b"data: " + json.dumps({"error": {"message": leak}}).encode() + b"\n\n"
                )
            return _answer(200, _chunked(events), stream=True)
        if model == "random-code":
            code = f"lie_{next(self._count)}_{secrets.token_hex(4)}"
            if anthropic:
                events = _anthropic_start()
                failed = {"type": "error", "error": {"type": code, "message": "it broke"}}
                events.append(_anthropic_event("error", failed))
            else:
                events = [_openai_chunk({"role": "assistant", "content": "Hi"})]
                error = {"message": "it broke", "type": code, "code": code}
                events.append(b"data: " + json.dumps({"error": error}).encode() + b"\n\n")
            return _answer(200, _chunked(events), stream=True)
        if model == "tail-then-error":
            return _answer(200, _chunked(_tail_then_error(anthropic)), stream=True)
        if model == "stream-forever":  # one event, then a comment now and then, for a minute
            start = _anthropic_start() if anthropic else [_openai_chunk({"content": "Hi"})]
            pings = [b": ping\n\n"] * int(60 / PACE_S)
            return _answer(200, _chunked([*start, *pings]), stream=True)
        if model == "done-then-hold":
            if anthropic:
                stop = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
                stop["usage"] = {"output_tokens": 1}
                events = [
                    *_anthropic_start(),
                    _anthropic_event("content_block_stop", {"type": "content_block_stop"}),
                    _anthropic_event("message_delta", stop),
                    _anthropic_event("message_stop", {"type": "message_stop"}),
                ]
            else:
                events = [
                    _openai_chunk({"role": "assistant", "content": "Hi"}),
                    _openai_chunk({}, "stop"),
                    _usage_chunk(3),
                    b"data: [DONE]\n\n",
                ]
            held = [b"%x\r\n%s\r\n" % (len(event), event) for event in events]
            return _answer(200, [*held, _HOLD], stream=True)
        if model == "failed-then-hold":
            events = [_responses_event(event) for event in _failed_response_events()]
            held = [b"%x\r\n%s\r\n" % (len(event), event) for event in events]
            return _answer(200, [*held, _HOLD], stream=True)
        if model == "stream-no-end":
            if anthropic:
                return _answer(200, _chunked(_anthropic_start()), stream=True)
            events = [_openai_chunk({"role": "assistant", "content": "Hi, and then"})]
            return _answer(200, _chunked(events), stream=True)
        if model.startswith("stream-usage-"):
            prompt: Any = 10**30 if model.endswith("huge") else -(10**9)
            events = [
                _openai_chunk({"role": "assistant", "content": "Hi"}),
                _openai_chunk({}, "stop"),
                _usage_chunk(prompt),
                b"data: [DONE]\n\n",
            ]
            return _answer(200, _chunked(events), stream=True)
        text = str(next(self._count)) if model == "counter" else "Hello"
        if anthropic:
            answer: dict[str, Any] = {
                "id": "msg_h",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 3, "output_tokens": 1},
            }
            return _answer(200, json.dumps(answer).encode())
        usage: dict[str, Any] = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
        answer = {
            "id": "chatcmpl-h",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                }
            ],
            "usage": usage,
        }
        if model == "usage-huge":
            usage["prompt_tokens"] = 10**30
        elif model == "usage-negative":
            usage["prompt_tokens"] = -(10**9)
        elif model == "usage-string":
            usage["prompt_tokens"] = "12"
        elif model == "choices-null":
            answer["choices"] = None
        if request.get("stream"):
            events = [
                _openai_chunk({"role": "assistant", "content": text}),
                _openai_chunk({}, "stop"),
                b"data: [DONE]\n\n",
            ]
            return _answer(200, _chunked(events), stream=True)
        return _answer(200, json.dumps(answer).encode())

    def close(self) -> None:
        self._sock.close()


@contextmanager
def running_hostile_upstream() -> Iterator[HostileUpstream]:
    server = HostileUpstream()
    server._thread.start()
    try:
        yield server
    finally:
        server.close()
