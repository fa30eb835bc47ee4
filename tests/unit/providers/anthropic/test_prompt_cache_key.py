"""An Anthropic client's `metadata.user_id` (Claude Code's names its session) is the
`prompt_cache_key` of what goes to OpenAI's own API, chat completions or through the Responses
API; other OpenAI-compatible servers, which may refuse a field they do not know, never get one."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from gateway.config.provider_types import ProviderConfig
from gateway.config.types import DeploymentApi, DeploymentConfig
from gateway.providers import adapter_for

SESSION = "user_" + "ab" * 32 + "_account_0000_session_1111"
BODY = {
    "model": "m",
    "max_tokens": 10,
    "metadata": {"user_id": SESSION},
    "messages": [{"role": "user", "content": "hi"}],
}


def _sent(base_url: str, api: DeploymentApi) -> dict[str, object]:
    provider = ProviderConfig(name="p", type="openai", base_url=base_url, responses=True)
    deployment = DeploymentConfig(provider="p", model="gpt-5", api=api)
    adapter = adapter_for("messages", provider, None, BODY, api, "gpt-5")
    sent: dict[str, object] = orjson.loads(adapter.prepare(BODY, deployment, provider, "k").body)
    return sent


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_openais_api_gets_the_session_as_its_cache_key(api: DeploymentApi) -> None:
    sent = _sent("https://api.openai.com/v1", api)
    key = hashlib.sha256(SESSION.encode()).hexdigest()  # 64 characters at most, as `user`
    assert sent["prompt_cache_key"] == key and sent["user"] == key


@pytest.mark.parametrize("api", ["chat", "responses"])
def test_another_server_gets_no_cache_key(api: DeploymentApi) -> None:
    assert "prompt_cache_key" not in _sent("http://vllm.internal/v1", api)
