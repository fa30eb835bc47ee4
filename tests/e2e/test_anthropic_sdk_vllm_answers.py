"""The anthropic SDK on `/v1/messages` served by a vLLM deployment, from an upstream that sends
vLLM's own bytes (tests/e2e/raw_upstream.py): which stop sequence ended the answer."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest
from anthropic.types import MessageParam

from tests.e2e.raw_upstream import RawUpstream, Reply
from tests.procs import Proc, start_gateway

KEY = "sk-vllm-answers-test"
MODEL = "Qwen/Qwen2.5-7B-Instruct"
MESSAGES: list[MessageParam] = [{"role": "user", "content": "Count to three, then ###"}]


def _choice(delta: dict[str, object], finish: str | None, matched: str | None) -> object:
    # vLLM names the stop string that matched in `stop_reason`, beside `finish_reason`.
    return {
        "index": 0,
        "delta": delta,
        "logprobs": None,
        "finish_reason": finish,
        "stop_reason": matched,
    }


def _chunk(choices: list[object], usage: object = None) -> bytes:
    chunk: dict[str, object] = {
        "id": "chatcmpl-5b1e0c5f",
        "object": "chat.completion.chunk",
        "created": 1765000000,
        "model": MODEL,
        "choices": choices,
    }
    if usage is not None:
        chunk["usage"] = usage
    return b"data: " + json.dumps(chunk).encode() + b"\n\n"


USAGE = {"prompt_tokens": 20, "total_tokens": 27, "completion_tokens": 7}
ANSWER = {
    "id": "chatcmpl-5b1e0c5f",
    "object": "chat.completion",
    "created": 1765000000,
    "model": MODEL,
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "reasoning_content": None,
                "content": "1, 2, 3",
                "tool_calls": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
            "stop_reason": "###",
        }
    ],
    "usage": {**USAGE, "prompt_tokens_details": None},
    "prompt_logprobs": None,
}
STREAM = b"".join(
    [
        _chunk([_choice({"role": "assistant", "content": ""}, None, None)]),
        _chunk([_choice({"content": "1, 2, 3"}, None, None)]),
        _chunk([_choice({"content": ""}, "stop", "###")]),
        _chunk([], USAGE),
        b"data: [DONE]\n\n",
    ]
)
REPLIES: dict[str, Reply | None] = {
    "vllm-json": Reply(200, ANSWER),
    "vllm-stream": Reply(200, STREAM, content_type="text/event-stream"),
}


def _config(upstream: RawUpstream, log: Path) -> str:
    text = (
        f'[logging]\npath = "{log}"\n\n'
        f'[[providers]]\nname = "vllm"\ntype = "openai"\nbase_url = "{upstream.url}/v1"\n\n'
    )
    for name in REPLIES:
        text += f'[[models]]\nname = "{name}"\n'
        text += f'[[models.deployments]]\nprovider = "vllm"\nmodel = "{name}"\n\n'
    key_sha = hashlib.sha256(KEY.encode()).hexdigest()
    return text + f'[[keys]]\nid = "k"\nkey_sha256 = "{key_sha}"\n'


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Proc]:
    upstream = RawUpstream(REPLIES)
    root = tmp_path_factory.mktemp("vllm-answers")
    (root / "gateway.toml").write_text(_config(upstream, root / "requests.jsonl"))
    proc = start_gateway(root / "gateway.toml")
    yield proc
    proc.stop()
    upstream.close()


@pytest.fixture()
def claude(gateway: Proc) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(
        base_url=gateway.url, api_key=KEY, max_retries=0, timeout=15
    ) as client:
        yield client


def test_a_json_answer_names_the_stop_sequence_vllm_matched(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="vllm-json", max_tokens=50, stop_sequences=["###"], messages=MESSAGES
    )
    assert message.content[0].type == "text" and message.content[0].text == "1, 2, 3"
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "###")


def test_a_stream_names_the_stop_sequence_vllm_matched(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="vllm-stream", max_tokens=50, stop_sequences=["###"], messages=MESSAGES
    ) as stream:
        message = stream.get_final_message()
    assert message.content[0].type == "text" and message.content[0].text == "1, 2, 3"
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "###")
    assert message.usage.output_tokens == 7
