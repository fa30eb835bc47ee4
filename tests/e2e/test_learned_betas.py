"""Claude Code's betas on an Anthropic-compatible server that knows fewer of them (the real
gateway, the anthropic SDK, a server answering as Claude on Vertex behind a proxy does). Before,
every request of the session was the server's 400 "Unexpected value(s) ... for the
`anthropic-beta` header"; now the gateway asks again without the values named, and leaves them
out of that provider's requests from then on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import anthropic
import pytest

from tests.e2e.strict_betas_upstream import StrictBetas, running_strict_betas
from tests.procs import Proc, start_gateway

KEY = "sk-learned-betas"
CLAUDE_CODE_BETAS = [
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
    "prompt-caching-scope-2026-01-05",
    "advisor-tool-2026-03-01",
]


@pytest.fixture(scope="module")
def upstream() -> Iterator[StrictBetas]:
    with running_strict_betas() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: StrictBetas) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("learned-betas")
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    (root / "gateway.toml").write_text(
        f'[[providers]]\nname = "vertex-proxy"\ntype = "anthropic"\nbase_url = "{upstream.url}"\n\n'
        '[[models]]\nname = "sonnet"\n[[models.deployments]]\nprovider = "vertex-proxy"\n'
        f'model = "claude-sonnet-4-6"\n\n[[keys]]\nid = "k"\nkey_sha256 = "{digest}"\n'
    )
    proc = start_gateway(Path(root / "gateway.toml"))
    yield proc
    proc.stop()


def test_claude_codes_betas_the_server_refuses_are_left_out(
    gateway: Proc, upstream: StrictBetas
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
