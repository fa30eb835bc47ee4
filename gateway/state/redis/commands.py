"""Commands as the backend hands them to a client: RESP-encoded bytes, and script calls.

The backend encodes its commands once, from cached pieces (`wire.bulk`, `keys.py`), in the form
every Redis client ends up writing: a RESP array of bulk strings. The hand-written client writes
those bytes as they are; a library client (redis-py) takes them apart again with `decode`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import NamedTuple

from gateway.state.redis.wire import Arg, encode

Command = Sequence[Arg] | bytes  # a command's arguments, or the command already encoded


class Script:
    """A Lua script run by EVALSHA (EVAL when the server does not know it yet)."""

    def __init__(self, text: str) -> None:
        source = text.encode()
        self.text = text
        self.source = source
        self.sha = hashlib.sha1(source).hexdigest()
        self.evalsha_head = b"$7\r\nEVALSHA\r\n$40\r\n" + self.sha.encode() + b"\r\n"
        self.eval_head = b"$4\r\nEVAL\r\n$%d\r\n%b\r\n" % (len(source), source)

    def call(self, keys: Sequence[Arg], args: Sequence[Arg]) -> ScriptCall:
        """A call of this script with these KEYS and ARGV."""
        encoded = encode([len(keys), *keys, *args])
        # `encode` starts with the array header "*<n>\r\n": drop it, the call writes its own.
        return ScriptCall(self, encoded[encoded.index(b"\n") + 1 :], 1 + len(keys) + len(args))


class ScriptCall(NamedTuple):
    """One script call, encoded once: `args` is numkeys, KEYS and ARGV as `nargs` RESP bulk
    strings. Hot paths build `args` from cached pieces (`bulk`) instead of through `encode`."""

    script: Script
    args: bytes
    nargs: int

    def evalsha(self) -> bytes:
        return b"*%d\r\n%b%b" % (self.nargs + 2, self.script.evalsha_head, self.args)

    def eval(self) -> bytes:
        return b"*%d\r\n%b%b" % (self.nargs + 2, self.script.eval_head, self.args)


def encoded(command: Command) -> bytes:
    return command if isinstance(command, bytes) else encode(command)


def decode(command: Command) -> list[bytes | str | int]:
    """A command's arguments (an encoded one taken apart: a RESP array of bulk strings)."""
    if not isinstance(command, bytes):
        return list(command)
    end = command.index(b"\r\n")
    count = int(command[1:end])
    args: list[bytes | str | int] = []
    pos = end + 2
    for _ in range(count):
        end = command.index(b"\r\n", pos)
        start = end + 2
        stop = start + int(command[pos + 1 : end])
        args.append(command[start:stop])
        pos = stop + 2
    if args and isinstance(args[0], bytes):
        args[0] = args[0].decode()  # libraries look the command's name up as text
    return args
