"""The request bodies one process holds at once, in bytes (`[server] max_inflight_body_bytes`).

`max_body_bytes` bounds one body and `max_connections` the connections, but not their product:
1,000 connections each sending a 4 MiB body would have the gateway hold 4 GB, and three times
that once parsed and re-encoded for the upstream, and the worker would be killed for memory,
every tenant's requests with it. A body is counted from its first byte until its request ends;
one that would take the total past the budget is refused with 503 `server_busy` and
`Retry-After: 1` (the OpenAI and Anthropic SDKs retry a 503 after a pause). While no other body
is held, a body is always taken, so a budget below `max_body_bytes` slows large bodies down but
never refuses one for ever.
"""

from __future__ import annotations

import logging

from gateway.errors import ServiceUnavailable
from gateway.http.refusals import RateLimitedLog

# At most one warning line per this many seconds while bodies are refused.
WARN_EVERY_S = 10.0


class BodyBudget:
    """Bytes of request bodies held by this process's requests in progress."""

    __slots__ = ("_warnings", "held")

    def __init__(self) -> None:
        self.held = 0
        self._warnings = RateLimitedLog(logging.getLogger("gateway.http"), WARN_EVERY_S)

    def take(self, size: int, limit: int) -> None:
        """Count `size` more bytes, or raise 503 `server_busy` if that passes `limit`."""
        if self.held and self.held + size > limit:
            self._warnings.warning(
                "server_busy",
                f"request bodies held reached [server] max_inflight_body_bytes ({limit}): "
                "refusing new bodies with 503 until some requests end",
            )
            raise ServiceUnavailable(
                "the gateway is holding as many request bodies as it may; retry shortly",
                code="server_busy",
                headers={"retry-after": "1"},
            )
        self.held += size

    def give(self, size: int) -> None:
        self.held -= size
