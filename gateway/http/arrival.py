"""A request as it arrives: its id, its headers, and the context the endpoints build from them.

Every endpoint that answers with a request record (the proxied routes, `/v1/models`, stored
responses, the catch-all 404) starts its request with `arrived`, so the id, the clocks and the
headers are taken the same way for each. The proxied routes start their trace inline (their
hot path); the others with `arrived_traced`, so every request that leaves a record is a span.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections.abc import Iterable

from starlette.types import Scope

from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.services import Services
from gateway.runtime import Runtime

_ID_PREFIX = secrets.token_hex(8)
_id_counter = itertools.count(1)

# Comma-separated lists: several lines of one are one list (RFC 9110, 5.3), not the last line.
# The credentials are joined too: a key sent twice is refused (authenticate), never the last
# one taken, which a proxy in front that adds its own may not expect. So is `traceparent`:
# several are invalid together (W3C), and the request starts a trace of its own; `tracestate`
# on several lines is one list (W3C).
LIST_HEADERS = frozenset(
    {"x-gateway-tags", "authorization", "x-api-key", "traceparent", "tracestate"}
)


def arrived(endpoint: Endpoint, runtime: Runtime, scope: Scope) -> RequestContext:
    """The context of a request that has just arrived on `endpoint`: a new request id (unique
    across processes by a random per-process prefix, with no syscall per request), the wall
    and monotonic clocks now, and the request's headers (names lower-case as ASGI gives them, a
    list sent on several lines joined: `LIST_HEADERS`); every other field at its default."""
    # The headers are read and the id minted here, not in functions of their own: this runs on
    # every proxied request, and each call is ~6 opcodes more.
    raw = scope["headers"]
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in raw}
    if len(headers) < len(raw):  # a name sent on several lines (rare)
        _join_lists(headers, raw)
    return RequestContext(
        endpoint,
        runtime,
        f"req_{_ID_PREFIX}{next(_id_counter):016x}",
        time.time(),
        time.monotonic(),
        headers,
    )


def arrived_traced(endpoint: Endpoint, services: Services, scope: Scope) -> RequestContext:
    """`arrived`, with the request's trace started as a proxied request's is (the client's
    `traceparent` continued, its sampled flag honoured) when `[tracing]` is on."""
    ctx = arrived(endpoint, services.runtime, scope)
    if services.tracer is not None:
        ctx.trace = services.tracer.start(ctx.headers)
    return ctx


def _join_lists(headers: dict[str, str], raw: Iterable[tuple[bytes, bytes]]) -> None:
    """Each of `LIST_HEADERS` sent on several lines becomes their comma-joined list in
    `headers` (else only its last line was kept)."""
    for name in LIST_HEADERS & headers.keys():
        lines = [v.decode("latin-1") for k, v in raw if k.decode("latin-1") == name]
        headers[name] = ",".join(lines)
