"""A strict server, as the ones operators put behind the gateway answer what they do not know:

- `POST /v1/messages` (an Anthropic-compatible Messages API that knows fewer betas than Claude
  Code sends, as Claude on Vertex behind a proxy): a request whose `anthropic-beta` header holds
  a value it does not know is its 400 "Unexpected value(s) `...` for the `anthropic-beta`
  header"; any other gets a short answer;
- `POST /v1/responses` (a Responses API proxy that refuses the fields it does not know, one at
  a time, as OpenCode's does Codex 0.155's): 400 "[invalid_request_error] unknown parameter
  `...`"; any other gets a short response.

Every request's `anthropic-beta` header is kept in `received` (None: none was sent), and its
body's field names in `fields`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

KNOWN = frozenset({"claude-code-20250219", "interleaved-thinking-2025-05-14"})
MESSAGE = {
    "id": "msg_strict",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-6",
    "content": [{"type": "text", "text": "Fixed."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 9, "output_tokens": 2},
}


RESPONSES_FIELDS = frozenset({"model", "input", "instructions", "tools", "stream", "text"})
RESPONSE = {
    "id": "resp_strict",
    "object": "response",
    "created_at": 1,
    "model": "open-model",
    "status": "completed",
    "output": [
        {
            "id": "msg_strict",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": "Fixed.", "annotations": []}],
        }
    ],
    "usage": {"input_tokens": 9, "output_tokens": 2, "total_tokens": 11},
}


class StrictUpstream(ThreadingHTTPServer):
    received: list[str | None]
    fields: list[list[str]]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StrictUpstream

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length") or 0)))
        self.server.fields.append(sorted(body))
        if self.path.endswith("/responses"):
            unknown = [name for name in body if name not in RESPONSES_FIELDS]
            if unknown:
                error = {"message": f"[invalid_request_error] unknown parameter `{unknown[0]}`"}
                self._send(400, json.dumps({"error": error}).encode())
            else:
                self._send(200, json.dumps(RESPONSE).encode())
            return
        header = self.headers.get("anthropic-beta")
        self.server.received.append(header)
        betas = [b.strip() for b in (header or "").split(",") if b.strip()]
        unknown = [b for b in betas if b not in KNOWN]
        if unknown:
            named = ", ".join(f"`{b}`" for b in unknown)
            message = (
                f"Unexpected value(s) {named} for the `anthropic-beta` header. Please consult "
                "our documentation at docs.anthropic.com or try again without the header."
            )
            error = {"type": "invalid_request_error", "message": message}
            self._send(400, json.dumps({"type": "error", "error": error}).encode())
            return
        self._send(200, json.dumps(MESSAGE).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@contextmanager
def running_strict_upstream() -> Iterator[StrictUpstream]:
    server = StrictUpstream(("127.0.0.1", 0), _Handler)
    server.received, server.fields = [], []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
