"""Who shares cache entries: with `per_team = true` the keys of one team, and a key without a
team with no other key (not with every team-less key, nor with `per_team = false` policies)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import orjson

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.cache import cache_lookup, store_answer
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate, parse_body, resolve_model

KEYS = {"alice": None, "bob": None, "dave": "t", "erin": "t", "carol": None}
CONFIG = """
[[providers]]
name = "m"
type = "mock"

[[models]]
name = "echo"
[[models.deployments]]
provider = "m"
model = "echo"
""" + "".join(
    f'\n[[keys]]\nid = "{name}"\npolicy = "{"shared" if name == "carol" else "own"}"\n'
    + (f'team = "{team}"\n' if team else "")
    + f'key_sha256 = "{hashlib.sha256(name.encode()).hexdigest()}"\n'
    for name, team in KEYS.items()
)
BODY = {"model": "echo", "messages": [{"role": "user", "content": "my secret"}]}
ANSWER = b'{"id":"c","object":"chat.completion","choices":[]}'


def services(tmp_path: Path) -> Services:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "own.toml").write_text('[cache]\nmode = "exact"\nttl_s = 60\n')
    shared = '[cache]\nmode = "exact"\nttl_s = 60\nper_team = false\n'
    (tmp_path / "policies" / "shared.toml").write_text(shared)
    (tmp_path / "config.toml").write_text(CONFIG)
    config = load_config(tmp_path / "config.toml", env={})
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    result: Services = app.state.services
    return result


async def lookup(svc: Services, key: str) -> RequestContext:
    ctx = RequestContext(
        Endpoint("/v1/chat/completions", "chat", "openai"),
        svc.runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {"authorization": f"Bearer {key}"},
    )
    ctx.raw_body = orjson.dumps(BODY)
    for stage in (authenticate, parse_body, resolve_model, cache_lookup):
        await stage(ctx, svc)
    return ctx


async def test_who_shares_an_answer(tmp_path: Path) -> None:
    svc = services(tmp_path)
    for first in KEYS:
        svc.state = type(svc.state)()  # an empty cache for each first asker
        ctx = await lookup(svc, first)
        assert ctx.cache == "miss"
        ctx.response_body, ctx.status = ANSWER, 200
        await store_answer(ctx, svc)
        hits = {other for other in KEYS if (await lookup(svc, other)).cache == "hit"}
        team = KEYS[first]
        sharing = {first} | ({k for k, t in KEYS.items() if t == team} if team else set())
        assert hits == sharing, first
    await svc.aclose()
