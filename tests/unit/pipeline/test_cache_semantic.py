"""The semantic cache stage with the in-process mock provider (its `trigram-embed` model puts
texts worded alike at similarity 1): who finds a stored answer, and what a failed embedding
call or a vanished entry leaves."""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from gateway.app import create_app
from gateway.cache.semantic_share import shared_entry
from gateway.cache.semantic_vector import unit
from gateway.config import load_config
from gateway.observability.recorder import MemorySink
from gateway.pipeline import semantic_cache
from gateway.pipeline.cache import cache_lookup, store_answer
from gateway.pipeline.context import Endpoint, RequestContext
from gateway.pipeline.services import Services
from gateway.pipeline.stages import authenticate, parse_body, resolve_model
from gateway.state import MemoryState, StateUnavailable
from gateway.state.base import SHARED_VECTORS_PAGE
from tests.conditions import eventually

PROVIDER = """
[[providers]]
name = "m"
type = "mock"
"""
MODELS = {
    "echo": "echo",
    "embed": "trigram-embed",
    "broken": "malformed",
    "hanging": "fail-timeout",
}
CHAT = Endpoint("/v1/chat/completions", "chat", "openai")
MESSAGES = Endpoint("/v1/messages", "messages", "anthropic")
ANSWER = orjson.dumps(
    {
        "id": "c",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Paris"},
                "finish_reason": "stop",
            }
        ],
    }
)


def services(tmp_path: Path, embedding_model: str | None, teams: dict[str, str]) -> Services:
    """Keys (each key's secret is its id) of the given teams, all with one semantic policy
    (an exact one when `embedding_model` is None)."""
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "sem.toml").write_text(
        f'[cache]\nmode = "semantic"\nembedding_model = "{embedding_model}"\n'
        if embedding_model
        else '[cache]\nmode = "exact"\n'
    )
    models = "".join(
        f'\n[[models]]\nname = "{name}"\n'
        f'[[models.deployments]]\nprovider = "m"\nmodel = "{model}"\n'
        for name, model in MODELS.items()
    )
    keys = "".join(
        f'\n[[keys]]\nid = "{name}"\npolicy = "sem"\nteam = "{team}"\n'
        f'key_sha256 = "{hashlib.sha256(name.encode()).hexdigest()}"\n'
        for name, team in teams.items()
    )
    (tmp_path / "config.toml").write_text(PROVIDER + models + keys)
    config = load_config(tmp_path / "config.toml", env={})
    app = create_app(config, recorder=MemorySink(), watch_config=False)
    result: Services = app.state.services
    return result


async def lookup(
    svc: Services, key: str, body: dict[str, Any], endpoint: Endpoint = CHAT
) -> RequestContext:
    headers = {"authorization": f"Bearer {key}"}
    ctx = RequestContext(endpoint, svc.runtime, "req", time.time(), time.monotonic(), headers)
    ctx.raw_body = orjson.dumps(body)
    for stage in (authenticate, parse_body, resolve_model, cache_lookup):
        await stage(ctx, svc)
    return ctx


def chat(text: str, **extra: object) -> dict[str, Any]:
    return {"model": "echo", "messages": [{"role": "user", "content": text}], **extra}


async def store(svc: Services, key: str, body: dict[str, Any], endpoint: Endpoint = CHAT) -> None:
    ctx = await lookup(svc, key, body, endpoint)
    assert ctx.cache == "miss" and ctx.semantic is not None and ctx.semantic.vector is not None
    ctx.response_body, ctx.status = ANSWER, 200
    await store_answer(ctx, svc)


async def test_worded_alike_is_a_hit_within_the_team_only(tmp_path: Path) -> None:
    svc = services(tmp_path, "embed", {"ann": "t", "bob": "t", "eve": "other"})
    await store(svc, "ann", chat("What is the capital of France?"))
    hit = await lookup(svc, "bob", chat("what is the capital of france"))
    assert hit.cache == "hit" and hit.response_body == ANSWER
    assert hit.semantic is not None and hit.semantic.similarity is not None
    assert hit.semantic.similarity > 0.99 and hit.semantic.embedding_tokens > 0
    assert (await lookup(svc, "eve", chat("what is the capital of france"))).cache == "miss"
    assert (await lookup(svc, "bob", chat("what is the capital of france", n=2))).cache == "miss"
    await svc.aclose()


async def test_messages_requests_compare_their_system_and_texts(tmp_path: Path) -> None:
    svc = services(tmp_path, "embed", {"ann": "t"})
    body = {
        "model": "echo",
        "max_tokens": 10,
        "system": "Answer in one word.",
        "messages": [{"role": "user", "content": "Capital of France?"}],
    }
    await store(svc, "ann", body, MESSAGES)
    alike = {**body, "messages": [{"role": "user", "content": "capital of france"}]}
    assert (await lookup(svc, "ann", alike, MESSAGES)).cache == "hit"
    other_system = {**alike, "system": "Answer at length, with the history of the city."}
    assert (await lookup(svc, "ann", other_system, MESSAGES)).cache == "miss"
    await svc.aclose()


async def test_a_failed_embedding_call_is_a_miss_and_counted(tmp_path: Path) -> None:
    svc = services(tmp_path, "broken", {"ann": "t"})
    ctx = await lookup(svc, "ann", chat("What is the capital of France?"))
    assert ctx.cache == "miss" and ctx.error is None
    assert ctx.semantic is not None and ctx.semantic.vector is None
    assert (
        'gateway_cache_events_total{result="embedding_error"} 1.0' in svc.metrics.render().decode()
    )
    await svc.aclose()


