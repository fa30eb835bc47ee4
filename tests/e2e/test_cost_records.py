"""What a request's record says it cost, against what the provider bills, from an Anthropic
upstream answering with its own prompt-cache counts (tests/e2e/raw_upstream.py), through the
real SDKs: cache reads at 0.1 x input, writes to the 5-minute cache at 1.25 x, to the 1-hour
cache at 2 x, none of them inside Anthropic's `input_tokens`."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

import openai
import pytest

from tests.e2e.raw_upstream import RawUpstream, Reply
from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateway

KEY = "sk-cost-records-test"
# Claude Sonnet's prices (USD per 1M tokens); cache prices left to their defaults.
INPUT, OUTPUT = 3.0, 15.0
USAGE = {
    "input_tokens": 10,
    "cache_read_input_tokens": 1000,
    "cache_creation_input_tokens": 3000,
    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
    "output_tokens": 20,
}
# As Anthropic's invoice prices it.
BILLED = (10 * INPUT + 1000 * 0.3 + 1000 * 3.75 + 2000 * 6.0 + 20 * OUTPUT) / 1e6
MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5",
    "content": [{"type": "text", "text": "Hello"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": USAGE,
}


def _event(name: str, data: Mapping[str, object]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n".encode()


def _stream() -> bytes:
    start_usage = {**USAGE, "output_tokens": 1}
    started = {**MESSAGE, "content": [], "stop_reason": None, "usage": start_usage}
    block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text"}}
    delta = {"type": "text_delta", "text": "Hello"}
    end = {"stop_reason": "end_turn", "stop_sequence": None}
    return b"".join(
        [
            _event("message_start", {"type": "message_start", "message": started}),
            _event("content_block_start", {**block, "content_block": {"type": "text", "text": ""}}),
            _event(
                "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
            ),
            _event("content_block_stop", {"type": "content_block_stop", "index": 0}),
            _event("message_delta", {"type": "message_delta", "delta": end, "usage": USAGE}),
            _event("message_stop", {"type": "message_stop"}),
        ]
    )


REPLIES: dict[str, Reply | None] = {
    "cached": Reply(200, MESSAGE),
    "cached-stream": Reply(200, _stream(), content_type="text/event-stream"),
}


def _config(upstream: RawUpstream, log: Path) -> str:
    text = (
        f'[logging]\npath = "{log}"\n\n'
        f'[[providers]]\nname = "ant"\ntype = "anthropic"\nbase_url = "{upstream.url}"\n\n'
    )
    for name in REPLIES:
        text += f'[[models]]\nname = "{name}"\n[[models.deployments]]\nprovider = "ant"\n'
        text += f'model = "{name}"\ninput_cost_per_1m = {INPUT}\noutput_cost_per_1m = {OUTPUT}\n'
        text += "cached_input_cost_per_1m = 0.3\n\n"
    key_sha = hashlib.sha256(KEY.encode()).hexdigest()
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{key_sha}"\n'


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    upstream = RawUpstream(REPLIES)
    root = tmp_path_factory.mktemp("cost-records")
    log = root / "requests.jsonl"
    (root / "gateway.toml").write_text(_config(upstream, log))
    proc = start_gateway(root / "gateway.toml")
    proc.log_path = log
    yield proc
    proc.stop()
    upstream.close()


def _assert_billed(record: dict[str, object]) -> None:
    assert record["prompt_tokens"] == 4010 and record["completion_tokens"] == 20
    assert record["cached_tokens"] == 1000 and record["cache_write_tokens"] == 3000
    assert record["cache_write_1h_tokens"] == 2000
    assert record["cost_usd"] == pytest.approx(BILLED, abs=1e-10)


def test_an_openai_client_sees_every_prompt_token_and_the_record_prices_each_cache_rate(
    gateway: Proc,
) -> None:
    assert gateway.log_path is not None
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="cached", messages=[{"role": "user", "content": "hi"}]
        )
    usage = raw.parse().usage
    # OpenAI's prompt_tokens hold every prompt token, cached ones included, counted once.
    assert usage is not None and usage.prompt_tokens == 4010 and usage.total_tokens == 4030
    assert usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details.cached_tokens == 1000
    _assert_billed(wait_for_record(gateway.log_path, raw.headers["x-request-id"]))


def test_a_responses_stream_from_anthropic_prices_its_cache_writes(gateway: Proc) -> None:
    assert gateway.log_path is not None
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        with client.responses.with_streaming_response.create(
            model="cached-stream", input="hi", stream=True, store=False
        ) as raw:
            request_id = raw.headers["x-request-id"]
            events = list(raw.iter_lines())
    assert any("response.completed" in line for line in events)
    _assert_billed(wait_for_record(gateway.log_path, request_id))
