"""A Microsoft Entra ID token endpoint on loopback, for tests: it answers
`POST /{tenant}/oauth2/v2.0/token` as login.microsoftonline.com does and `GET` (IMDS, App Service)
as the managed identity endpoints do.

Each token is a new JWT-shaped value (`token(n)` is the n-th, from 1) valid for the next value of
`lifetimes` (the last one repeats). `failures` answers the next requests with those errors
first; `refusal`, every request. While `gate` is clear, answers wait for it (`held` counts the
requests waiting).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

AADSTS_401 = {
    "error": "invalid_client",
    "error_description": "AADSTS7000215: Invalid client secret provided. Ensure the secret "
    "being sent in the request is the client secret value.",
    "error_codes": [7000215],
}


def token(n: int) -> str:
    """The n-th token the server issues: shaped as a JWT, as Entra ID's are."""
    payload = base64.urlsafe_b64encode(json.dumps({"n": n, "aud": "cog"}).encode()).decode()
    return f"eyJhbGciOiJSUzI1NiJ9.{payload.rstrip('=')}.c2lnbmF0dXJl{n}"


@dataclass
class TokenRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    form: dict[str, str]


@dataclass
class TokenServer:
    url: str
    lifetimes: list[float] = field(default_factory=lambda: [3600.0])
    failures: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    # Every request answered with this error, when set.
    refusal: tuple[int, dict[str, Any]] | None = None
    received: list[TokenRequest] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    held: int = 0
    issued: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if self.refusal is not None:
                return self.refusal
            if self.failures:
                return self.failures.pop(0)
            self.issued += 1
            lifetime = self.lifetimes[min(self.issued, len(self.lifetimes)) - 1]
            return 200, {
                "token_type": "Bearer",
                "expires_in": int(lifetime),
                "ext_expires_in": int(lifetime),
                "access_token": token(self.issued),
            }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: ClassVar[TokenServer]

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        self._serve(form)

    def do_GET(self) -> None:
        self._serve({})

    def _serve(self, form: dict[str, str]) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        headers = {k.lower(): v for k, v in self.headers.items()}
        state = self.state
        with state.lock:
            state.received.append(TokenRequest(self.command, url.path, query, headers, form))
            state.held += 1
        state.gate.wait()
        with state.lock:
            state.held -= 1
        status, body = state.answer()
        if status == 200 and self.command == "GET":  # IMDS: numbers as strings
            body = {**body, "expires_in": str(body["expires_in"])}
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


@contextmanager
def running_token_server() -> Iterator[TokenServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    state = TokenServer(f"http://127.0.0.1:{server.server_address[1]}")
    state.gate.set()
    server.RequestHandlerClass = type("Handler", (_Handler,), {"state": state})
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.gate.set()
        server.shutdown()
        server.server_close()
