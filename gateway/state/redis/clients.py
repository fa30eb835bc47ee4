"""The Redis client `[state] client` names, made from the options (uvicorn's `http = auto`
pattern: the choice is `options.choose_client`, the siblings are `resp.py` and `redispy.py`)."""

from __future__ import annotations

import logging

from gateway.state.redis.client import RedisClient
from gateway.state.redis.options import RedisOptions, choose_client
from gateway.state.redis.redispy import RedisPyClient
from gateway.state.redis.resp import RespClient

log = logging.getLogger("gateway.state")


def open_client(options: RedisOptions) -> RedisClient:
    """The client `[state] client` picks for these options (`options.choose_client`)."""
    name = choose_client(options)
    shape = "cluster" if options.cluster else "sentinel" if options.sentinels else "standalone"
    log.info("state: redis (%s) through the %s client", shape, name)
    if name == "resp":
        return RespClient(
            options.url,
            socket_timeout_s=options.timeout_s,
            connect_timeout_s=options.connect_timeout_s,
        )
    return RedisPyClient(options)
