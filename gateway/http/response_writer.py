"""The gateway's response writer beside uvicorn's: `WritingCycle`, uvicorn's httptools request
cycle with a usual response's head checked once for all its headers.

uvicorn's `RequestResponseCycle.send` checks a head header by header: two regular-expression
searches (a name that is not an HTTP token, a value with a control character), a `lower()` and
three comparisons (`content-length`, `transfer-encoding`, `connection`), about 0.4 us a header
on the 2-vCPU machine of docs/performance.md. A gateway answer carries 8 to 16 headers: its own
`x-request-id`, `x-gateway-*` and `server-timing`, and with key limits the six `x-ratelimit-*`,
which alone cost 2.3 us a request there.

`WritingCycle.send` writes what uvicorn's would, byte for byte, and leaves the cycle in the same
state, for what it fully supports:
- a head whose headers `plain_head` passes: each name a lowercase HTTP token, checked once and
  then remembered (the gateway sends the same few names on every answer), values without
  control characters (all of them joined, one check), at most one `content-length` of digits,
  no `transfer-encoding` and no `connection` header; the head is built with one `join`;
- a body message after such a head: a chunk (`transfer-encoding: chunked`) or a part of the
  `content-length`, never more than it, and the end of the answer (the cycle completed as
  uvicorn completes it).
Everything else goes to uvicorn's own `send`, which writes it, or refuses it, as it always did:
a HEAD request, an access log, a connection paused for writing or gone, an unusual head, a body
longer or shorter than its `content-length`, a message out of turn. Nothing is decided twice: a
head `plain_head` does not pass is read again by uvicorn from the start, so a false alarm costs
speed, never correctness.

What uvicorn writes changed between its versions (0.36 adds `connection: close` to the answer
of a request that asked for it; 0.55 to any answer on a connection not kept alive), so the
gateway writes responses itself only under a uvicorn whose writer this one mirrors
(`MIRRORED`): `[server] response_writer = "auto"` means that one there, uvicorn's elsewhere;
`"uvicorn"` always uvicorn's. tests/unit/http/test_response_writer.py holds both writers to the
same bytes, errors and state (the contract suite of this sibling of uvicorn's writer), and
test_response_writer_protocol.py the protocol (protocol.py) to uvicorn's request scopes.
"""

from __future__ import annotations

import re

import uvicorn
from uvicorn._types import ASGISendEvent
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, RequestResponseCycle

# The uvicorn versions (major.minor) whose `RequestResponseCycle.send` this writer mirrors.
MIRRORED = frozenset({"0.55"})

# A byte that is not in a lowercase HTTP token (uvicorn refuses separators and control
# characters in a name and writes it lowered: a name with a capital is uvicorn's to write).
_NOT_TOKEN = re.compile(rb"[^!#$%&'*+\-.^_`|~0-9a-z]")
# uvicorn's `HEADER_VALUE_RE`: control characters but the tab, and DEL.
_NOT_IN_VALUE = bytes(range(0x09)) + bytes(range(0x0A, 0x20)) + b"\x7f"
# Names uvicorn reads as well as writes: never in `_PLAIN_NAMES`.
_FRAMING = frozenset({b"content-length", b"transfer-encoding", b"connection"})
# Names found to be plain tokens, kept (the gateway's own few, and what upstreams pass on).
_PLAIN_NAMES: set[bytes] = set()
_PLAIN_NAMES_KEPT = 1024
_NO_STATUS_BODY = (204, 304)
_LAST_CHUNK = b"0\r\n\r\n"

HeaderList = list[tuple[bytes, bytes]]


def mirrors_installed_uvicorn(version: str = uvicorn.__version__) -> bool:
    """Whether this writer writes as the installed uvicorn (`MIRRORED`)."""
    return ".".join(version.split(".")[:2]) in MIRRORED


def plain_head(headers: HeaderList) -> tuple[bytes, int | None] | None:
    """(the header lines, each ending in CRLF, and the `content-length` value or None) of
    headers `WritingCycle` writes itself; None for any other head (uvicorn writes it)."""
    try:
        fields = dict(headers)
    except (TypeError, ValueError):  # headers not pairs, or a name that is not hashable
        return None
    if len(fields) != len(headers) or not fields:  # a name twice, or no header: uvicorn's
        return None
    length = fields.pop(b"content-length", None)
    if not fields.keys() <= _PLAIN_NAMES and not _all_plain(fields):
        return None
    try:
        values = b"".join(fields.values())
        lines = b"\r\n".join(map(b": ".join, headers))
    except TypeError:  # a name or value that is not bytes
        return None
    if len(values.translate(None, _NOT_IN_VALUE)) != len(values):
        return None
    if length is None:
        return lines + b"\r\n", None
    if type(length) is not bytes or not length.isdigit():  # uvicorn's `int()` decides the rest
        return None
    return lines + b"\r\n", int(length)


def _all_plain(names: dict[bytes, bytes]) -> bool:
    """Whether every name is a lowercase token other than the framing ones (remembered)."""
    for name in names:
        if name not in _PLAIN_NAMES:
            if type(name) is not bytes or not name or name in _FRAMING or _NOT_TOKEN.search(name):
                return False
            if len(_PLAIN_NAMES) < _PLAIN_NAMES_KEPT:
                _PLAIN_NAMES.add(name)
    return True


class WritingCycle(RequestResponseCycle):
    """uvicorn's cycle; a usual response is written by `send` (see the module docstring)."""

    async def send(self, message: ASGISendEvent) -> None:
        if self.disconnected or self.flow.write_paused or self.scope["method"] == "HEAD":
            return await RequestResponseCycle.send(self, message)
        if not self.response_started:
            if not self._start(message):
                await RequestResponseCycle.send(self, message)
            return None
        if self.response_complete or message["type"] != "http.response.body":
            return await RequestResponseCycle.send(self, message)
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        if self.chunked_encoding:
            if body:
                data = b"%x\r\n%b\r\n" % (len(body), body)
                if not more_body:
                    data += _LAST_CHUNK
            else:
                data = b"" if more_body else _LAST_CHUNK
        else:
            left = self.expected_content_length - len(body)
            if left < 0 or (left and not more_body):
                return await RequestResponseCycle.send(self, message)  # which refuses it
            self.expected_content_length = left
            data = body
        self.transport.write(data)
        if not more_body:
            self.response_complete = True
            self.message_event.set()
            if not self.keep_alive:
                self.transport.close()
            self.on_response()
        return None

    def _start(self, message: ASGISendEvent) -> bool:
        """Write the head when `plain_head` passes it and uvicorn would add no log line;
        False when it is uvicorn's to write (nothing written)."""
        if message["type"] != "http.response.start" or self.access_log:
            return False
        status = message["status"]
        line = STATUS_LINE.get(status) if type(status) is int else None
        if line is None:
            return False
        head = plain_head(self.default_headers + list(message.get("headers", [])))
        if head is None:
            return False
        lines, length = head
        self.response_started = True
        self.waiting_for_100_continue = False
        if length is not None:
            self.expected_content_length = length
            self.chunked_encoding = False
        if not self.keep_alive:
            lines += b"connection: close\r\n"
        if length is None and status not in _NO_STATUS_BODY:  # (a HEAD is uvicorn's)
            self.chunked_encoding = True
            lines += b"transfer-encoding: chunked\r\n"
        self.transport.write(line + lines + b"\r\n")
        return True
