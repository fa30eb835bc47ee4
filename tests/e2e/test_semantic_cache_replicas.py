"""The semantic cache across replicas on one Redis: an answer one gateway stored is found by
another for a request worded alike (the processes share their vectors through the state); with
the memory state each process finds only its own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from tests.conditions import wait_until
from tests.e2e.records import read_records
from tests.e2e.test_semantic_cache import KEY, QUESTION, _ask, _config
from tests.procs import Proc, start_gateways
from tests.redis_server import RedisServer, start_redis_or_skip


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    server = start_redis_or_skip()
    yield server
    server.stop()


def _replica_configs(tmp_path: Path, upstream: Proc, redis_url: str | None) -> list[Path]:
    configs = []
    for name in ("a", "b"):
        root = tmp_path / name
        root.mkdir()
        config = _config(root, upstream)
        if redis_url is not None:
            config.write_text(
                config.read_text() + f'\n[state]\nbackend = "redis"\nredis_url = "{redis_url}"\n'
            )
        configs.append(config)
    return configs


def _hit_on(url: str, text: str) -> bool:
    """Whether a request of `text` is a cache hit at `url` (a probe: it stores nothing)."""
    body = {"model": "echo", "messages": [{"role": "user", "content": text}]}
    headers = {"authorization": f"Bearer {KEY}", "cache-control": "no-store"}
    response = httpx.post(url + "/v1/chat/completions", json=body, headers=headers)
    return response.headers["x-gateway-cache"] == "hit"


def test_an_answer_one_replica_stored_is_found_by_another_worded_alike(
    tmp_path: Path, mock_upstream: Proc, redis_server: RedisServer
) -> None:
    first, second = start_gateways(_replica_configs(tmp_path, mock_upstream, redis_server.url))
    try:
        with openai.OpenAI(base_url=first.url + "/v1", api_key=KEY, max_retries=0) as client:
            assert _ask(client, QUESTION)[:2] == ("miss", QUESTION)
        # Stored off the request path: the second replica finds it once it is there.
        wait_until(lambda: _hit_on(second.url, "what is the capital of france"), 5, 0.02)
        with openai.OpenAI(base_url=second.url + "/v1", api_key=KEY, max_retries=0) as client:
            cache, answer, hit_id = _ask(client, "WHAT is the capital of France!")
        assert (cache, answer) == ("hit", QUESTION)  # the first replica's answer, not an echo
    finally:
        first.stop()
        second.stop()
    hit = next(r for r in read_records(tmp_path / "b" / "log.jsonl") if r["id"] == hit_id)
    assert hit["cache"] == "hit" and hit["cache_similarity"] >= 0.95 and hit["attempts"] == []


def test_on_the_memory_state_each_process_finds_only_its_own(
    tmp_path: Path, mock_upstream: Proc
) -> None:
    first, second = start_gateways(_replica_configs(tmp_path, mock_upstream, None))
    try:
        with openai.OpenAI(base_url=first.url + "/v1", api_key=KEY, max_retries=0) as client:
            assert _ask(client, QUESTION)[:2] == ("miss", QUESTION)
        wait_until(lambda: _hit_on(first.url, "what is the capital of france"), 5, 0.02)
        assert not _hit_on(second.url, "what is the capital of france")
    finally:
        first.stop()
        second.stop()