async def test_a_vanished_entry_is_a_miss_and_its_vector_goes(tmp_path: Path) -> None:
    svc = services(tmp_path, "embed", {"ann": "t"})
    await store(svc, "ann", chat("What is the capital of France?"))
    assert len(svc.semantic_index) == 1
    svc.state = type(svc.state)()  # the entry expired or was evicted
    assert (await lookup(svc, "ann", chat("what is the capital of france"))).cache == "miss"
    assert len(svc.semantic_index) == 0
    await svc.aclose()


async def test_an_embedding_call_past_its_deadline_is_a_miss(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(semantic_cache, "EMBEDDING_TIMEOUT_S", 0.05)
    svc = services(tmp_path, "hanging", {"ann": "t"})
    ctx = await lookup(svc, "ann", chat("What is the capital of France?"))
    assert ctx.cache == "miss" and ctx.error is None
    assert ctx.semantic is not None and ctx.semantic.vector is None
    await svc.aclose()


async def test_failures_are_logged_at_most_once_per_10_s(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = services(tmp_path, "broken", {"ann": "t"})
    semantic_cache.failure_log.last = float("-inf")
    with caplog.at_level(logging.WARNING, "gateway.cache"):
        for text in ("one question", "another question"):
            assert (await lookup(svc, "ann", chat(text))).cache == "miss"
    logged = [r for r in caplog.records if "embedding call failed" in r.getMessage()]
    assert len(logged) == 1
    assert 'gateway_cache_events_total{result="embedding_error"} 2.0' in (
        svc.metrics.render().decode()
    )
    await svc.aclose()


async def test_an_exact_policy_embeds_nothing(tmp_path: Path) -> None:
    svc = services(tmp_path, None, {"ann": "t"})
    ctx = await lookup(svc, "ann", chat("What is the capital of France?"))
    assert ctx.cache == "miss" and ctx.semantic is None
    ctx.response_body, ctx.status = ANSWER, 200
    await store_answer(ctx, svc)
    assert (await lookup(svc, "ann", chat("what is the capital of france"))).cache == "miss"
    assert len(svc.semantic_index) == 0
    await svc.aclose()


async def test_other_endpoints_of_a_semantic_policy_are_cached_exactly(tmp_path: Path) -> None:
    svc = services(tmp_path, "embed", {"ann": "t"})
    endpoint = Endpoint("/v1/completions", "completions", "openai")
    ctx = await lookup(svc, "ann", {"model": "echo", "prompt": "Hello"}, endpoint)
    assert ctx.cache == "miss" and ctx.semantic is None
    await svc.aclose()


class _SharingDown(MemoryState):
    """A state whose shared vectors cannot be reached (the rest works)."""

    async def share_vector(self, entry: bytes, ttl_s: float) -> None:
        raise StateUnavailable("redis: no reply within 0.25 s", "timeout")

    async def read_shared_vectors(self, after: str | None) -> tuple[list[bytes], str | None]:
        raise StateUnavailable("redis: no reply within 0.25 s", "timeout")


async def test_shared_vectors_out_of_reach_are_counted_logged_and_the_index_serves_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    svc = services(tmp_path, "embed", {"ann": "t"})
    svc.state = _SharingDown()
    semantic_cache.sharing_log.last = float("-inf")
    with caplog.at_level(logging.WARNING, "gateway.cache"):
        await store(svc, "ann", chat("What is the capital of France?"))
        assert (await lookup(svc, "ann", chat("what is the capital of france"))).cache == "hit"
    rendered = svc.metrics.render().decode()
    assert 'gateway_state_errors_total{kind="timeout"} 3.0' in rendered  # share, two reads
    logged = [r.getMessage() for r in caplog.records if "shared with the other" in r.getMessage()]
    assert len(logged) == 1 and "no reply within 0.25 s" in logged[0]  # once a minute at most
    await svc.aclose()


class _SharedByOthers(MemoryState):
    """A state on which other processes shared `entries` (read a page at a time)."""

    def __init__(self, entries: list[bytes]) -> None:
        super().__init__()
        self.entries = entries
        self.reads = 0

    async def read_shared_vectors(self, after: str | None) -> tuple[list[bytes], str | None]:
        self.reads += 1
        start = int(after or 0)
        page = self.entries[start : start + SHARED_VECTORS_PAGE]
        return page, str(start + len(page))


async def test_a_process_that_starts_reads_every_shared_vector_in_the_background(
    tmp_path: Path,
) -> None:
    """One page on the lookup's path; the rest a page at a time behind it, so a replica that
    restarts finds the answers the others stored (not only those stored after it started)."""
    svc = services(tmp_path, "embed", {"ann": "t"})
    vector = unit([1.0, 2.0, 3.0])
    assert vector is not None
    count = 2 * SHARED_VECTORS_PAGE + 50
    state = svc.state = _SharedByOthers(
        [shared_entry("other", f"k{n}", vector) for n in range(count)]
    )
    await lookup(svc, "ann", chat("What is the capital of France?"))
    assert len(svc.semantic_index) >= SHARED_VECTORS_PAGE
    await eventually(lambda: _true(not svc.semantic_index.catching_up), 5)
    assert len(svc.semantic_index) == count
    assert state.reads == 3
    await lookup(svc, "ann", chat("What is the capital of Spain?"))
    assert state.reads == 4  # up to date: one read per lookup again
    await svc.aclose()


async def _true(value: bool) -> bool:
    return value
