"""The failures of redis-py as the RESP client reports them: an error reply as a `ReplyError`
with its Redis code (which redis-py strips from the message), any other failure as the
`StateUnavailable` it means (`unavailable`)."""

from __future__ import annotations

from typing import Any

from redis.exceptions import (
    AskError,
    AuthenticationError,
    AuthorizationError,
    BusyLoadingError,
    ClusterCrossSlotError,
    ClusterDownError,
    MasterDownError,
    MaxConnectionsError,
    MovedError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
    TryAgainError,
)
from redis.exceptions import (
    TimeoutError as RedisTimeoutError,
)

from gateway.state.base import StateUnavailable
from gateway.state.redis.wire import KNOWN_CODES, Reply, ReplyError

# The Redis error code of the exceptions redis-py raises for error replies (it strips the code
# from the message). Versions that keep it in `status_code` tell it directly.
_CODES: dict[type[Exception], str] = {
    MovedError: "MOVED",  # before AskError: it is one
    AskError: "ASK",
    TryAgainError: "TRYAGAIN",
    ClusterDownError: "CLUSTERDOWN",
    ClusterCrossSlotError: "CROSSSLOT",
    MasterDownError: "MASTERDOWN",
    NoScriptError: "NOSCRIPT",
    ReadOnlyError: "READONLY",
    BusyLoadingError: "LOADING",
    OutOfMemoryError: "OOM",
    NoPermissionError: "NOPERM",
    AuthenticationError: "NOAUTH",
    AuthorizationError: "NOPERM",
}


def reply_error(exc: Exception) -> ReplyError:
    """redis-py's exception for an error reply, as the error reply itself (code and text)."""
    text = str(exc)
    code = getattr(exc, "status_code", None) or next(
        (code for kind, code in _CODES.items() if isinstance(exc, kind)), None
    )
    if code is None:  # a code redis-py's parser does not know stays in the text (older ones)
        first = text.split(" ", 1)[0]
        return ReplyError(text if first in KNOWN_CODES else f"ERR {text}")
    return ReplyError(f"{code} {text}")


def reply_value(reply: Any) -> Reply:
    """A reply of a pipeline run with `raise_on_error=False`: an error reply as a ReplyError."""
    return reply_error(reply) if isinstance(reply, (ResponseError, AuthenticationError)) else reply


def unavailable(exc: BaseException) -> StateUnavailable:
    """Any failure of a redis-py call, as the StateUnavailable it means."""
    if isinstance(exc, StateUnavailable):
        return exc
    if isinstance(exc, (ResponseError, AuthenticationError)):
        return reply_error(exc)
    if isinstance(exc, MaxConnectionsError):  # the server is fine: the gate stays open
        return StateUnavailable(f"redis: {exc}", "pool")
    if isinstance(exc, (TimeoutError, RedisTimeoutError)):
        return StateUnavailable(f"redis: timed out {exc}".rstrip(), "timeout")
    if isinstance(exc, (RedisError, OSError)):
        return StateUnavailable(f"redis: {_described(exc)}")
    return StateUnavailable(f"redis: unexpected {type(exc).__name__}: {exc}")


def _described(exc: BaseException) -> str:
    """The error with the one it was raised from when that says more: some redis-py releases
    word a failed TLS handshake "Error 1 connecting to host:port. 1.", and only the SSL error
    it came from names the cause (CERTIFICATE_VERIFY_FAILED, ...)."""
    text = f"{type(exc).__name__}: {exc}"
    inner = exc.__cause__ or exc.__context__
    if inner is not None and str(inner) and str(inner) not in text:
        text += f" ({type(inner).__name__}: {inner})"
    return text
