"""A raw-socket HTTP/1.1 client for tests that send what no SDK would (hostile clients)."""

from __future__ import annotations

import json
import socket
from typing import Any

from tests.procs import Proc


def address(proc: Proc) -> tuple[str, int]:
    host, port = proc.url.removeprefix("http://").rsplit(":", 1)
    return host, int(port)


def connect(proc: Proc, timeout_s: float = 10.0) -> socket.socket:
    sock = socket.create_connection(address(proc), timeout=timeout_s)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One response read to its end (the gateway closes refused connections after it)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    while len(body) < int(headers.get("content-length", "0")):
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside the body"
        body += chunk
    return int(status_line.split()[1]), headers, body


def refusal(sock: socket.socket) -> tuple[int, dict[str, Any]]:
    status, headers, body = read_response(sock)
    assert headers["content-type"] == "application/json"
    return status, json.loads(body)
