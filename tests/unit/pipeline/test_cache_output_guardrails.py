"""Cached answers are shared only by policies that guard answers alike: an answer stored through
a policy without an output guardrail never reaches a key whose policy redacts answers (and the
other way round), while policies with the same output guardrails still share."""

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

# Every key is in team "t"; the policy of each key.
KEYS = {"plain": "plain", "redacting": "redacting", "also_redacting": "redacting_too"}
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
    f'\n[[keys]]\nid = "{name}"\npolicy = "{policy}"\nteam = "t"\n'
    f'key_sha256 = "{hashlib.sha256(name.encode()).hexdigest()}"\n'
    for name, policy in KEYS.items()
)
CACHE = '[cache]\nmode = "exact"\nttl_s = 60\n'
REDACT = (
    '[[guardrails]]\nname = "pii"\ntype = "pii"\napplies_to = "output"\naction = "redact"\n'
    'entities = ["EMAIL_ADDRESS"]\n'
)
BODY = {"model": "echo", "messages": [{"role": "user", "content": "who do I write to?"}]}
ANSWER = orjson.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "ann@example.com"},
                "finish_reason": "stop",
            }
        ],
    }
)


def services(tmp_path: Path, policies: dict[str, str]) -> Services:
    (tmp_path / "policies").mkdir()
    for name, text in policies.items():
        (tmp_path / "policies" / f"{name}.toml").write_text(text)
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


async def sharing(svc: Services, first: str) -> set[str]:
    """Who gets a hit after `first` stored its answer in an empty cache."""
    svc.state = type(svc.state)()
    ctx = await lookup(svc, first)
    assert ctx.cache == "miss"
    ctx.response_body, ctx.status = ANSWER, 200
    await store_answer(ctx, svc)
    return {other for other in KEYS if (await lookup(svc, other)).cache == "hit"}


async def test_answers_are_shared_only_by_policies_guarding_answers_alike(
    tmp_path: Path,
) -> None:
    policies = {"plain": CACHE, "redacting": CACHE + REDACT, "redacting_too": CACHE + REDACT}
    svc = services(tmp_path, policies)
    assert await sharing(svc, "plain") == {"plain"}
    assert await sharing(svc, "redacting") == {"redacting", "also_redacting"}
    assert await sharing(svc, "also_redacting") == {"redacting", "also_redacting"}
    await svc.aclose()


async def test_input_only_guardrails_do_not_split_the_cache(tmp_path: Path) -> None:
    """A guardrail that only reads requests leaves answers alike: policies still share."""
    on_input = REDACT.replace('"output"', '"input"')
    policies = {"plain": CACHE, "redacting": CACHE + on_input, "redacting_too": CACHE}
    svc = services(tmp_path, policies)
    assert await sharing(svc, "plain") == set(KEYS)
    await svc.aclose()
