"""RESP2, the Redis wire protocol: commands encoded as arrays of bulk strings, replies parsed
incrementally from whatever bytes have arrived. Pure: no I/O.

Replies: integers -> int, simple and bulk strings -> bytes, nil -> None, arrays -> list, error
replies -> `ReplyError` values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias

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


class _Incomplete(Exception):
    """The buffer ends inside a reply: wait until it holds at least `need` bytes."""

    def __init__(self, need: int) -> None:
        self.need = need


class Parser:
    """Incremental RESP2 reply parser: `feed` it bytes, it returns the replies now complete."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._need = 0  # no reply can complete before the buffer holds this many bytes

    def feed(self, data: bytes) -> list[Reply]:
        """Add bytes; return every reply now complete, in order."""
        buf = self._buf
        if not buf and len(data) >= self._need:
            chunk = data  # the common case: whole replies in one read, no copy
        else:
            buf += data
            if len(buf) < self._need:
                return []
            chunk = bytes(buf)
        replies: list[Reply] = []
        pos, size = 0, len(chunk)
        try:
            while pos < size:
                reply, pos = _parse(chunk, pos)
                replies.append(reply)
            self._need = 0
        except _Incomplete as incomplete:
            self._need = incomplete.need - pos
        if chunk is data:
            buf += data[pos:]
        else:
            del buf[:pos]
        return replies


def _parse(data: bytes, pos: int) -> tuple[Reply, int]:
    """One reply starting at `pos`, and where the next one starts."""
    end = data.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete(len(data) + 1)
    kind = data[pos]
    if kind == 36:  # $ bulk string
        size = int(data[pos + 1 : end])
        if size < 0:
            return None, end + 2
        stop = end + 2 + size
        if len(data) < stop + 2:
            raise _Incomplete(stop + 2)
        return data[end + 2 : stop], stop + 2
    if kind == 58:  # : integer
        return int(data[pos + 1 : end]), end + 2
    if kind == 42:  # * array
        count = int(data[pos + 1 : end])
        if count < 0:
            return None, end + 2
        pos = end + 2
        items: list[Reply] = []
        for _ in range(count):
            if data.startswith(b"$-1\r\n", pos):  # nil: a field not stored (breaker reads)
                items.append(None)
                pos += 5
                continue
            item, pos = _parse(data, pos)
            items.append(item)
        return items, pos
    if kind == 43:  # + simple string
        return data[pos + 1 : end], end + 2
    if kind == 45:  # - error
        return ReplyError(data[pos + 1 : end].decode(errors="replace")), end + 2
    raise ValueError(f"unexpected RESP type byte {chr(kind)!r}")
