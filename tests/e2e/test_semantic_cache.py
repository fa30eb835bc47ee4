"""The semantic cache end to end, with the openai and anthropic SDKs: a request worded alike
(another case, other punctuation: the mock's trigram embeddings put it at similarity 1) is
answered from the stored answer; another question, model or temperature is not; a dead
embedding model leaves the request answered normally (a miss)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import anthropic
import httpx
import openai

from tests.conditions import wait_until
from tests.e2e.records import read_records
from tests.procs import Proc, free_port, start_gateway

KEY, DEAD_KEY = "sk-semantic", "sk-semantic-dead"
QUESTION = "What is the capital of France?"


def _config(tmp_path: Path, upstream: Proc) -> Path:
    policies = tmp_path / "policies"
    policies.mkdir()
    for name, model in (("sem", "embed"), ("sem-dead", "dead-embed")):
        (policies / f"{name}.toml").write_text(
            f'[cache]\nmode = "semantic"\nembedding_model = "{model}"\nsimilarity = 0.95\n'
        )
    keys = "".join(
        f'[[keys]]\nid = "{policy}"\npolicy = "{policy}"\n'
        f'key_sha256 = "{hashlib.sha256(key.encode()).hexdigest()}"\n'
        for key, policy in ((KEY, "sem"), (DEAD_KEY, "sem-dead"))
    )
    models = "".join(
        f'[[models]]\nname = "{name}"\n[[models.deployments]]\nprovider = "{provider}"\n'
        f'model = "{model}"\ninput_cost_per_1m = 1000.0\n'
        for name, provider, model in (
            ("echo", "mock", "echo"),
            ("echo-2", "mock", "echo"),
            ("embed", "mock", "trigram-embed"),
            ("dead-embed", "dead", "trigram-embed"),
        )
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f'[logging]\npath = "{tmp_path / "log.jsonl"}"\n\n'
        f'[[providers]]\nname = "mock"\ntype = "openai"\nbase_url = "{upstream.url}/v1"\n'
        f'[[providers]]\nname = "dead"\ntype = "openai"\n'
        f'base_url = "http://127.0.0.1:{free_port()}/v1"\n\n{models}\n{keys}'
    )
    return path


def _ask(client: openai.OpenAI, text: str, **extra: Any) -> tuple[str, str, str]:
    """(x-gateway-cache, the answer's text, x-request-id)."""
    params: dict[str, Any] = {"model": "echo", **extra}
    raw = client.chat.completions.with_raw_response.create(
        messages=[{"role": "user", "content": text}], **params
    )
    answer = raw.parse().choices[0].message.content or ""
    return raw.headers["x-gateway-cache"], answer, raw.headers["x-request-id"]


def _stored(url: str, key: str, text: str) -> None:
    """Wait until the answer to a request of `text` is found (it is stored off the request
    path): probes store nothing."""
    body = {"model": "echo", "messages": [{"role": "user", "content": text}]}
    headers = {"authorization": f"Bearer {key}", "cache-control": "no-store"}

    def hit() -> bool:
        response = httpx.post(url + "/v1/chat/completions", json=body, headers=headers)
        return response.headers["x-gateway-cache"] == "hit"

    wait_until(hit, 5, 0.02, "the answer was never stored")


def test_a_request_worded_alike_is_a_hit_and_others_are_misses(
    tmp_path: Path, mock_upstream: Proc
) -> None:
    gateway = start_gateway(_config(tmp_path, mock_upstream))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        try:
            assert _ask(client, QUESTION)[:2] == ("miss", QUESTION)
            _stored(gateway.url, KEY, QUESTION.upper())  # a semantic hit: stored and indexed
            cache, answer, hit_id = _ask(client, "what is the capital of france")
            assert (cache, answer) == ("hit", QUESTION)  # the stored answer, not a new echo
            stream = client.chat.completions.create(
                model="echo",
                messages=[{"role": "user", "content": "WHAT is the capital of France!"}],
                stream=True,
            )
            assert (
                "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == QUESTION
            )
            other = "How do I bake sourdough bread at home?"
            assert _ask(client, other)[:2] == ("miss", other)
            assert _ask(client, "what is the capital of france", temperature=0.5)[0] == "miss"
            assert _ask(client, "what is the capital of france", model="echo-2")[0] == "miss"
        finally:
            client.close()
            gateway.stop()
        records = read_records(tmp_path / "log.jsonl")
        hit = next(r for r in records if r["id"] == hit_id)
        assert hit["cache"] == "hit" and hit["cache_similarity"] >= 0.95
        assert (
            hit["cache_embedding_tokens"] > 0 and hit["cost_usd"] == hit["cache_embedding_cost_usd"]
        )
        assert hit["cost_usd"] > 0 and hit["attempts"] == []


def test_a_dead_embedding_model_is_a_miss_never_an_error(
    tmp_path: Path, mock_upstream: Proc
) -> None:
    gateway = start_gateway(_config(tmp_path, mock_upstream))
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=DEAD_KEY, max_retries=0) as client:
        try:
            assert _ask(client, QUESTION)[:2] == ("miss", QUESTION)
            _stored(gateway.url, DEAD_KEY, QUESTION)  # the exact cache still works
            assert _ask(client, "what is the capital of france")[:2] == (
                "miss",
                "what is the capital of france",
            )
            metrics = httpx.get(gateway.url + "/metrics").text
        finally:
            client.close()
            gateway.stop()
        assert 'gateway_cache_events_total{result="embedding_error"}' in metrics


def test_messages_worded_alike_are_a_hit_json_and_stream(
    tmp_path: Path, mock_upstream: Proc
) -> None:
    gateway = start_gateway(_config(tmp_path, mock_upstream))
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:
        system = "Answer in one word."

        def ask(text: str, store: bool = True) -> tuple[str, str]:
            raw = claude.messages.with_raw_response.create(
                model="echo",
                max_tokens=50,
                system=system,
                messages=[{"role": "user", "content": text}],
                extra_headers={} if store else {"cache-control": "no-store"},
            )
            block = raw.parse().content[0]
            assert block.type == "text"
            return raw.headers["x-gateway-cache"], block.text

        try:
            assert ask(QUESTION) == ("miss", QUESTION)
            # Probes store nothing: the answer found is the first one's.
            wait_until(lambda: ask(QUESTION.upper(), False)[0] == "hit", 5, 0.02, "never stored")
            assert ask("what is the capital of france") == ("hit", QUESTION)
            with claude.messages.stream(
                model="echo",
                max_tokens=50,
                system=system,
                messages=[{"role": "user", "content": "What is the capital of France"}],
            ) as stream:
                assert "".join(stream.text_stream) == QUESTION
            assert ask("How do I bake sourdough bread at home?")[0] == "miss"
        finally:
            claude.close()
            gateway.stop()
