"""Redis key names of the state backend under its `[state] key_prefix` (the layout is drawn in
`backend.py`'s docstring), their cleanup TTLs, and the RESP pieces of the names the hot calls
repeat."""

from __future__ import annotations

import re

from gateway.state.base import SETTLE_RETRY_MAX_AGE_S, WINDOW_S
from gateway.state.periods import DAY_S, Periods
from gateway.state.redis.wire import bulk

# The start of every key name (`[state] key_prefix`), then ":" and the layout's hash tag.
DEFAULT_PREFIX = "llmgw"
PREFIX_MAX_CHARS = 64
# Real Redis TTLs only clean up; the limit logic itself runs on the injected clock.
WINDOW_KEY_TTL_S = 2 * WINDOW_S
DAY_KEY_TTL_S = int(2 * DAY_S)
MONTH_KEY_TTL_S = int(62 * DAY_S)
BREAKER_KEY_TTL_S = int(DAY_S)
# The largest cache entry stored in Redis. A call's bytes share the connection (the RESP
# client's one, a pooled one of redis-py's) and Redis's one thread with the limit checks of
# every request: a 64 MiB answer (`max_response_bytes`, a large embeddings batch) takes longer
# than `timeout_ms` to send on a 1 Gbit/s link (redis-py: on loopback too), so its SET timed
# out, closed the gate, and the checks queued behind it failed (fail_open / 503) with it.
CACHE_ENTRY_MAX_BYTES = 4 * 1024 * 1024
# How long a settlement call's receipt is kept once it ran: a retry sent within this time of the
# first attempt's run (whose reply was lost: a timeout, a reset connection) applies nothing.
# Long enough for a Sentinel failover or a few minutes' outage (the limiter retries every
# 0.5 s until Redis answers); each receipt costs Redis about 100 bytes for that long.
# A retry sent later than `RETRY_MAX_AGE_S` after its first send is dropped (logged), not sent:
# its receipt may be gone, and it would be applied twice. The margin covers a retry that waits
# in a stalled Redis before it runs (the receipt is written at the first run, never before).
RETRY_MAX_AGE_S = SETTLE_RETRY_MAX_AGE_S
RECEIPT_TTL_S = int(RETRY_MAX_AGE_S) + 30
# Bound of each cache of encoded pieces: emptied when full (the live set refills it at once).
PIECES_MAX = 4096


def prefix_problem(prefix: str) -> str | None:
    """Why `prefix` cannot start the key names, or None. Letters, digits, "-", "_" and "." only:
    a brace would add a hash tag of its own (Redis Cluster hashes the first `{...}`, so one
    script's keys could land in different slots); a ":" would let the ACL pattern
    `~<prefix>:*` of one gateway match another's (prefix "a" and "a:b"), as "*", "?" or "["
    would; whitespace or a control character breaks such patterns."""
    if not prefix:
        return "must not be empty"
    if len(prefix) > PREFIX_MAX_CHARS:
        return f"must be at most {PREFIX_MAX_CHARS} characters, got {len(prefix)}"
    bad = sorted({char for char in prefix if not _PREFIX_CHARS.fullmatch(char)})
    if bad:
        shown = ", ".join(repr(char) for char in bad)
        return f'may hold only letters, digits, "-", "_" and ".", got {shown}'
    return None


_PREFIX_CHARS = re.compile(r"[A-Za-z0-9_.-]")


class KeyNames:
    """The key names of one backend, all under its prefix (made once, when it starts: two
    backends with different prefixes in one process share nothing), and the RESP pieces of the
    names its hot calls repeat (cached here, for this prefix)."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        problem = prefix_problem(prefix)
        if problem is not None:
            raise ValueError(f"key prefix {prefix!r}: {problem}")
        self.prefix = prefix
        self.limits = f"{prefix}:{{limits}}:"
        self.breakers = f"{prefix}:{{breakers}}:"
        # Read by the gate's probe on a Cluster (`redispy.py`): on the node serving the limits.
        self.probe = f"{self.limits}probe"
        self._cache = f"{prefix}:{{cache:"
        # The semantic cache's shared vectors: one stream (`vectors.py`).
        self.vectors = f"{prefix}:{{semantic}}:vectors"
        self._remembered = f"{prefix}:{{remembered:"
        self._pieces: dict[tuple[str, str, str], str] = {}

    def limit_key(self, kind: str, scope: str, subject: str) -> str:
        return f"{self.limits}{kind}:{scope}:{subject}"

    def spend_keys(self, scope: str, subject: str, period: Periods) -> tuple[str, str, str]:
        """The day, month and all-time spend counters of one subject."""
        base = f"{self.limits}spend:{scope}:{subject}:"
        return f"{base}day:{period.day}", f"{base}month:{period.month}", f"{base}total"

    def reservation_key(self, token: str) -> str:
        """The mark of one reservation: "h" while an allowed acquire is held, "g" once
        abandoned."""
        return f"{self.limits}r:{token}"

    def receipt_key(self, receipt: str) -> str:
        """The receipt of one settlement call, kept `RECEIPT_TTL_S` once it ran (lua/apply.lua)."""
        return f"{self.limits}s:{receipt}"

    def breaker_key(self, deployment: str) -> str:
        return self.breakers + deployment

    def cache_key(self, key: str) -> str:
        return f"{self._cache}{key}}}"

    def remembered_key(self, key: str) -> str:
        return f"{self._remembered}{key}}}"

    def limit_key_piece(self, kind: str, scope: str, subject: str) -> str:
        """`limit_key` as a RESP bulk string (cached: the same on every request)."""
        piece = self._pieces.get((kind, scope, subject))
        if piece is None:
            if len(self._pieces) >= PIECES_MAX:
                self._pieces.clear()
            piece = self._pieces[(kind, scope, subject)] = bulk(
                self.limit_key(kind, scope, subject)
            )
        return piece


# The RESP pieces of the numbers 1..64: key counts and key indexes.
_INDEXES = [bulk(str(i)) for i in range(1, 65)]


def number_piece(n: int) -> str:
    """The positive integer `n` as a RESP bulk string (1..64 cached)."""
    return _INDEXES[n - 1] if 0 < n <= len(_INDEXES) else bulk(str(n))
