"""Redis key names of the state backend (the layout is drawn in `backend.py`'s docstring), their
cleanup TTLs, and the RESP pieces of the names the hot calls repeat."""

from __future__ import annotations

from gateway.state.base import SETTLE_RETRY_MAX_AGE_S, WINDOW_S
from gateway.state.periods import DAY_S, Periods
from gateway.state.redis.wire import bulk

LIMITS = "llmgw:{limits}:"
BREAKERS = "llmgw:{breakers}:"
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


# Read by the gate's probe on a Cluster (`redispy.py`): it lives on the node serving the limits.
PROBE_KEY = f"{LIMITS}probe"


def limit_key(kind: str, scope: str, subject: str) -> str:
    return f"{LIMITS}{kind}:{scope}:{subject}"


def spend_keys(scope: str, subject: str, period: Periods) -> tuple[str, str, str]:
    """The day, month and all-time spend counters of one subject."""
    base = f"{LIMITS}spend:{scope}:{subject}:"
    return f"{base}day:{period.day}", f"{base}month:{period.month}", f"{base}total"


def reservation_key(token: str) -> str:
    """The mark of one reservation: "h" while an allowed acquire is held, "g" once abandoned."""
    return f"{LIMITS}r:{token}"


def receipt_key(receipt: str) -> str:
    """The receipt of one settlement call, kept `RECEIPT_TTL_S` once it ran (lua/apply.lua)."""
    return f"{LIMITS}s:{receipt}"


def cache_key(key: str) -> str:
    return f"llmgw:{{cache:{key}}}"


def remembered_key(key: str) -> str:
    return f"llmgw:{{remembered:{key}}}"


_key_pieces: dict[tuple[str, str, str], str] = {}


def limit_key_piece(kind: str, scope: str, subject: str) -> str:
    """`limit_key` as a RESP bulk string (cached: the same on every request)."""
    piece = _key_pieces.get((kind, scope, subject))
    if piece is None:
        if len(_key_pieces) >= PIECES_MAX:
            _key_pieces.clear()
        piece = _key_pieces[(kind, scope, subject)] = bulk(limit_key(kind, scope, subject))
    return piece


# The RESP pieces of the numbers 1..64: key counts and key indexes.
_INDEXES = [bulk(str(i)) for i in range(1, 65)]


def number_piece(n: int) -> str:
    """The positive integer `n` as a RESP bulk string (1..64 cached)."""
    return _INDEXES[n - 1] if 0 < n <= len(_INDEXES) else bulk(str(n))
