"""The circuit breakers of the Redis state backend (`RedisState`, which inherits them): a hash
per deployment under the `{breakers}` tag, recorded and probed by Lua scripts
(`lua/breaker_record.lua`, `lua/breaker_probe.lua`), read in one round trip."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from gateway.state import breaker
from gateway.state.breaker_state import BreakerState
from gateway.state.redis.breaker_reads import breaker_views
from gateway.state.redis.client import RedisClient
from gateway.state.redis.keys import BREAKER_KEY_TTL_S, KeyNames
from gateway.state.redis.scripts import BREAKER_PROBE, BREAKER_RECORD
from gateway.state.redis.wire import Arg


class RedisBreakers:
    """Breaker calls; `RedisState` makes the client, the key names and the encoded reads."""

    keys: KeyNames
    _client: RedisClient
    _breaker_read: Callable[[str], bytes]

    # -- circuit breakers -------------------------------------------------------------------

    async def breaker_record(
        self,
        deployment: str,
        ok: bool,
        now: float,
        failure_threshold: int,
        window_s: float,
        cooldown_s: float,
    ) -> BreakerState:
        key_ttl = max(BREAKER_KEY_TTL_S, math.ceil(2 * (window_s + cooldown_s)))
        args: list[Arg] = ["1" if ok else "0", repr(now), failure_threshold, repr(float(window_s))]
        args += [repr(float(cooldown_s)), key_ttl]
        key = self.keys.breaker_key(deployment)
        fields = await self._client.evalsha(BREAKER_RECORD, [key], args)
        assert isinstance(fields, list)
        return breaker.view(breaker.from_fields(fields), now)  # type: ignore[arg-type]

    async def breaker_states(
        self, deployments: Sequence[str], now: float
    ) -> dict[str, BreakerState]:
        if not deployments:
            return {}
        replies = await self._client.pipeline([*map(self._breaker_read, deployments)])
        return breaker_views(deployments, replies, now)

    async def breaker_try_probe(self, deployment: str, now: float, probe_timeout_s: float) -> bool:
        key = self.keys.breaker_key(deployment)
        won = await self._client.evalsha(
            BREAKER_PROBE, [key], [repr(now), repr(float(probe_timeout_s))]
        )
        return won == 1
