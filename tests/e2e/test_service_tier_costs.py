"""What an answer served by a premium or discounted processing tier costs, in its record and
so in budgets (the real gateway, the mock provider over HTTP, which names the tier it served as
OpenAI and Claude do): OpenAI's Fast mode (`service_tier` `priority` or `fast`, Codex's
`/fast`), Flex and Ultrafast, on chat completions and the Responses API, JSON and streamed, and
Claude's fast mode (`speed: "fast"`). Before, every answer was priced at the standard tier."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import openai
import pytest

from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_logged_gateway

KEY = "sk-tier-costs-test"
HI: list[openai.types.chat.ChatCompletionMessageParam] = [{"role": "user", "content": "hi"}]


def _config(upstream: str, log: Path) -> str:
    text = f'[logging]\npath = "{log}"\n\n'
    text += f'[[providers]]\nname = "oai"\ntype = "openai"\nbase_url = "{upstream}/v1"\n'
    text += "responses = true\n\n"
    text += f'[[providers]]\nname = "ant"\ntype = "anthropic"\nbase_url = "{upstream}"\n\n'
    prices = "input_cost_per_1m = 10.0\noutput_cost_per_1m = 50.0\n"
    for name, provider, model, extra in (
        ("gpt", "oai", "mock-small", ""),
        ("astra", "oai", "gpt-6-astra", "[models.deployments.tier_costs]\nultrafast = 5.0\n"),
        ("opus", "ant", "claude-opus-5", ""),
    ):
        text += f'[[models]]\nname = "{name}"\n[[models.deployments]]\nprovider = "{provider}"\n'
        text += f'model = "{model}"\n{prices}{extra}\n'
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"\n'


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    proc = start_logged_gateway(
        tmp_path_factory.mktemp("tier-costs"), lambda log: _config(mock_upstream.url, log)
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def client(gateway: Proc) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        yield sdk


def record_of(gateway: Proc, request_id: str) -> dict[str, Any]:
    assert isinstance(gateway.log_path, Path)
    return wait_for_record(gateway.log_path, request_id)


def chat(client: openai.OpenAI, gateway: Proc, stream: bool, **asked: Any) -> dict[str, Any]:
    """The record of a chat request (`asked`: its `service_tier`, when any)."""
    with client.chat.completions.with_streaming_response.create(
        model="gpt",
        messages=HI,
        stream=stream,
        stream_options={"include_usage": True} if stream else openai.omit,
        **asked,
    ) as raw:
        request_id = raw.headers["x-request-id"]
        raw.read()
    return record_of(gateway, request_id)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(
    ("asked", "tier", "multiple"), [("fast", "priority", 2.0), ("flex", "flex", 0.5)]
)
def test_a_chat_answer_is_priced_at_the_tier_that_served_it(
    client: openai.OpenAI, gateway: Proc, stream: bool, asked: str, tier: str, multiple: float
) -> None:
    standard = chat(client, gateway, stream)
    served = chat(client, gateway, stream, service_tier=asked)
    assert standard["service_tier"] is None and served["service_tier"] == tier
    assert served["prompt_tokens"] == standard["prompt_tokens"] > 0
    assert served["cost_usd"] == pytest.approx(standard["cost_usd"] * multiple)


@pytest.mark.parametrize("stream", [False, True])
def test_a_responses_answer_at_a_deployments_own_ultrafast_price(
    client: openai.OpenAI, gateway: Proc, stream: bool
) -> None:
    ids = []
    for tier in (openai.omit, "ultrafast"):
        with client.responses.with_streaming_response.create(
            model="astra", input="hi", stream=stream, service_tier=tier
        ) as raw:
            ids.append(raw.headers["x-request-id"])
            raw.read()
    standard, served = (record_of(gateway, i) for i in ids)
    assert served["service_tier"] == "ultrafast"
    assert served["cost_usd"] == pytest.approx(standard["cost_usd"] * 5.0)


@pytest.mark.parametrize("stream", [False, True])
def test_claudes_fast_mode_is_priced_as_it(gateway: Proc, stream: bool) -> None:
    ids = []
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:
        for speed in (anthropic.omit, "fast"):
            with claude.messages.with_streaming_response.create(
                model="opus",
                max_tokens=50,
                messages=[{"role": "user", "content": "hi"}],
                stream=stream,
                speed=speed,
            ) as raw:
                ids.append(raw.headers["x-request-id"])
                raw.read()
    standard, served = (record_of(gateway, i) for i in ids)
    assert served["service_tier"] == "fast" and standard["service_tier"] is None
    assert served["cost_usd"] == pytest.approx(standard["cost_usd"] * 2.0)
