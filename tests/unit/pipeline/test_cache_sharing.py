"""Who shares a cached answer.

- With `per_team = true` the keys of one team; a key without a team with no other key (not
  with every team-less key, nor with `per_team = false` policies).
- Only policies that guard answers alike: an answer stored through a policy without an output
  guardrail never reaches a key whose policy redacts answers (and the other way round), while
  policies with the same output guardrails still share.
- Only requests sent with the same `anthropic-beta` header (it changes the answer).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from pathlib import Path

import orjson

from gateway.app import create_app
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline.cache import cache_lookup, store_answer
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate, parse_body, resolve_model

PROVIDER = """
[[providers]]
name = "m"
type = "mock"

[[models]]
name = "echo"
[[models.deployments]]
provider = "m"
model = "echo"
"""
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


def services(
    tmp_path: Path, keys: Mapping[str, tuple[str, str | None]], policies: dict[str, str]
) -> Services:
    """A gateway whose keys (each key's secret is its id) have the given (policy, team)."""
    (tmp_path / "policies").mkdir()
    for name, text in policies.items():
        (tmp_path / "policies" / f"{name}.toml").write_text(text)
    config = PROVIDER + "".join(
        f'\n[[keys]]\nid = "{name}"\npolicy = "{policy}"\n'
        + (f'team = "{team}"\n' if team else "")
        + f'key_sha256 = "{hashlib.sha256(name.encode()).hexdigest()}"\n'
        for name, (policy, team) in keys.items()
    )
    (tmp_path / "config.toml").write_text(config)
    app = create_app(
        load_config(tmp_path / "config.toml", env={}), recorder=MemorySink(), watch_config=False
    )
    result: Services = app.state.services
    return result


async def lookup(svc: Services, key: str, headers: dict[str, str] | None = None) -> RequestContext:
    ctx = RequestContext(
        Endpoint("/v1/chat/completions", "chat", "openai"),
        svc.runtime,
        "req_1",
        time.time(),
        time.monotonic(),
        {"authorization": f"Bearer {key}", **(headers or {})},
    )
    ctx.raw_body = orjson.dumps(BODY)
    for stage in (authenticate, parse_body, resolve_model, cache_lookup):
        await stage(ctx, svc)
    return ctx


async def sharing(
    svc: Services, first: str, others: list[str], headers: dict[str, str] | None = None
) -> set[str]:
    """Who of `others` gets a hit after `first` stored its answer in an empty cache."""
    svc.state = type(svc.state)()
    ctx = await lookup(svc, first, headers)
    assert ctx.cache == "miss"
    ctx.response_body, ctx.status = ANSWER, 200
    await store_answer(ctx, svc)
    return {other for other in others if (await lookup(svc, other)).cache == "hit"}


async def test_who_shares_an_answer(tmp_path: Path) -> None:
    teams = {"alice": None, "bob": None, "dave": "t", "erin": "t", "carol": None}
    keys = {name: ("shared" if name == "carol" else "own", team) for name, team in teams.items()}
    policies = {"own": CACHE, "shared": CACHE + "per_team = false\n"}
    svc = services(tmp_path, keys, policies)
    for first, team in teams.items():
        expected = {first} | ({k for k, t in teams.items() if t == team} if team else set())
        assert await sharing(svc, first, list(keys)) == expected, first
    await svc.aclose()


async def test_answers_are_shared_only_by_policies_guarding_answers_alike(
    tmp_path: Path,
) -> None:
    keys = {"plain": ("plain", "t"), "redacting": ("redacting", "t"), "also": ("also", "t")}
    policies = {"plain": CACHE, "redacting": CACHE + REDACT, "also": CACHE + REDACT}
    svc = services(tmp_path, keys, policies)
    assert await sharing(svc, "plain", list(keys)) == {"plain"}
    assert await sharing(svc, "redacting", list(keys)) == {"redacting", "also"}
    assert await sharing(svc, "also", list(keys)) == {"redacting", "also"}
    await svc.aclose()


async def test_input_only_guardrails_do_not_split_the_cache(tmp_path: Path) -> None:
    """A guardrail that only reads requests leaves answers alike: policies still share."""
    on_input = REDACT.replace('"output"', '"input"')
    keys = {"plain": ("plain", "t"), "reading": ("reading", "t")}
    svc = services(tmp_path, keys, {"plain": CACHE, "reading": CACHE + on_input})
    assert await sharing(svc, "plain", list(keys)) == set(keys)
    await svc.aclose()


async def test_an_anthropic_beta_header_keys_its_own_answer(tmp_path: Path) -> None:
    svc = services(tmp_path, {"k": ("own", None)}, {"own": CACHE})
    beta = {"anthropic-beta": "context-1m-2025-08-07"}
    assert await sharing(svc, "k", ["k"], beta) == set()
    ctx = await lookup(svc, "k", beta)
    assert ctx.cache == "hit"  # the same header again: the same answer
    await svc.aclose()
