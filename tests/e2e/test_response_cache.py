"""The exact-match response cache end to end: JSON and streamed answers are stored off the
request path and replayed byte for byte, and hits are recorded at no cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import openai

from tests.conditions import wait_until
from tests.e2e.limits_setup import AUTH, KEY, write_setup
from tests.e2e.records import read_records
from tests.procs import Proc, start_gateway


def wait_for_cache_entry(url: str, body: dict[str, Any]) -> set[str]:
    """Wait until the gateway's cache holds an answer for `body` (it is stored off the request
    path); the ids of the probe requests, which look it up but store nothing."""
    probes: set[str] = set()

    def cached() -> bool:
        response = httpx.post(url, json=body, headers={**AUTH, "cache-control": "no-store"})
        probes.add(response.headers["x-request-id"])
        return response.headers["x-gateway-cache"] == "hit"

    wait_until(cached, 5, 0.02, "the answer was never stored")
    return probes


CACHE_POLICY = '[cache]\nmode = "exact"\nttl_s = 60\n'


# The suite's shared mock providers serve this test: it needs none of its own.
def test_cache_hits_json_and_streams(
    tmp_path: Path, mock_upstream: Proc, slow_upstream: Proc
) -> None:
    config = write_setup(tmp_path, CACHE_POLICY, mock_upstream, slow_upstream, None)[0]
    gateway = start_gateway(config)
    url = gateway.url + "/v1/chat/completions"
    body = {"model": "echo", "messages": [{"role": "user", "content": "cache me please"}]}
    try:
        first = httpx.post(url, json=body, headers=AUTH)
        second = httpx.post(url, json={**body, "user": "someone-else"}, headers=AUTH)
        assert (
            first.headers["x-gateway-cache"] == "miss"
            and second.headers["x-gateway-cache"] == "hit"
        )
        assert second.content == first.content
        bypass = httpx.post(url, json=body, headers={**AUTH, "cache-control": "no-cache"})
        assert bypass.headers["x-gateway-cache"] == "bypass"

        stream_body = {
            **body,
            "messages": [{"role": "user", "content": "stream me"}],
            "stream": True,
        }

        def stream_pieces() -> tuple[str, list[bytes]]:
            with httpx.stream("POST", url, json=stream_body, headers=AUTH) as response:
                return response.headers["x-gateway-cache"], list(response.iter_raw())

        miss, original = stream_pieces()
        probes = wait_for_cache_entry(url, {**stream_body, "stream": False})
        hit, replayed = stream_pieces()
        assert (miss, hit) == ("miss", "hit")
        assert b"".join(replayed) == b"".join(original)
        as_json = httpx.post(url, json={**stream_body, "stream": False}, headers=AUTH)
        assert as_json.headers["x-gateway-cache"] == "hit"
        assert as_json.json()["choices"][0]["message"]["content"] == "stream me"
    finally:
        gateway.stop()
    records = [r for r in read_records(tmp_path / "a.jsonl") if r["id"] not in probes]
    hits = [r for r in records if r["cache"] == "hit"]
    assert len(hits) == 3 and all(r["cost_usd"] == 0 and r["attempts"] == [] for r in hits)


def test_completions_are_cached_and_served_in_the_other_form(
    tmp_path: Path, mock_upstream: Proc, slow_upstream: Proc
) -> None:
    config = write_setup(tmp_path, CACHE_POLICY, mock_upstream, slow_upstream, None)[0]
    gateway = start_gateway(config)
    url = gateway.url + "/v1/completions"
    try:
        with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
            # A JSON answer, then the same request streamed: the stream is made from the entry.
            prompt = "cache this completion"
            first = client.completions.with_raw_response.create(model="echo", prompt=prompt)
            assert first.headers["x-gateway-cache"] == "miss"
            answer = first.parse()
            wait_for_cache_entry(url, {"model": "echo", "prompt": prompt})
            stream = client.completions.create(
                model="echo", prompt=prompt, stream=True, stream_options={"include_usage": True}
            )
            with stream:
                chunks = list(stream)
            assert stream.response.headers["x-gateway-cache"] == "hit"
            assert all(c.object == "text_completion" for c in chunks)
            assert "".join(c.choices[0].text for c in chunks if c.choices) == prompt
            assert answer.choices[0].text == prompt
            assert chunks[-1].choices == [] and chunks[-1].usage == answer.usage

            # A stream, then the same request as JSON: the answer is assembled from the chunks.
            other = "stream this completion"
            streamed = client.completions.create(model="echo", prompt=other, stream=True)
            with streamed:
                text = "".join(c.choices[0].text for c in streamed if c.choices)
            assert streamed.response.headers["x-gateway-cache"] == "miss" and text == other
            wait_for_cache_entry(url, {"model": "echo", "prompt": other})
            assembled = client.completions.with_raw_response.create(model="echo", prompt=other)
            assert assembled.headers["x-gateway-cache"] == "hit"
            parsed = assembled.parse()
            assert parsed.object == "text_completion" and parsed.choices[0].text == other
            assert parsed.choices[0].finish_reason == "stop"
            assert parsed.usage is not None and parsed.usage.completion_tokens > 0
    finally:
        gateway.stop()
