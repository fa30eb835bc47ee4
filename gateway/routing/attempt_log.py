"""One WARNING line per failed upstream attempt, so operators see upstream trouble.

A wrong `base_url`, a provider that rate-limits or a deployment that times out shows on the
console at the default log level:

    upstream attempt failed: deployment=oai/gpt-4o cause=connect request=req_... (cannot ...)

A cause that repeats is said once per deployment and cause every `EVERY_S` seconds; the next
line says how many were left out meanwhile, so a flood of failures is visible but never floods.
A cause is known by its bounded kind (`error_kind_label`): an upstream that names a new error
code every time is one cause (`other`), not a new entry kept for the process's life each time;
its line still says the code.
"""

from __future__ import annotations

import logging

from gateway.clock import Clock
from gateway.observability.error_kinds import error_kind_label
from gateway.quoted_text import quoted

log = logging.getLogger("gateway.upstream")

EVERY_S = 10.0
_DETAIL_CHARS = 200


class AttemptLog:
    def __init__(self, clock: Clock, every_s: float = EVERY_S) -> None:
        self.clock = clock
        self.every_s = every_s
        # (deployment, cause's kind, its code's kind) -> [when last logged, how many left out]
        self._last: dict[tuple[str, str, str], list[float]] = {}

    def failed(self, deployment: str, cause: str, request_id: str, detail: str) -> bool:
        """Log one failed attempt unless the same (deployment, cause) was logged less than
        `every_s` ago; True when a line was written."""
        now = self.clock.monotonic()
        kind, _, code = cause.partition(" ")  # "http_429 rate_limit_exceeded"
        key = (deployment, error_kind_label(kind), error_kind_label(code) if code else "")
        last = self._last.get(key)
        if last is not None and now - last[0] < self.every_s:
            last[1] += 1
            return False
        left_out = int(last[1]) if last is not None else 0
        self._last[key] = [now, 0]
        more = f" [{left_out} more left out since the last such line]" if left_out else ""
        log.warning(
            "upstream attempt failed: deployment=%s cause=%s request=%s (%s)%s",
            deployment,
            cause,
            request_id or "-",
            quoted(detail, _DETAIL_CHARS),
            more,
        )
        return True
