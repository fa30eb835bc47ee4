"""An Anthropic-compatible Messages server that knows fewer betas than Claude Code sends, as
Claude on Vertex behind a proxy and other companies' Messages APIs answer: a request whose
`anthropic-beta` header holds a value it does not know is its 400 "Unexpected value(s) `...`
for the `anthropic-beta` header"; any other gets a short answer (JSON, or a stream). Every
request's `anthropic-beta` header is kept in `received` (None: none was sent)."""

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


class StrictBetas(ThreadingHTTPServer):
    received: list[str | None]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: StrictBetas

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
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
def running_strict_betas() -> Iterator[StrictBetas]:
    server = StrictBetas(("127.0.0.1", 0), _Handler)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
