"""Answers the HTTP server writes by itself, before a request reaches the app.

A request refused while its head is read (431 headers too large, 408 too slow, 400 not HTTP,
503 over `max_connections`) has no ASGI scope yet; it still gets a JSON body in the error shape
of the route it asked for (Anthropic under `/v1/messages`, OpenAI everywhere else), then the
connection closes. `RateLimitedLog` keeps a flood of such refusals to one log line per second
per reason.
"""

from __future__ import annotations

import http
import logging
import time

from gateway.errors import GatewayError, WireFormat

_ANTHROPIC_PATH = b"/v1/messages"


def wire_for_url(url: bytes) -> WireFormat:
    """The error shape of the route a request target names (origin or absolute form)."""
    path = url.partition(b"?")[0]
    if not path.startswith(b"/"):
        path = b"/" + path.partition(b"://")[2].partition(b"/")[2]
    return "anthropic" if path.startswith(_ANTHROPIC_PATH) else "openai"


def refusal_bytes(
    error: GatewayError, wire: WireFormat, headers: tuple[tuple[str, str], ...] = ()
) -> bytes:
    """A complete `connection: close` response carrying `error` in the `wire` shape."""
    body = error.body(wire)
    try:
        phrase = http.HTTPStatus(error.status).phrase
    except ValueError:
        phrase = ""
    lines = [
        f"HTTP/1.1 {error.status} {phrase}",
        "content-type: application/json",
        f"content-length: {len(body)}",
        "connection: close",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class RateLimitedLog:
    """At most one WARNING per `every_s` per reason; the lines held back are counted in the
    next one."""

    def __init__(self, logger: logging.Logger, every_s: float = 1.0) -> None:
        self.logger = logger
        self.every_s = every_s
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warning(self, reason: str, message: str) -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -self.every_s) < self.every_s:
            self._held[reason] = self._held.get(reason, 0) + 1
            return
        self._last[reason] = now
        held = self._held.pop(reason, 0)
        suffix = f" ({held} more since the last such line)" if held else ""
        self.logger.warning("%s%s", message, suffix)


class CapacityLog:
    """One line when a process reaches `max_connections`, one when it is below it again (each
    at most once a second: a process hovering at the cap does not flood the log)."""

    full = False

    def __init__(self, log: logging.Logger) -> None:
        self._log = RateLimitedLog(log)

    def refused(self, limit: int) -> None:
        if not self.full:
            self.full = True
            message = f"max_connections ({limit}) reached: new connections get 503 until some close"
            self._log.warning("reached", message)

    def accepted(self) -> None:
        if self.full:
            self.full = False
            self._log.warning("below", "connections are below max_connections again")
