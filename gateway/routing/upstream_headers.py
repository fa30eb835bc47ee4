"""What the gateway reads and keeps of an upstream answer's headers: the wait it asks for
(`Retry-After`, `retry-after-ms`), its request id and its rate-limit headers (scrubbed)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from gateway.routing.exchange import Exchange
from gateway.scrub import Secrets


def parse_retry_after(value: str | None) -> float | None:
    """The wait a `Retry-After` (seconds) or `retry-after-ms` header names: a positive decimal
    number. Anything else names none (an HTTP date, 0, a negative, NaN, `1e3`, `1_000`): the
    caller's default applies, so a 429 always benches its deployment for a while."""
    if not value:
        return None
    value = value.strip()
    if _DELAY.fullmatch(value) is None:
        return None
    wait = float(value)
    return wait if wait > 0 else None


# delta-seconds (RFC 9110) are whole; OpenAI's `retry-after-ms` may carry a fraction.
_DELAY = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,9})?")


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """The wait an upstream asks for: `retry-after-ms` (OpenAI's, more precise) first, then
    `Retry-After`."""
    ms = parse_retry_after(headers.get("retry-after-ms"))
    if ms is not None:
        return ms / 1000
    return parse_retry_after(headers.get("retry-after"))


_RATE_LIMIT_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-")
# An upstream's request id is an id (OpenAI's `req_` and 32 characters), not the 100 kB a
# header may hold: it goes into every record and back to the client.
MAX_REQUEST_ID_CHARS = 256


def take_upstream_headers(exchange: Exchange, headers: Mapping[str, str], secrets: Secrets) -> None:
    """Keep what the client gets of an upstream answer's headers: its request id and its
    rate-limit headers (OpenAI's `x-ratelimit-*`, Anthropic's `anthropic-ratelimit-*`),
    scrubbed (an upstream may echo the key it was sent in them); the request id at most
    `MAX_REQUEST_ID_CHARS` characters."""
    # Azure names its error answers only by `apim-request-id` (its support asks for that one).
    request_id = (
        headers.get("x-request-id") or headers.get("request-id") or headers.get("apim-request-id")
    )
    limits = {k: v for k, v in headers.items() if k.startswith(_RATE_LIMIT_PREFIXES)}
    if request_id is not None or limits:
        kept = "\n".join((request_id or "", *limits.values()))
        if secrets.scrub(kept) != kept:
            request_id = secrets.scrub(request_id) if request_id is not None else None
            limits = {k: secrets.scrub(v) for k, v in limits.items()}
        # Scrubbed first, so no head of a key is left; a short id is returned as it is.
        request_id = request_id and request_id[:MAX_REQUEST_ID_CHARS]
    exchange.upstream_request_id = request_id
    exchange.upstream_headers = limits or None
