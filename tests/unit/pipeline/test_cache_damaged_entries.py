"""A shared cache may hold what this gateway did not write (another version's entries during a
rolling upgrade, a value damaged or edited by hand): such an entry is a miss, never a failed
request, and the fresh answer then replaces it."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import orjson
import pytest

from gateway.app import create_app
from gateway.cache.keys import cache_key
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.cache import cache_lookup
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate, parse_body, resolve_model

CONFIG = f"""
[[providers]]
name = "m"
type = "mock"

[[models]]
name = "echo"
[[models.deployments]]
provider = "m"
model = "echo"

[[keys]]
id = "k"
team = "t"
policy = "cached"
key_sha256 = "{hashlib.sha256(b"sk-k").hexdigest()}"
"""
BODY = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}
GOOD_USAGE = {"prompt_tokens": 1, "completion_tokens": 1}
DAMAGED = [
    {"kind": "json"},  # no body
    {"kind": "json", "body": "{}", "usage": "x"},
    {"kind": "json", "body": "{}", "usage": {"prompt_tokens": "x"}},
    {"kind": "stream"},  # no chunks
    {"kind": "stream", "chunks": [1]},
]


def services(tmp_path: Path) -> Services:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "cached.toml").write_text('[cache]\nmode = "exact"\nttl_s = 60\n')
    (tmp_path / "config.toml").write_text(CONFIG)
    config = load_config(tmp_path / "config.toml", env={})
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    result: Services = app.state.services
    return result


async def lookup(svc: Services, stream: bool, stored: bytes) -> RequestContext:
    ctx = RequestContext(
        Endpoint("/v1/chat/completions", "chat", "openai"),
        svc.runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {"authorization": "Bearer sk-k"},
    )
    ctx.raw_body = orjson.dumps({**BODY, "stream": stream})
    for stage in (authenticate, parse_body, resolve_model):
        await stage(ctx, svc)
    assert ctx.body is not None
    key = cache_key(ctx.endpoint.path, ctx.body, "t")  # per_team: the key's team
    await svc.state.set(key, stored, 60, time.time())
    await cache_lookup(ctx, svc)
    assert ctx.cache_key == key
    return ctx


@pytest.mark.parametrize("entry", DAMAGED, ids=[orjson.dumps(e).decode() for e in DAMAGED])
@pytest.mark.parametrize("stream", [False, True])
async def test_a_damaged_entry_is_a_miss(tmp_path: Path, entry: object, stream: bool) -> None:
    svc = services(tmp_path)
    ctx = await lookup(svc, stream, orjson.dumps(entry))
    assert ctx.cache == "miss"
    assert ctx.cached_stream is None and ctx.response_body is None and ctx.usage is None
    await svc.aclose()


async def test_an_entry_that_cannot_be_converted_is_a_miss(tmp_path: Path) -> None:
    """A JSON entry whose body is no JSON, asked as a stream; a stream entry whose chunks are
    not JSON, asked as JSON. (Asked as stored, each is served as stored, unparsed.)"""
    svc = services(tmp_path)
    entries = [
        ({"kind": "json", "body": "not json", "usage": GOOD_USAGE}, True),
        ({"kind": "stream", "chunks": ["data: {not json\n\n"], "usage": GOOD_USAGE}, False),
    ]
    for entry, stream in entries:
        ctx = await lookup(svc, stream, orjson.dumps(entry))
        assert ctx.cache == "miss" and ctx.cached_stream is None and ctx.response_body is None
        assert ctx.usage is None
    await svc.aclose()


@pytest.mark.parametrize("stream", [False, True])
async def test_a_sound_entry_is_still_a_hit(tmp_path: Path, stream: bool) -> None:
    svc = services(tmp_path)
    body = {"id": "c", "object": "chat.completion", "created": 1, "model": "echo",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"},
                         "finish_reason": "stop"}]}  # fmt: skip
    entry = {"kind": "json", "body": orjson.dumps(body).decode(), "usage": GOOD_USAGE}
    ctx = await lookup(svc, stream, orjson.dumps(entry))
    assert ctx.cache == "hit"
    assert ctx.cached_stream if stream else ctx.response_body
    await svc.aclose()
