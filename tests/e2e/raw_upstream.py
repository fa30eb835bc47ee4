"""A small raw-socket upstream for tests that need what a real provider sends, byte for byte.

Each request is answered by the reply registered for its body's `model` (status, headers and
body copied from real OpenAI and Anthropic answers), on a connection of its own. A model
registered as `HANG` reads the request and never answers: the server then records when the
gateway closed that connection, so a test can measure how fast an abandoned call is cut off.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

HANG = None


@dataclass(frozen=True)
class Reply:
    """An answer: a JSON body, or bytes sent as they are (an SSE stream's events, with
    `content_type = "text/event-stream"`). With `held`, the body is sent chunked: `body`, then
    `then` once the test sets `held` (the server clears it again), so a test can see the
    gateway pass on the first part before the rest exists."""

    status: int
    body: Mapping[str, object] | bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    then: bytes = b""
    held: threading.Event | None = None

    def encode(self) -> bytes:
        body = self.body
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        head = [f"HTTP/1.1 {self.status} X", f"content-type: {self.content_type}"]
        head += [f"{k}: {v}" for k, v in self.headers.items()]
        if self.held is not None:
            head += ["transfer-encoding: chunked", "connection: close", "", ""]
            return "\r\n".join(head).encode() + _chunk(payload)
        head += [f"content-length: {len(payload)}", "connection: close", "", ""]
        return "\r\n".join(head).encode() + payload

    def send(self, conn: socket.socket) -> None:
        conn.sendall(self.encode())
        if self.held is not None:
            if not self.held.wait(10):
                raise AssertionError("the test never released the rest of the reply")
            self.held.clear()
            conn.sendall(_chunk(self.then) + b"0\r\n\r\n")


def _chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data) if data else b""


@dataclass
class Hung:
    """A request left unanswered: when it arrived, and when the gateway closed its socket."""

    arrived: float
    closed: float | None = None
    done: threading.Event = field(default_factory=threading.Event)


class RawUpstream:
    def __init__(self, replies: dict[str, Reply | None]) -> None:
        self.replies = replies
        self.calls: Counter[str] = Counter()
        self.hung: list[Hung] = []
        self.arrived = threading.Condition()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._open: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            self._open.add(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                model = _read_model(conn)
            except (OSError, ValueError):
                return
            reply = self.replies[model]
            if reply is not None:
                with self.arrived:
                    self.calls[model] += 1
                    self.arrived.notify_all()
                reply.send(conn)
                return
            hung = Hung(time.monotonic())
            with self.arrived:
                self.calls[model] += 1
                self.hung.append(hung)
                self.arrived.notify_all()
            try:
                while conn.recv(4096):
                    pass
            except OSError:
                pass
            hung.closed = time.monotonic()
            hung.done.set()
        self._open.discard(conn)

    def wait_hung(self, count: int, timeout_s: float = 10.0) -> Hung:
        """The `count`-th unanswered request, once it has arrived."""
        with self.arrived:
            if not self.arrived.wait_for(lambda: len(self.hung) >= count, timeout_s):
                raise AssertionError(f"request {count} never reached the upstream")
            return self.hung[count - 1]

    def close(self) -> None:
        # Closing a socket does not wake a thread blocked in its accept() (the join below waited
        # out its 5 s at every module's end); shutting it down does (EINVAL).
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        for conn in list(self._open):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)


def _read_model(conn: socket.socket) -> str:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("closed before the headers")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            raise ValueError("closed before the body")
        body += chunk
    return str(json.loads(body)["model"])
