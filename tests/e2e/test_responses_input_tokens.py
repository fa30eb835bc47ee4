"""`POST /v1/responses/input_tokens` (the openai SDK's `responses.input_tokens.count`) through
the gateway: counted by a deployment with the Responses API (the mock provider, which refuses
what a count does not take, as OpenAI does: the gateway sends only what it takes), estimated by
the gateway for the others (chat completions only, Anthropic), marked so; recorded, free."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest
from openai.types.responses import FunctionToolParam, ResponseInputParam

from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_logged_gateway

KEY = "sk-responses-input-tokens"
TOOL: FunctionToolParam = {
    "type": "function",
    "name": "shell",
    "parameters": {"type": "object"},
    "strict": False,
}
INPUT: ResponseInputParam = [
    {"role": "user", "content": "List the files."},
    {"type": "function_call", "call_id": "c1", "name": "shell", "arguments": '{"cmd":"ls"}'},
    {"type": "function_call_output", "call_id": "c1", "output": "a.txt b.txt"},
]


def _config(upstream: str, log: Path) -> str:
    text = f'[logging]\npath = "{log}"\n\n'
    for name, kind, extra in (
        ("oai", "openai", 'base_url = "{u}/v1"\nresponses = true\n'),
        ("chat", "openai", 'base_url = "{u}/v1"\nresponses = false\n'),
        ("ant", "anthropic", 'base_url = "{u}"\n'),
    ):
        text += f'[[providers]]\nname = "{name}"\ntype = "{kind}"\n{extra.format(u=upstream)}\n'
    for model, provider in (("gpt", "oai"), ("chat-only", "chat"), ("claude", "ant")):
        text += f'[[models]]\nname = "{model}"\n[[models.deployments]]\n'
        text += f'provider = "{provider}"\nmodel = "mock-small"\n\n'
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"\n'


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("responses-input-tokens")
    proc = start_logged_gateway(root, lambda log: _config(mock_upstream.url, log))
    yield proc
    proc.stop()


@pytest.mark.parametrize("model", ["gpt", "chat-only", "claude"])
def test_a_count_is_the_upstreams_or_the_gateways_estimate(gateway: Proc, model: str) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        counting = sdk.responses.input_tokens.with_raw_response
        raw = counting.count(
            model=model,
            input=INPUT,
            instructions="Be brief.",
            tools=[TOOL],
            # What a client counting its whole request sends, which OpenAI's count refuses.
            extra_body={"stream": True, "store": False, "max_output_tokens": 64},
        )
        counted = raw.parse()
        assert counted.object == "response.input_tokens" and counted.input_tokens > 20
        estimated = raw.headers.get("x-gateway-token-count")
        assert estimated == (None if model == "gpt" else "estimate")
        shorter = sdk.responses.input_tokens.count(model=model, input="List the files.")
        assert 0 < shorter.input_tokens < counted.input_tokens
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, raw.headers["x-request-id"])
    assert record["endpoint"] == "/v1/responses/input_tokens" and record["status"] == 200
    assert record["prompt_tokens"] == 0 and record["cost_usd"] == 0


def test_what_the_request_could_not_send_is_refused(gateway: Proc) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.responses.input_tokens.count(
                model="chat-only", input=[{"type": "item_reference", "id": "msg_1"}]
            )
    assert refused.value.status_code == 400 and "item_reference" in refused.value.message
