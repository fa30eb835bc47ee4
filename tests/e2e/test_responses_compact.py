"""`POST /v1/responses/compact` (Codex's remote compaction, the openai SDK's
`responses.compact`) through the gateway: passed through to a deployment that speaks the
Responses API (the mock provider, which compacts as OpenAI does: `responses_reasoning`), the
compacted output then taken as a later request's input; a deployment without the Responses API
(chat completions only, Anthropic) refuses it with a 400 that says what to do; recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import cast

import openai
import pytest
from openai.types.responses import ResponseInputParam

from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_gateway

KEY = "sk-responses-compact"
HISTORY: ResponseInputParam = [
    {"role": "user", "content": "Write a haiku about the sea."},
    {"role": "assistant", "content": "Waves fold into foam."},
    {"role": "user", "content": "Now one about the mountains."},
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
        text += f'provider = "{provider}"\nmodel = "gpt-5.1-codex"\n\n'
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"\n'


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("responses-compact")
    log = root / "requests.jsonl"
    (root / "gateway.toml").write_text(_config(mock_upstream.url, log))
    proc = start_gateway(root / "gateway.toml")
    proc.log_path = log
    yield proc
    proc.stop()


def test_a_compaction_passes_through_and_continues_the_conversation(gateway: Proc) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        raw = sdk.responses.with_raw_response.compact(model="gpt", input=HISTORY)
        compacted = raw.parse()
        assert compacted.object == "response.compaction"
        *users, compaction = compacted.output
        assert [item.type for item in users] == ["message", "message"]
        assert compaction.type == "compaction" and compaction.encrypted_content
        assert gateway.log_path is not None
        record = wait_for_record(gateway.log_path, raw.headers["x-request-id"])
        assert record["status"] == 200 and record["prompt_tokens"] > 0
        assert record["deployment"] == "oai/gpt-5.1-codex"
        # The compacted window is the next request's input (the mock reads its own back).
        window = raw.http_response.json()["output"]  # as Codex keeps it: the JSON
        follow_up = cast(ResponseInputParam, [*window, {"role": "user", "content": "And rivers?"}])
        answer = sdk.responses.create(model="gpt", input=follow_up)
        assert answer.output_text


@pytest.mark.parametrize("model", ["chat-only", "claude"])
def test_a_deployment_without_the_responses_api_refuses_it(gateway: Proc, model: str) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        with pytest.raises(openai.BadRequestError) as refused:
            sdk.responses.compact(model=model, input=HISTORY)
    assert "needs one" in refused.value.message and "/v1/responses/compact" in refused.value.message
