"""The Lua scripts of the Redis state backend (`lua/*.lua`), loaded once at import."""

from __future__ import annotations

from pathlib import Path

from gateway.state.redis.commands import Script

_LUA = Path(__file__).with_name("lua")


def _script(name: str) -> Script:
    return Script((_LUA / f"{name}.lua").read_text())


ACQUIRE = _script("acquire")
APPLY = _script("apply")
USAGE = _script("usage")
BREAKER_RECORD = _script("breaker_record")
BREAKER_PROBE = _script("breaker_probe")
VECTOR_ADD = _script("vector_add")
VECTOR_READ = _script("vector_read")
