"""RESP2, the Redis wire protocol: commands encoded as arrays of bulk strings, replies parsed
incrementally from whatever bytes have arrived. Pure: no I/O.

Replies: integers -> int, simple and bulk strings -> bytes, nil -> None, arrays -> list, error
replies -> `ReplyError` values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias

import hiredis

from gateway.state.base import StateUnavailable

# Error codes counted under their own name in gateway_state_errors_total{kind}; any other
# code counts as "error_reply" (the label set stays bounded whatever a server or script says).
KNOWN_CODES = frozenset(
    {
        "OOM", "NOAUTH", "WRONGPASS", "NOPERM", "MOVED", "ASK", "READONLY", "LOADING",
        "MASTERDOWN", "BUSY", "CLUSTERDOWN", "TRYAGAIN", "CROSSSLOT", "NOSCRIPT", "ERR",
    }
)  # fmt: skip


_INNER_CODE = re.compile(r": -([A-Z]+) ")
# Redis 6 words an ACL refusal inside a script without a code: "ERR Error running script (...):
# @user_script:167: @user_script: 167: The user executing the script can't run this command or
# subcommand" (or "... can't access at least one of the keys ..."); Redis 7 says NOPERM.
_SCRIPT_NOPERM = "The user executing the script can't "


class ReplyError(StateUnavailable):
    """An error reply from Redis (`-ERR ...`, `-NOSCRIPT ...`). A state failure like a lost
    connection: raised, it takes the caller's `on_redis_error` path (NOSCRIPT is handled by the
    clients before anyone sees it)."""

    def __init__(self, text: str) -> None:
        code = text.split(" ", 1)[0]
        # Redis 6 wraps an error a command raised inside a script: "ERR Error running script
        # (...): @user_script:12: -OOM command not allowed ...": count it as that error.
        inner = _INNER_CODE.search(text) if code == "ERR" else None
        if inner is not None and inner.group(1) in KNOWN_CODES:
            code = inner.group(1)
        elif code == "ERR" and _SCRIPT_NOPERM in text:
            code = "NOPERM"
        super().__init__(text, code.lower() if code in KNOWN_CODES else "error_reply")

    @property
    def code(self) -> str:
        return str(self).split(" ", 1)[0]


Arg: TypeAlias = str | bytes | int
Reply: TypeAlias = "int | bytes | None | list[Reply] | ReplyError"
UNAVAILABLE_PREFIXES = ("READONLY", "LOADING", "MASTERDOWN")


# -- encoding and parsing ----------------------------------------------------------------------


def encode(command: Sequence[Arg]) -> bytes:
    """One command as a RESP array of bulk strings."""
    text = [f"*{len(command)}\r\n"]
    for arg in command:  # ASCII text and integers (nearly every call): one str, encoded once
        if type(arg) is str and arg.isascii():
            text.append(f"${len(arg)}\r\n{arg}\r\n")
        elif type(arg) is int:
            digits = str(arg)
            text.append(f"${len(digits)}\r\n{digits}\r\n")
        else:
            break
    else:
        return "".join(text).encode()
    parts = [b"*%d\r\n" % len(command)]
    for arg in command:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        parts.append(b"$%d\r\n%b\r\n" % (len(arg), arg))
    return b"".join(parts)


def bulk(text: str) -> str:
    """One ASCII argument as a RESP bulk string, for commands assembled from cached pieces
    (`ScriptCall`)."""
    return f"${len(text)}\r\n{text}\r\n"


class Parser:
    """Incremental RESP2 reply parser: `feed` it bytes, it returns the replies now complete.

    hiredis's C reader (the parser redis-py uses, a dependency through `redis[hiredis]`) does
    the parsing: a limited request's replies (the acquire's, its breaker read's, the
    settlement's) cost ~270 more interpreter opcodes per request in the Python parser this
    replaced (of ~9,700 for the whole request, in process); here one `gets` call each."""

    def __init__(self) -> None:
        self._reader = hiredis.Reader(
            protocolError=_protocol_error, replyError=ReplyError, notEnoughData=_NOT_YET
        )
        self._gets = self._reader.gets

    def feed(self, data: bytes) -> list[Reply]:
        """Add bytes; return every reply now complete, in order. Raises ValueError when the
        bytes are not RESP (the parser is then unusable: close the connection)."""
        self._reader.feed(data)
        # `gets` until it says no whole reply is left, looped in C (iter's sentinel form), not
        # by a Python loop (~15 opcodes a reply less). The sentinel is an object of its own:
        # iter compares with ==, and hiredis's default (False) == 0, a reply.
        return list(iter(self._gets, _NOT_YET))


_NOT_YET = object()  # what `gets` returns while no whole reply has arrived


def _protocol_error(message: str) -> ValueError:
    return ValueError(f"not a RESP reply: {message}")
