"""A conversation's compaction through the gateway, with the openai SDK: `POST
/v1/responses/compact` (the SDK's `responses.compact`, Codex's remote compaction) and a
`/v1/responses` input ending with `compaction_trigger` (Codex's remote compaction v2, streamed).
Passed through to a deployment whose server compacts (the mock provider, which compacts as
OpenAI does: `responses_reasoning`, with `compaction = "upstream"`); made by the gateway for one
without the Responses API (chat completions only, Anthropic: `compaction`) and for a Responses
server that does not compact (the mock again, by default as vLLM or Ollama would be), the
model asked for a summary (the mock's `echo` model answers the request itself, so the summary
read back shows where it went); the compacted output then taken as a later request's input, by
that deployment or another; recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import openai
import pytest
from openai.types.responses import ResponseInputParam

from gateway.providers.responses.compaction import SUMMARY_HEADING, SUMMARY_REQUEST
from tests.e2e.records import wait_for_record
from tests.procs import Proc, start_logged_gateway

KEY = "sk-responses-compact"
HISTORY: ResponseInputParam = [
    {"role": "user", "content": "Write a haiku about the sea."},
    {"role": "assistant", "content": "Waves fold into foam."},
    {"role": "user", "content": "Now one about the mountains."},
]


def _config(upstream: str, log: Path) -> str:
    text = f'[logging]\npath = "{log}"\n\n'
    for name, kind, extra in (
        ("oai", "openai", 'base_url = "{u}/v1"\nresponses = true\ncompaction = "upstream"\n'),
        ("vr", "openai", 'base_url = "{u}/v1"\nresponses = true\n'),
        ("chat", "openai", 'base_url = "{u}/v1"\nresponses = false\n'),
        ("ant", "anthropic", 'base_url = "{u}"\n'),
    ):
        text += f'[[providers]]\nname = "{name}"\ntype = "{kind}"\n{extra.format(u=upstream)}\n'
    for model, provider, upstream_model in (
        ("gpt", "oai", "gpt-5.1-codex"),
        ("vllm", "vr", "echo"),
        ("chat-only", "chat", "echo"),
        ("claude", "ant", "echo"),
    ):
        text += f'[[models]]\nname = "{model}"\n[[models.deployments]]\n'
        text += f'provider = "{provider}"\nmodel = "{upstream_model}"\n\n'
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{hashlib.sha256(KEY.encode()).hexdigest()}"\n'


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("responses-compact")
    proc = start_logged_gateway(root, lambda log: _config(mock_upstream.url, log))
    yield proc
    proc.stop()


def _compacted(gateway: Proc, sdk: openai.OpenAI, model: str) -> tuple[Any, dict[str, Any]]:
    """The compacted window of HISTORY on `model` (as Codex keeps it: the JSON), checked for
    the user messages and the one `compaction` item, and the request's record."""
    raw = sdk.responses.with_raw_response.compact(model=model, input=HISTORY)
    compacted = raw.parse()
    assert compacted.object == "response.compaction"
    *users, compaction = compacted.output
    assert [item.type for item in users] == ["message", "message"]
    assert compaction.type == "compaction" and compaction.encrypted_content
    assert gateway.log_path is not None
    record = wait_for_record(gateway.log_path, raw.headers["x-request-id"])
    assert record["status"] == 200
    return raw.http_response.json()["output"], record


def test_a_compaction_passes_through_and_continues_the_conversation(gateway: Proc) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        window, record = _compacted(gateway, sdk, "gpt")
        assert record["prompt_tokens"] > 0 and record["deployment"] == "oai/gpt-5.1-codex"
        # The compacted window is the next request's input (the mock reads its own back).
        follow_up = cast(ResponseInputParam, [*window, {"role": "user", "content": "And rivers?"}])
        answer = sdk.responses.create(model="gpt", input=follow_up)
        assert answer.output_text


@pytest.mark.parametrize("model", ["chat-only", "claude", "vllm"])
def test_a_deployment_without_a_compaction_of_its_own_compacts_the_gateways_way(
    gateway: Proc, model: str
) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        window, record = _compacted(gateway, sdk, model)
        assert record["deployment"].endswith("/echo")
        # Read back (the echo model repeats the last user message: the summary's, which is
        # the request for it; to Claude, user messages in a row are one, its blocks joined).
        answer = sdk.responses.create(model=model, input=window).output_text
        assert SUMMARY_HEADING in answer and answer.endswith(SUMMARY_REQUEST)
        # And by a deployment with the Responses API, which would refuse state it did not make.
        follow_up = cast(ResponseInputParam, [*window, {"role": "user", "content": "And rivers?"}])
        assert sdk.responses.create(model="gpt", input=follow_up).output_text


@pytest.mark.parametrize("model", ["gpt", "chat-only", "claude", "vllm"])
def test_a_compaction_trigger_streams_exactly_one_compaction_item(
    gateway: Proc, model: str
) -> None:
    # What Codex's remote compaction v2 sends, and what it checks.
    triggered = cast(ResponseInputParam, [*HISTORY, {"type": "compaction_trigger"}])
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as sdk:
        with sdk.responses.stream(model=model, input=triggered) as stream:
            done = [e.item for e in stream if e.type == "response.output_item.done"]
            completed = stream.get_final_response()
        assert [item.type for item in done] == ["compaction"]
        assert completed.status == "completed" and completed.usage is not None
        assert [item.type for item in completed.output] == ["compaction"]
        # Codex keeps the user messages and the item; the next turn goes on from them.
        window = [*HISTORY[::2], done[0].model_dump(exclude_none=True)]
        later = sdk.responses.create(model=model, input=cast(ResponseInputParam, window))
        assert later.status == "completed" and later.output_text
