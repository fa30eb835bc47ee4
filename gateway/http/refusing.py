"""The deadlines and refusals of the HTTP protocol `gateway serve` gives uvicorn
(`protocol.GuardedHttpToolsProtocol`, which reads the requests and says when to refuse): the
head and body deadlines (408, checked again one loop iteration later), and a refusal answered
in the route's JSON error shape, after the answers owed to the requests pipelined before it,
then the connection kept open at most `LINGER_S` so the client reads the answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from gateway.config.types import ServerConfig
from gateway.errors import GatewayError, HeadersTooLarge, RequestTimeout
from gateway.http.coalescing import CoalescingHttpToolsProtocol
from gateway.http.framing import RefusalApp, mark_body_refused
from gateway.http.refusals import RateLimitedLog, refusal_bytes, wire_for_url

log = logging.getLogger("gateway.http")
# Longest a refused connection is kept open, reading and dropping, after its answer.
LINGER_S = 2.0
# The app's lifespan state may hold, under this key, a callable counting a refusal by reason.
COUNT_REFUSAL_STATE = "gateway.count_http_refusal"

_REFUSALS = RateLimitedLog(log)


class RefusingHttpToolsProtocol(CoalescingHttpToolsProtocol):
    """The coalescing protocol with deadlines and refusals; the state they read is made by the
    protocol that inherits it (`GuardedHttpToolsProtocol.__init__`)."""

    limits: ServerConfig
    _head_bytes: int  # bytes received since this request's head began
    _owed_refusal: bytes | None
    _deadline: asyncio.TimerHandle | None
    _last_body_at: float
    _refused: bool
    _confirming: bool

    def _too_large(self) -> HeadersTooLarge:
        limits = self.limits
        return HeadersTooLarge(
            f"request headers exceed the limit of {limits.max_header_bytes} bytes "
            f"or {limits.max_headers} headers"
        )

    def _arm(self, delay_s: float, callback: Callable[[], None]) -> None:
        self._cancel_deadline()
        self._deadline = self.loop.call_later(delay_s, callback)

    def _cancel_deadline(self) -> None:
        self._confirming = False
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_too_slow(self) -> None:
        self._deadline = None
        if not self._confirm(self._head_too_slow):
            return
        if not self._head_bytes:
            self.transport.close()  # no request started: nothing to answer
            return
        timeout = self.limits.header_timeout_s
        message = f"the request headers did not arrive within {timeout:g} s"
        self._refuse(RequestTimeout(message), "header_timeout")

    def _confirm(self, callback: Callable[[], None]) -> bool:
        """Whether a deadline that passed still holds one loop iteration later.

        Timers run before the loop reads its sockets: after the loop was busy, bytes the
        client sent in time may still wait to be read. Look again after they were."""
        if self._confirming:
            self._confirming = False
            return True
        self._confirming = True
        self._deadline = self.loop.call_later(0.001, callback)
        return False

    def _body_too_slow(self) -> None:
        self._deadline = None
        timeout = self.limits.body_timeout_s
        now = self.loop.time()
        if self.flow.read_paused:
            # The app is behind, not the client: the wait does not count against it.
            self._last_body_at = now
        idle = now - self._last_body_at
        if idle < timeout:
            self._confirming = False
            self._arm(timeout - idle, self._body_too_slow)
            return
        if not self._confirm(self._body_too_slow):
            return
        cycle = self.cycle
        if cycle.response_started:
            self.transport.close()  # answered before the body came; it never finished
            return
        message = f"the request body stalled for more than {timeout:g} s"
        self._refuse_running(RequestTimeout(message), "body_timeout")

    def _refuse_body(self, error: GatewayError) -> None:
        """The body of the last request parsed cannot be read (`framing.py`): refuse it."""
        cycle = self.cycle
        pipeline = self.pipeline
        if pipeline and pipeline[0][0] is cycle:  # queued: answered in its turn, then closed
            self._refused = True
            self._cancel_deadline()
            pipeline[0] = (cycle, RefusalApp(error, wire_for_url(self.url)))
            self._count_refusal(error, "invalid_http")
        elif cycle.response_started:
            self._refused = True
            self._cancel_deadline()
            self.transport.close()  # answered before its body came; the body is broken
        else:
            self._refuse_running(error, "invalid_http")

    def _refuse_running(self, error: GatewayError, reason: str) -> None:
        """Refuse the request the app is reading the body of: the app's own answer is
        dropped, and it records `error` (`framing.body_refusal`)."""
        cycle = self.cycle
        mark_body_refused(cycle.scope, error)
        cycle.disconnected = True
        cycle.message_event.set()
        self._refuse(error, reason, at_once=True)

    def _refuse(self, error: GatewayError, reason: str, *, at_once: bool = False) -> None:
        """Answer `error` in the route's shape, stop reading requests, close soon. The answer
        waits for those of the requests before it on this connection (pipelined: HTTP answers
        in order), unless `at_once` (the refused request is the one being answered)."""
        self._refused = True
        self._cancel_deadline()
        self._unset_keepalive_if_required()
        self._count_refusal(error, reason)
        headers = (("retry-after", "1"),) if error.status == 503 else ()
        answer = refusal_bytes(error, wire_for_url(getattr(self, "url", b"")), headers)
        if not at_once and self._answers_owed():
            self._owed_refusal = answer  # written by `on_response_complete`
            return
        self._send_refusal(answer)

    def _count_refusal(self, error: GatewayError, reason: str) -> None:
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "client"
        _REFUSALS.warning(reason, f"{client}: {error.status} {error.code}: {error.message}")
        count = self.app_state.get(COUNT_REFUSAL_STATE)
        if count is not None:
            count(reason)

    def _answers_owed(self) -> bool:
        """Whether a request before the refused one still waits for its answer."""
        cycle = self.cycle
        return bool(self.pipeline) or (cycle is not None and not cycle.response_complete)

    def _send_refusal(self, answer: bytes) -> None:
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(answer)
        try:
            transport.write_eof()
        except (NotImplementedError, OSError, RuntimeError):
            transport.close()
            return
        self._deadline = self.loop.call_later(LINGER_S, transport.close)
