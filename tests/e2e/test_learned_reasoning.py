"""A deployment of a reasoning model its operator did not mark `reasoning = true`: the openai
SDK's `max_tokens` is refused by the upstream in OpenAI's words (the mock provider's reasoning
models refuse it as OpenAI's do); the gateway asks again with `max_completion_tokens` in the
same attempt, and asks so at once from then on."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest

from tests.procs import Proc, start_gateway

KEY = "sk-learned-reasoning-test"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, mock_upstream: Proc) -> Iterator[Proc]:
    root = tmp_path_factory.mktemp("learned-reasoning")
    digest = hashlib.sha256(KEY.encode()).hexdigest()
    (root / "gateway.toml").write_text(
        f'[[providers]]\nname = "oai"\ntype = "openai"\nbase_url = "{mock_upstream.url}/v1"\n\n'
        '[[models]]\nname = "mini"\n[[models.deployments]]\nprovider = "oai"\n'
        'model = "o4-mini"\n\n'
        f'[[keys]]\nid = "k"\nkey_sha256 = "{digest}"\n'
    )
    proc = start_gateway(root / "gateway.toml")
    yield proc
    proc.stop()


def stats(mock_upstream: Proc) -> dict[str, Any]:
    return dict(httpx.get(mock_upstream.url + "/_mock/stats").json())


def test_max_tokens_refused_by_a_reasoning_model_is_asked_again_and_then_at_once(
    gateway: Proc, mock_upstream: Proc
) -> None:
    with openai.OpenAI(base_url=gateway.url + "/v1", api_key=KEY, max_retries=0) as client:
        before = stats(mock_upstream)["requests"]
        hi: Any = [{"role": "user", "content": "hi"}]
        answer = client.chat.completions.create(model="mini", messages=hi, max_tokens=50)
        assert answer.choices[0].message.content
        after = stats(mock_upstream)
        assert after["requests"] - before == 2  # refused, then asked as a reasoning model
        assert after["last_request"]["body"]["max_completion_tokens"] == 50
        assert "max_tokens" not in after["last_request"]["body"]
        client.chat.completions.create(model="mini", messages=hi, max_tokens=60)
        assert stats(mock_upstream)["requests"] - after["requests"] == 1  # learned
