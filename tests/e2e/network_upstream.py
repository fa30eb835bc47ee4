"""Servers for the upstream network e2e tests, each on a thread: an HTTPS OpenAI/Azure-shaped
upstream signed by a private CA (trustme), recording what it received, and an HTTP CONNECT proxy
that alone can resolve the upstream's name."""

from __future__ import annotations

import json
import select
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import brotli
import trustme

# Only the proxy knows this name: the gateway cannot reach the upstream without it.
UPSTREAM_HOST = "upstream.test"


@dataclass
class Received:
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Upstream:
    port: int
    ca_file: Path
    received: list[Received] = field(default_factory=list)


def _completion(model: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-net",
            "object": "chat.completion",
            "created": 1,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "over the wire"},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }
    ).encode()


def _stream(model: str) -> bytes:
    base = {"id": "chatcmpl-net", "object": "chat.completion.chunk", "created": 1, "model": model}
    events = [
        {**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
        for w in ("over ", "the ", "wire")
    ]
    events.append(
        {
            **base,
            "choices": [],
            "usage": {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8},
        }
    )
    return b"".join(b"data: " + json.dumps(e).encode() + b"\n\n" for e in events) + (
        b"data: [DONE]\n\n"
    )


# Azure API Management in front of Azure OpenAI: a request under this prefix needs this
# subscription key in `Ocp-Apim-Subscription-Key`, else APIM's own 401.
APIM_PREFIX = "/apim"
APIM_SUBSCRIPTION_KEY = "apim-subscription-0123456789abcdef"
# Its answer to a wrong or missing key, word for word.
APIM_DENIED = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. Make sure to provide a valid "
    "key for an active subscription.",
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: ClassVar[Upstream]  # set on a subclass made per server

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        url = urlsplit(self.path)
        headers = {k.lower(): v for k, v in self.headers.items()}
        self.upstream.received.append(Received(url.path, url.query, headers, body))
        if url.path.startswith(APIM_PREFIX + "/"):
            if headers.get("ocp-apim-subscription-key") != APIM_SUBSCRIPTION_KEY:
                self._answer(401, json.dumps(APIM_DENIED).encode())
                return
        stream = bool(body.get("stream"))
        if stream and body["model"] == "trickle":
            self._trickle(_stream(body["model"]))
            return
        data = _stream(body["model"]) if stream else _completion(body["model"])
        self.send_response(200)
        self.send_header("content-type", "text/event-stream" if stream else "application/json")
        if not stream and "br" in headers.get("accept-encoding", ""):
            data = bytes(brotli.compress(data))  # as a CDN in front of a provider would
            self.send_header("content-encoding", "br")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _answer(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _trickle(self, data: bytes) -> None:
        """The stream one event per chunk, a little apart, as a model generates it."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in data.split(b"\n\n")[:-1]:
            event += b"\n\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(event), event))
            self.wfile.flush()
            time.sleep(0.02)
        self.wfile.write(b"0\r\n\r\n")

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def running_https_upstream(directory: Path) -> Iterator[Upstream]:
    """The upstream on 127.0.0.1 with a certificate for UPSTREAM_HOST and 127.0.0.1 from a CA
    made here (its PEM in `directory`)."""
    ca = trustme.CA()
    ca_file = directory / "private-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(UPSTREAM_HOST, "127.0.0.1").configure_cert(context)

    class Handler(_Handler):
        pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    Handler.upstream = Upstream(server.server_address[1], ca_file)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Handler.upstream
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@dataclass
class Proxy:
    url: str
    targets: list[str] = field(default_factory=list)


class _ProxyHandler(socketserver.BaseRequestHandler):
    proxy: ClassVar[Proxy]  # set on a subclass made per server

    def handle(self) -> None:
        client: socket.socket = self.request
        head = b""
        while b"\r\n\r\n" not in head:
            data = client.recv(4096)
            if not data:
                return
            head += data
        method, target, _ = head.split(b"\r\n", 1)[0].decode().split(" ", 2)
        self.proxy.targets.append(target)
        if method != "CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            return
        host, _, port = target.rpartition(":")
        address = "127.0.0.1" if host == UPSTREAM_HOST else host
        with socket.create_connection((address, int(port)), timeout=5) as upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            _pipe(client, upstream)


def _pipe(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    while True:
        readable, _, _ = select.select(sockets, [], [], 10)
        if not readable:
            return
        for sock in readable:
            data = sock.recv(65536)
            if not data:
                return
            (b if sock is a else a).sendall(data)


@contextmanager
def running_connect_proxy() -> Iterator[Proxy]:

    class ProxyHandler(_ProxyHandler):
        pass

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), ProxyHandler)
    server.daemon_threads = True
    ProxyHandler.proxy = Proxy(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ProxyHandler.proxy
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
