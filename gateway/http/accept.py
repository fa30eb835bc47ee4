"""A burst of new connections, accepted in one turn of the event loop.

uvloop (libuv) accepts one connection each time its loop polls the listening socket. On a worker
busy with other connections a turn of the loop lasts as long as their work, so the k-th
connection of a burst waits k turns before its first request is even read: 64 new connections to
a worker saturated by 64 others waited up to 0.45 s for their first answers, while the others
were answered in 25 ms; clients that open a connection per request were held to one new
connection per turn (docs/performance.md, ninth round). Python's own event loop accepts up to
the backlog per poll and shows no such wait.

`accept_waiting` accepts, right after libuv has handed one connection over, the other
connections already waiting on the listening socket, and serves each with the same protocol.
With one worker it takes all of them (up to MAX_PER_TURN), so a burst is read in the turn it
arrived in. Workers sharing the socket take at most SHARED_PER_TURN each: whichever worker
woke first would otherwise take a whole burst of keep-alive connections and keep them while
the others idle (measured: 1/63 and 2/62 splits of 64 between two workers, against 22/42 to
32/32 with libuv alone and with at most 8); a few at a time, a burst still spreads over the
workers the way libuv spreads it, the least busy worker taking most.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable

from gateway.http.refusals import RateLimitedLog

log = logging.getLogger("gateway.http")
# Out of file descriptors, every connection handed over would fail here again: one line a second.
_FAILURES = RateLimitedLog(log)
# At most this many connections accepted in one call: a flood of connections still leaves the
# loop to the requests in flight (the listening backlog is 2048).
MAX_PER_TURN = 256
# At most this many when several workers share the listening socket (see above).
SHARED_PER_TURN = 8
# The tasks that hand an accepted socket to the loop (the loop keeps only weak references).
_handing_over: set[asyncio.Task[None]] = set()


def accept_waiting(
    listener: socket.socket,
    loop: asyncio.AbstractEventLoop,
    protocol_factory: Callable[[], asyncio.Protocol],
    limit: int = MAX_PER_TURN,
) -> int:
    """Accept the connections waiting on `listener` (non-blocking), each served by a protocol
    from `protocol_factory`; returns how many. Nothing waiting, or an error accepting (too
    many open files, say), ends it: libuv accepts the next one as usual."""
    accepted = 0
    while accepted < limit:
        try:
            connection, _ = listener.accept()
        except (BlockingIOError, InterruptedError):
            break
        except OSError as error:
            _FAILURES.warning("accept", f"cannot accept a waiting connection: {error}")
            break
        accepted += 1
        task = loop.create_task(_serve(loop, protocol_factory, connection))
        _handing_over.add(task)
        task.add_done_callback(_handing_over.discard)
    return accepted


async def _serve(
    loop: asyncio.AbstractEventLoop,
    protocol_factory: Callable[[], asyncio.Protocol],
    connection: socket.socket,
) -> None:
    connection.setblocking(False)
    try:
        await loop.connect_accepted_socket(protocol_factory, connection)
    except OSError as error:  # the client left before the loop took the socket
        log.debug("cannot serve an accepted connection: %s", error)
        connection.close()
