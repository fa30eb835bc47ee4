"""Answers the cache never stores although they came with status 200: a Responses API answer
that says it failed (`"status": "failed"`, or a stream that ends with `response.failed`). The
upstream reports the failure inside the answer, so nothing before the store sees an error; a
stored one would be replayed, as a success, to every identical request until it expires.

An answer cut short by a limit the request set (a chat `finish_reason: "length"`, a Responses
`incomplete` answer for `max_output_tokens`) is stored: the limit is part of the key, and the
same request gets the same cut.
"""

from __future__ import annotations

import orjson

from gateway.cache.events import decoded_events

FAILED_EVENT = "response.failed"


def failed_answer(endpoint_kind: str, payload: bytes | list[bytes]) -> bool:
    """Whether the answer `payload` (a JSON body, or a stream's pieces as sent) reports its own
    failure. Only Responses answers can: other endpoints' failures are errors or error events,
    which are never stored."""
    if endpoint_kind != "responses":
        return False
    if isinstance(payload, bytes):
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return True
        return not isinstance(body, dict) or body.get("status") == "failed"
    try:
        events = decoded_events([piece.decode() for piece in payload])
    except (orjson.JSONDecodeError, UnicodeDecodeError):
        return True
    return any(isinstance(data, dict) and data.get("type") == FAILED_EVENT for _, data in events)
