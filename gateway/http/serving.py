"""The HTTP protocol class `gateway serve` gives uvicorn (gateway/cli.py)."""

from __future__ import annotations

import functools
import socket
from collections.abc import Callable

from gateway.config.types import ServerConfig
from gateway.http.accept import MAX_PER_TURN, SHARED_PER_TURN
from gateway.http.protocol import GuardedHttpToolsProtocol


def serving_protocol(
    limits: ServerConfig, listener: socket.socket, workers: int
) -> Callable[..., GuardedHttpToolsProtocol]:
    """The protocol class `gateway serve` gives uvicorn: the `[server]` limits and the listening
    socket, made non-blocking, bound (a partial pickles into each worker, the socket with it),
    so waiting connections are accepted several at a time (`accept.py`): all of them with one
    worker, SHARED_PER_TURN at a time when several workers share the socket."""
    listener.setblocking(False)
    limit = MAX_PER_TURN if workers == 1 else SHARED_PER_TURN
    return functools.partial(
        GuardedHttpToolsProtocol, limits=limits, listener=listener, accept_limit=limit
    )
