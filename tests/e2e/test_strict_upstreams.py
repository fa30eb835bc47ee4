"""Strict servers behind the real gateway (`strict_upstream`), called with the real SDKs:

- Claude Code's betas on an Anthropic-compatible server that knows fewer of them (as Claude on
  Vertex behind a proxy answers): before, every request of the session was the server's 400
  "Unexpected value(s) ... for the `anthropic-beta` header";
- Codex 0.155's `client_metadata` and `access_programs` (and a `prompt_cache_key`) on a
  Responses server that refuses fields it does not know: before, every turn was its 400
  "unknown parameter `access_programs`".

Now the gateway asks again without what was refused, and leaves it out of that provider's
requests from then on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest

from tests.e2e.strict_upstream import RESPONSES_FIELDS, StrictUpstream, running_strict_upstream
from tests.procs import Proc, start_gateway

KEY = "sk-strict-upstreams"
CLAUDE_CODE_BETAS = [
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
    "prompt-caching-scope-2026-01-05",
    "advisor-tool-2026-03-01",
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[StrictUpstream]:
    with running_strict_upstream() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: StrictUpstream) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("strict-upstreams")
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    (root / "gateway.toml").write_text(
        f'[[providers]]\nname = "vertex-proxy"\ntype = "anthropic"\nbase_url = "{upstream.url}"\n\n'
        f'[[providers]]\nname = "proxy"\ntype = "openai"\nbase_url = "{upstream.url}/v1"\n'
        "responses = true\n\n"
        '[[models]]\nname = "sonnet"\n[[models.deployments]]\nprovider = "vertex-proxy"\n'
        'model = "claude-sonnet-4-6"\n\n'
        '[[models]]\nname = "open"\n[[models.deployments]]\nprovider = "proxy"\n'
        f'model = "open-model"\n\n[[keys]]\nid = "k"\nkey_sha256 = "{digest}"\n'
    )
    proc = start_gateway(Path(root / "gateway.toml"))
    yield proc
    proc.stop()


def test_claude_codes_betas_the_server_refuses_are_left_out(
    gateway: Proc, upstream: StrictUpstream
) -> None:
    with anthropic.Anthropic(base_url=gateway.url, api_key=KEY, max_retries=0) as claude:
        for _ in range(2):
            answer = claude.beta.messages.create(
                model="sonnet",
                max_tokens=50,
                betas=CLAUDE_CODE_BETAS,
                messages=[{"role": "user", "content": "Fix it."}],
            )
            assert answer.content[0].type == "text" and answer.content[0].text == "Fixed."
    kept = "claude-code-20250219,interleaved-thinking-2025-05-14"
    assert upstream.received == [",".join(CLAUDE_CODE_BETAS), kept, kept]


def test_codex_fields_the_server_refuses_are_left_out(
    gateway: Proc, upstream: StrictUpstream
) -> None:
    codex = {
        "client_metadata": {"x-codex-installation-id": "i-1"},
        "access_programs": {"cyber": "daybreak_blue"},
    }
    before = len(upstream.fields)
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        for _ in range(2):
            response = client.responses.create(
                model="open", input="Fix it.", prompt_cache_key="019a-session", extra_body=codex
            )
            assert response.output_text == "Fixed."
    extra = [[f for f in fields if f not in RESPONSES_FIELDS] for fields in upstream.fields]
    # One refused at a time, each left out of the next ask; the second turn asked once.
    assert extra[before] == ["access_programs", "client_metadata", "prompt_cache_key"]
    assert [len(fields) for fields in extra[before:]] == [3, 2, 1, 0, 0]
