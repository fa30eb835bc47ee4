"""`[state]` (config) -> `RedisOptions` (what the Redis clients take). Here, not in the state
edge: the config reads the state's option types, the state never reads the config."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config.state_types import StateConfig
from gateway.config.urls import url_with_password
from gateway.state.redis.options import DEFAULT_URL, RedisOptions, host_port


def redis_options(state: StateConfig, env: Mapping[str, str]) -> RedisOptions:
    """The options of `[state]`; the passwords are read from their environment variables (the
    loader has checked they are set), the servers' one written into the URL both clients read."""
    url = state.redis_url or DEFAULT_URL
    if state.redis_password_env is not None:
        url = url_with_password(url, env[state.redis_password_env])
    password_env = state.sentinel_password_env
    return RedisOptions(
        url=url,
        client=state.client,
        timeout_s=state.timeout_ms / 1000,
        connect_timeout_s=state.connect_timeout_ms / 1000,
        cluster=state.cluster,
        sentinels=tuple(host_port(text) for text in state.sentinels),
        sentinel_master=state.sentinel_master,
        sentinel_password=env.get(password_env) if password_env else None,
        key_prefix=state.key_prefix,
    )
